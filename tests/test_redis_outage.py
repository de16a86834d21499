"""With Redis stopped or hanging, pages keep working from PostgreSQL.

Finding (issue 13): with Redis stopped, 83 of 83 requests answered 500, because the host ->
workspace lookup read the cache first with no fallback. The caches now turn an unreachable
Redis into misses and no-ops (kernel/cache.py), log it once per outage, and pick Redis up again
by themselves; only the rate limiter's alias keeps raising, so a limit never fails open.

Each test runs a Redis of its own (tests/outages.py) and stops or freezes it mid-test.
"""

from __future__ import annotations

import logging

import pytest
from django.core.cache import caches
from django.test import Client

from kernel import outages
from tenants.selectors import tenant_for_hostname, tenant_host_cache_forget
from tests.outages import caches_at, throwaway_redis

pytestmark = pytest.mark.django_db

WORKSPACE_PAGES = ["/", "/companies/", "/quotes/", "/orders/", "/invoices/", "/files/"]
PUBLIC_PAGES = ["/", "/security/", "/signup/", "/find-workspaces/"]


@pytest.fixture
def redis_server(settings):
    # What pages do when a Redis read fails: the per-process host map (tenants/selectors.py)
    # would answer signed-in pages without reading Redis at all, so it is off here.
    settings.TENANT_HOST_LOCAL_SECONDS = 0
    with throwaway_redis() as server:
        caches_at(settings, server.url)
        outages.outages_forget()
        yield server
    outages.outages_forget()


def outage_warnings(caplog) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "kernel.outages" and record.levelno >= logging.WARNING
    ]


def test_workspace_pages_and_the_public_site_answer_200_with_redis_stopped_mid_test(
    redis_server, client_for, caplog
):
    member = client_for("acme", "owner")
    public = Client(HTTP_HOST="localhost")
    assert [member.get(path).status_code for path in WORKSPACE_PAGES] == [200] * 6
    assert [public.get(path).status_code for path in PUBLIC_PAGES] == [200] * 4

    redis_server.stop()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        statuses = [member.get(path).status_code for path in WORKSPACE_PAGES * 3]
        statuses += [public.get(path).status_code for path in PUBLIC_PAGES * 3]

    assert statuses == [200] * 30
    (warning,) = outage_warnings(caplog)  # one line for the whole outage, not one per request
    assert warning.exc_info is None  # and no traceback
    assert warning.getMessage().startswith("Redis cache unreachable")
    assert "unix://" in warning.getMessage()


def test_a_page_answers_from_postgresql_for_a_host_never_cached_while_redis_is_down(
    redis_server, client_for
):
    member = client_for("acme", "owner")
    redis_server.stop()

    response = member.get("/companies/")

    assert response.status_code == 200
    assert b"Acme Signs" in response.content


def test_pages_pick_redis_up_again_by_themselves_when_it_comes_back(
    redis_server, client_for, caplog
):
    member = client_for("acme", "owner")
    redis_server.stop()
    assert member.get("/").status_code == 200

    redis_server.start()
    outages.outages_retry_now()  # the next request probes at once instead of after a second
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert member.get("/").status_code == 200

    assert caches["lookups"].get("tenant-host:acme.localhost") is not None
    recovered = [r for r in caplog.records if r.name == "kernel.outages"]
    assert [r.levelno for r in recovered] == [logging.INFO]
    assert recovered[0].getMessage().startswith("Redis cache answers again")


def test_a_hanging_redis_costs_one_timeout_then_pages_stop_waiting_for_it(
    redis_server, client_for, caplog
):
    import time

    member = client_for("acme", "owner")
    assert member.get("/").status_code == 200
    redis_server.pause()
    try:
        started = time.monotonic()
        statuses = [member.get("/").status_code for _ in range(10)]
        elapsed = time.monotonic() - started
    finally:
        redis_server.resume()

    assert statuses == [200] * 10
    # A timeout (0.5 s) per probe, at most one probe a second; without the breaker every
    # request would wait for two (the lookup's read and write): ten seconds.
    assert elapsed < 5
    assert len(outage_warnings(caplog)) == 1


def test_an_invalidation_lost_while_redis_hangs_is_replayed_when_it_answers_again(
    redis_server, acme
):
    hostname = "acme.localhost"
    assert tenant_for_hostname(hostname) == acme  # cached now
    assert caches["lookups"].get(f"tenant-host:{hostname}") is not None
    redis_server.pause()
    try:
        tenant_host_cache_forget(hostname)  # say the workspace changed: the delete cannot land
    finally:
        redis_server.resume()
    outages.outages_retry_now()

    # The first operation after the outage replays the delete before anything reads.
    assert caches["lookups"].get(f"tenant-host:{hostname}") is None


def test_workers_and_beat_wait_for_the_broker_for_as_long_as_it_is_down():
    # Celery's default gives up after 100 attempts (about 45 minutes) and exits, which ends
    # every process of `make run` (config/devrun.py stops the rest when a child dies).
    from config.celery import app

    assert app.conf.broker_connection_max_retries is None
    assert app.conf.broker_connection_retry_on_startup is True
