"""Guessing defence: growing delays, the hard lock at 100, per-address limits, and answers that
do not tell whether an account exists."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts import throttle
from accounts.models import User
from accounts.services import SIGN_IN_FAILED
from audit.tests.streams import events_since, stream_head
from conftest import PASSWORD, clear_test_cache_keys
from workspace.tests.signup_helpers import sign_up_emailed, token_in

pytestmark = pytest.mark.django_db

IP = "198.51.100.7"
OWNER = "owner@acme.example"
NOBODY = "nobody@nowhere.example"
_CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"|"X-CSRFToken": "[^"]+"')


def _fail(email: str, times: int = 1, ip: str = IP) -> None:
    for _ in range(times):
        throttle.sign_in_failure_record(email=email, ip=ip, factor=throttle.Factor.PASSWORD)


def _retry_after(email: str, ip: str = IP) -> int | None:
    try:
        throttle.sign_in_attempt_check(email=email, ip=ip)
    except throttle.Throttled as refused:
        return refused.retry_after_seconds
    return None


def _post_sign_in(email: str, password: str, ip: str = IP):
    return Client(HTTP_HOST="acme.localhost", REMOTE_ADDR=ip).post(
        "/accounts/sign-in/", {"email": email, "password": password}
    )


def _same_page(first, second, first_email: str, second_email: str) -> bool:
    def normal(response, email):
        return _CSRF.sub(b"", response.content).replace(email.encode(), b"EMAIL")

    return normal(first, first_email) == normal(second, second_email)


@pytest.mark.parametrize("email", [OWNER, NOBODY])
def test_delays_start_after_five_failures_and_double_each_time(email):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        _fail(email, 4)
        assert _retry_after(email) is None  # a few typos cost nothing
        waits = []
        for _ in range(6):
            _fail(email)
            waits.append(_retry_after(email))
            traveller.shift(timedelta(seconds=waits[-1]))  # wait it out exactly
            assert _retry_after(email) is None
        assert waits == [1, 2, 4, 8, 16, 32]


def test_delay_is_capped_at_fifteen_minutes():
    with time_machine.travel(timezone.now(), tick=False):
        _fail(NOBODY, 40)
        assert _retry_after(NOBODY) == throttle.MAX_DELAY_SECONDS == 15 * 60


def test_throttled_sign_in_is_a_429_with_a_clear_message_and_retry_after():
    for _ in range(5):
        assert _post_sign_in(OWNER, "wrong password again").status_code == 400
    # Even the right password is not tried while the account must wait.
    response = _post_sign_in(OWNER, PASSWORD)
    assert response.status_code == 429
    assert response["Retry-After"] == "1"
    assert throttle.SIGN_IN_THROTTLED_MESSAGE.encode() in response.content
    assert SIGN_IN_FAILED.encode() not in response.content
    assert "_auth_user_id" not in response.client.session


def test_throttled_answer_is_the_same_for_an_existing_and_an_unknown_email():
    # The clock stands still: on a loaded machine twelve password checks can outlast the
    # first delay (1 s), which would end the throttle this test is about.
    with time_machine.travel(timezone.now(), tick=False):
        for email in (OWNER, NOBODY):
            for _ in range(5):
                _post_sign_in(email, "wrong password again")
        existing = _post_sign_in(OWNER, "wrong password again")
        unknown = _post_sign_in(NOBODY, "wrong password again")
    assert existing.status_code == unknown.status_code == 429
    assert existing["Retry-After"] == unknown["Retry-After"]
    assert _same_page(existing, unknown, OWNER, NOBODY)


def test_failed_answer_is_the_same_for_an_existing_and_an_unknown_email():
    existing = _post_sign_in(OWNER, "wrong password again")
    unknown = _post_sign_in(NOBODY, "wrong password again")
    assert existing.status_code == unknown.status_code == 400
    assert _same_page(existing, unknown, OWNER, NOBODY)


def test_right_password_without_membership_counts_as_a_failure():
    # owner@globex has no membership in acme: a correct password there must not stand out
    # by leaving the delay schedule alone.
    for _ in range(5):
        _post_sign_in("owner@globex.example", PASSWORD)
    assert _retry_after("owner@globex.example") == 1
    assert User.objects.get(email="owner@globex.example").failed_sign_in_count == 5


def test_success_resets_the_account_count_but_not_the_address_count():
    _fail(OWNER, 4)
    response = _post_sign_in(OWNER, PASSWORD)
    assert response.status_code == 302
    assert User.objects.get(email=OWNER).failed_sign_in_count == 0
    _fail(OWNER, 4)
    assert _retry_after(OWNER) is None  # the count started again from zero


def test_account_is_locked_at_one_hundred_consecutive_failures(
    acme, member, django_capture_on_commit_callbacks
):
    acme_head, platform_head = stream_head(acme), stream_head("public")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _fail(OWNER, throttle.LOCK_AFTER_FAILURES - 1)
        traveller.shift(timedelta(hours=1))  # every delay has passed
        assert _retry_after(OWNER) is None
        assert User.objects.get(email=OWNER).locked_at is None
        with django_capture_on_commit_callbacks(execute=True), tenant_context(acme):
            _fail(OWNER)  # the hundredth, tried on acme's host
        traveller.shift(timedelta(days=30))
        assert _retry_after(OWNER) == throttle.LOCKED_RETRY_AFTER_SECONDS
    owner = member("acme", "owner")
    owner.refresh_from_db()
    assert owner.failed_sign_in_count == 100
    assert owner.locked_at is not None
    # Audited once in the platform stream and (the owner is a member) in acme's.
    for stream, head in ((acme, acme_head), ("public", platform_head)):
        locked = [e for e in events_since(stream, head) if e.event_name == "account.locked"]
        assert [(e.target_id, e.additional_data) for e in locked] == [
            (str(owner.pk), {"failures": 100, "factor": "password"})
        ]
    assert [m.subject for m in mail.outbox] == ["Your Shopsafe account is locked"]
    assert mail.outbox[0].to == [OWNER]
    assert "http://acme.localhost:8000/accounts/password-reset/" in mail.outbox[0].body


def test_locked_account_refuses_the_right_password_with_the_same_429(acme):
    _fail(OWNER, throttle.LOCK_AFTER_FAILURES)
    _fail(NOBODY, throttle.LOCK_AFTER_FAILURES)
    later = timezone.now() + timedelta(days=1)
    with time_machine.travel(later):
        locked = _post_sign_in(OWNER, PASSWORD, ip="203.0.113.50")
        unknown = _post_sign_in(NOBODY, PASSWORD, ip="203.0.113.51")
    assert locked.status_code == unknown.status_code == 429
    assert locked["Retry-After"] == unknown["Retry-After"] == str(15 * 60)
    assert throttle.SIGN_IN_THROTTLED_MESSAGE.encode() in locked.content
    assert _same_page(locked, unknown, OWNER, NOBODY)


def test_lock_lives_in_the_database_and_survives_losing_the_cache():
    _fail(OWNER, throttle.LOCK_AFTER_FAILURES)
    clear_test_cache_keys()  # as after a Redis restart without persistence
    assert _retry_after(OWNER) == throttle.LOCKED_RETRY_AFTER_SECONDS
    assert User.objects.get(email=OWNER).failed_sign_in_count == 100


def test_account_count_survives_losing_the_cache():
    _fail(OWNER, 7)
    clear_test_cache_keys()
    assert User.objects.get(email=OWNER).failed_sign_in_count == 7
    _fail(OWNER)
    assert _retry_after(OWNER) == 8  # the eighth failure's delay, not the first's


def test_many_failures_from_one_address_slow_that_address_down_for_every_email():
    with time_machine.travel(timezone.now(), tick=False):
        for index in range(throttle.IP_FAILURES_BEFORE_DELAY):
            _fail(f"guess{index}@example.com")
        assert _retry_after("fresh@example.com") == 1
        assert _retry_after("fresh@example.com", ip="203.0.113.99") is None


def test_an_ipv6_subscriber_is_one_address_whatever_its_interface_id():
    assert throttle.ip_bucket("2001:db8:1:2::1") == throttle.ip_bucket("2001:db8:1:2:ffff::9")
    assert throttle.ip_bucket("2001:db8:1:2::1") != throttle.ip_bucket("2001:db8:1:3::1")
    assert throttle.ip_bucket("") == "unknown"


def test_throttled_attempts_are_audited_at_most_once_a_minute(acme, member):
    head = stream_head(acme)
    _fail(OWNER, 10)
    for _ in range(3):
        _post_sign_in(OWNER, PASSWORD)
    throttled = [e for e in events_since(acme, head) if e.event_name == "auth.sign_in.throttled"]
    assert len(throttled) == 1
    assert throttled[0].outcome == "failure"
    assert throttled[0].target_id == str(member("acme", "owner").pk)
    assert throttled[0].additional_data == {"email": OWNER}
    assert throttled[0].remote_addr == IP


def test_throttled_attempt_for_a_non_member_names_no_target(acme):
    head = stream_head(acme)
    _fail("owner@globex.example", 10)
    _post_sign_in("owner@globex.example", PASSWORD)
    (event,) = [e for e in events_since(acme, head) if e.event_name == "auth.sign_in.throttled"]
    assert (event.target_type, event.target_id) == ("", "")


def test_failures_through_every_way_of_proving_identity_share_one_count(client_for):
    # Four wrong passwords at sign-in and one wrong current password on the change form.
    _fail(OWNER, 4)
    client = client_for("acme", "owner")
    response = client.post(
        "/accounts/password/change/",
        {
            "current_password": "not my password at all",
            "new_password": "a brand new passphrase",
            "new_password_confirm": "a brand new passphrase",
        },
        REMOTE_ADDR=IP,
    )
    assert response.status_code == 400
    assert _retry_after(OWNER) == 1


def test_adding_a_workspace_to_an_existing_account_is_throttled_like_sign_in():
    link = token_in(sign_up_emailed(email=OWNER, slug="mallory", ip=IP).body)
    client = Client(HTTP_HOST="localhost", REMOTE_ADDR=IP)
    client.get(f"/signup/confirm/{link}/")
    with time_machine.travel(timezone.now(), tick=False):
        _fail(OWNER, 5)
        response = client.post(
            "/signup/confirm/", {"slug": "mallory", "password": "guessing passwords here"}
        )
    assert response.status_code == 429
    assert response["Retry-After"] == "1"
    assert throttle.SIGN_IN_THROTTLED_MESSAGE.encode() in response.content
