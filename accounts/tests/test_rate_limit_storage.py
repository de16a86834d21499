"""Where the limiter counts: PostgreSQL rows keyed by HMACs, not the cache. The counts survive
a cache flush, keep counting and refusing with Redis unreachable, follow the real client
behind our proxies only, audit a refusal at most once a minute, and are purged once stale."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.cache import caches
from django.test import Client, RequestFactory
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts import services, throttle, views
from accounts.models import RateLimitCounter, SignUpRequest
from accounts.tasks import expired_rows_purge
from audit.tests.streams import events_since, stream_head
from conftest import PASSWORD, clear_test_cache_keys
from workspace.tests.signup_helpers import sign_up_emailed

pytestmark = pytest.mark.django_db

OWNER = "owner@acme.example"
NOBODY = "nobody@nowhere.example"
IP = "198.51.100.33"
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def _refused(call) -> int | None:
    """The Retry-After ``call`` is refused with, or None if it is let through."""
    try:
        call()
    except throttle.Throttled as refused:
        return refused.retry_after_seconds
    return None


def _find(email: str, ip: str = IP, **headers):
    return Client(HTTP_HOST="localhost", REMOTE_ADDR=ip, **headers).post(
        "/find-workspaces/", {"email": email}
    )


def _fail(email: str, times: int, ip: str = IP) -> None:
    for _ in range(times):
        throttle.sign_in_failure_record(email=email, ip=ip, factor=throttle.Factor.PASSWORD)


# --- Durable: rows in PostgreSQL, nothing in the cache


def test_counts_survive_a_cache_flush():
    with time_machine.travel(timezone.now(), tick=False):
        assert _find(OWNER).status_code == 302
        _fail(NOBODY, 5)  # an unknown email's count, which used to live in Redis
        _fail("someone@example.com", 20, ip="203.0.113.60")  # an address's count, likewise
        clear_test_cache_keys()  # as after a Redis restart without persistence
        assert _find(OWNER, ip="198.51.100.34").status_code == 429
        assert _refused(lambda: throttle.sign_in_attempt_check(email=NOBODY, ip="192.0.2.1")) == 1
        assert (
            _refused(lambda: throttle.sign_in_attempt_check(email="x@y.example", ip="203.0.113.60"))
            == 1
        )


def test_the_limiter_keeps_nothing_in_the_cache():
    clear_test_cache_keys()
    _find(OWNER)
    _fail(NOBODY, 6)
    Client(HTTP_HOST="acme.localhost", REMOTE_ADDR=IP).post(
        "/accounts/password-reset/", {"email": OWNER}
    )
    for alias in caches.settings:
        backend = caches[alias]
        client = backend._cache.get_client(None, write=False)
        keys = [key.decode() for key in client.scan_iter(match=f"*{backend.key_prefix}*")]
        assert [key for key in keys if "tenant-host:" not in key] == []


def test_counters_are_keyed_by_hmacs_never_by_an_email_or_an_address_in_clear():
    _find(OWNER)
    _fail(OWNER, 1)
    rows = list(RateLimitCounter.objects.values_list("rule", "key"))
    assert sorted(rows) == sorted(
        [
            ("find_workspaces.ip", throttle.subject_key(throttle.Per.IP, IP)),
            ("find_workspaces.email", throttle.subject_key(throttle.Per.EMAIL, OWNER)),
            ("sign_in.account", throttle.subject_key(throttle.Per.EMAIL, OWNER)),
            ("sign_in.ip", throttle.subject_key(throttle.Per.IP, IP)),
        ]
    )
    for _, key in rows:
        assert OWNER not in key
        assert IP not in key
        assert len(key) == 40


# --- Redis down: sign-in limiting never fails open


@pytest.fixture
def redis_down(settings):
    """Every cache pointed at a port where no Redis listens (whatever backend the settings
    use, so a cache that falls back silently is tested as it is configured)."""
    settings.CACHES = {
        alias: {**config, "LOCATION": DEAD_REDIS} for alias, config in settings.CACHES.items()
    }


def _sign_in_page(acme, email: str, password: str, ip: str = IP):
    """The sign-in view itself on acme's host, without the middleware in front of it."""
    request = RequestFactory().post(
        "/accounts/sign-in/",
        {"email": email, "password": password},
        HTTP_HOST="acme.localhost",
        REMOTE_ADDR=ip,
    )
    SessionMiddleware(lambda _: None).process_request(request)
    MessageMiddleware(lambda _: None).process_request(request)
    request.user = AnonymousUser()
    request.tenant = acme
    with tenant_context(acme):
        return views.sign_in(request)


def test_with_redis_down_sign_in_still_counts_failures_and_refuses(acme, redis_down):
    with time_machine.travel(timezone.now(), tick=False):
        statuses = [
            _sign_in_page(acme, OWNER, "wrong password again").status_code for _ in range(5)
        ]
        refused = _sign_in_page(acme, OWNER, PASSWORD)  # even the right password must wait
    assert statuses == [400] * 5
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"
    assert throttle.SIGN_IN_THROTTLED_MESSAGE.encode() in refused.content
    assert b'<form method="post"' in refused.content


def test_with_redis_down_sign_in_through_the_whole_stack_is_limited_not_refused_or_open(
    acme, redis_down
):
    # The host lookup falls back to PostgreSQL (kernel.cache) and the limiter counts there, so
    # a visitor gets the sign-in page's own answers: never a 503, never an unlimited try.
    client = Client(HTTP_HOST="acme.localhost", REMOTE_ADDR=IP)
    with time_machine.travel(timezone.now(), tick=False):
        statuses = [
            client.post(
                "/accounts/sign-in/", {"email": OWNER, "password": "wrong password again"}
            ).status_code
            for _ in range(5)
        ]
        refused = client.post("/accounts/sign-in/", {"email": OWNER, "password": PASSWORD})
    assert statuses == [400] * 5
    assert refused.status_code == 429
    assert throttle.SIGN_IN_THROTTLED_MESSAGE.encode() in refused.content


def test_with_redis_down_an_address_is_still_slowed_down_and_find_my_workspaces_limited(
    redis_down,
):
    with time_machine.travel(timezone.now(), tick=False):
        _fail("someone@example.com", throttle.IP_FAILURES_BEFORE_DELAY, ip="203.0.113.61")
        assert (
            _refused(lambda: throttle.sign_in_attempt_check(email=NOBODY, ip="203.0.113.61")) == 1
        )
        services.workspace_list_request(email=OWNER, ip=IP)
        assert _refused(lambda: services.workspace_list_request(email=OWNER, ip="192.0.2.9"))


# --- The client's address, behind our own proxies


def test_behind_one_trusted_proxy_the_spoofed_part_of_x_forwarded_for_is_ignored(settings):
    settings.AUDIT_TRUSTED_PROXY_COUNT = 1
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "find_workspaces.ip": (2, 60 * 60)}
    statuses = [
        _find(
            f"person{n}@example.com",
            ip="10.0.0.1",  # our load balancer
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.5",  # "192.0.2.n" is typed by the client
        ).status_code
        for n in range(3)
    ]
    assert statuses == [302, 302, 429]
    other_client = _find(
        "person9@example.com", ip="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.6"
    )
    assert other_client.status_code == 302


def test_without_trusted_proxies_x_forwarded_for_is_not_read_at_all(settings):
    settings.AUDIT_TRUSTED_PROXY_COUNT = 0
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "find_workspaces.ip": (2, 60 * 60)}
    statuses = [
        _find(f"person{n}@example.com", ip=IP, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(3)
    ]
    assert statuses == [302, 302, 429]


# --- Audit


def test_refusals_are_audited_at_most_once_a_minute_per_counter():
    head = stream_head("public")
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        _find(OWNER)
        for n in range(3):
            assert _find(OWNER, ip=f"192.0.2.{n + 1}").status_code == 429
        traveller.shift(timedelta(seconds=throttle.THROTTLED_AUDIT_EVERY_SECONDS + 1))
        assert _find(OWNER, ip="192.0.2.9").status_code == 429
    refusals = [e for e in events_since("public", head) if e.event_name == "auth.request.throttled"]
    assert [(e.outcome, e.additional_data) for e in refusals] == [
        ("failure", {"email": OWNER, "limit": "find_workspaces"})
    ] * 2
    assert [e.remote_addr for e in refusals] == ["192.0.2.1", "192.0.2.9"]


# --- Purge


def test_the_hourly_purge_deletes_only_counters_and_sign_ups_long_expired():
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        _find(OWNER)  # two counters, for about an hour
        sign_up_emailed(email="old@sign.example", slug="old-shop")  # two more, and a link
        traveller.shift(timedelta(days=3))
        _find("fresh@example.com", ip="192.0.2.50")
        sign_up_emailed(email="fresh@sign.example", slug="fresh-shop", ip="192.0.2.51")
        assert expired_rows_purge() == {"counters": 4, "sign_up_requests": 1}
    assert sorted(RateLimitCounter.objects.values_list("rule", flat=True)) == [
        "find_workspaces.email",
        "find_workspaces.ip",
        "sign_up.email",
        "sign_up.ip",
    ]
    assert list(SignUpRequest.objects.values_list("email", flat=True)) == ["fresh@sign.example"]
