"""Health checks behind the status page: cheap, bounded, and never the reason it fails.

Invariants:
- Each check asks the real service (PostgreSQL, Redis, the worker heartbeat row, the storages
  API, the email backend) with a timeout, and turns any error into a state, never an
  exception: the page that shows them must answer while what they check is down.
- A result is reused for ``STATUS_CHECK_SECONDS``: from this process's memory first, then
  from the outage-tolerant cache (kernel/cache.py), so a page view costs no check most of the
  time and a Redis outage costs one bounded ping per process per period.
- No check sends an email or writes a file: email is "configured and reachable" at most.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import storages
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import Component, WorkerHeartbeat

logger = logging.getLogger("incidents.health")

OPERATIONAL = "operational"
DEGRADED = "degraded"
DOWN = "down"
STATE_ORDER = {OPERATIONAL: 0, DEGRADED: 1, DOWN: 2}
STATE_LABELS = {OPERATIONAL: "Operational", DEGRADED: "Degraded", DOWN: "Down"}

HEARTBEAT_NAME = "celery"
CACHE_KEY = "incidents:health"
# Each check's own bound; the storage check runs on a thread so a hanging backend is cut off.
CHECK_TIMEOUT_SECONDS = 1.0
# The heartbeat task runs every minute (config CELERY_BEAT_SCHEDULE); older than this = down.
HEARTBEAT_MAX_AGE = timedelta(minutes=5)

_memo_lock = threading.Lock()
_memo: tuple[float, dict] | None = None
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="health")


@dataclass(frozen=True)
class Check:
    """One service's answer: ``ok`` or not, and a short public reason (no hosts, no errors)."""

    ok: bool
    note: str = ""


def check_database(database=None) -> Check:
    """``database``: a connection (tests pass one to a server that is not there)."""
    database = database or connection
    try:
        with transaction.atomic(using=database.alias), database.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = %s", [int(CHECK_TIMEOUT_SECONDS * 1000)])
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        logger.warning("health: database check failed: %s", type(error).__name__)
        return Check(False, "The database does not answer.")
    return Check(True)


def check_redis() -> Check:
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=CHECK_TIMEOUT_SECONDS / 2,
            socket_timeout=CHECK_TIMEOUT_SECONDS / 2,
        )
        try:
            client.ping()
        finally:
            client.close()
    except redis.exceptions.RedisError as error:
        logger.warning("health: Redis check failed: %s", type(error).__name__)
        return Check(False, "The cache and job queue do not answer.")
    return Check(True)


def check_worker_heartbeat(now=None) -> Check:
    now = now or timezone.now()
    try:
        beat_at = (
            WorkerHeartbeat.objects.filter(name=HEARTBEAT_NAME)
            .values_list("beat_at", flat=True)
            .first()
        )
    except Exception as error:
        logger.warning("health: heartbeat read failed: %s", type(error).__name__)
        return Check(False, "No worker heartbeat could be read.")
    if beat_at is None or now - beat_at > HEARTBEAT_MAX_AGE:
        return Check(False, "No background worker has reported in the last few minutes.")
    return Check(True)


def _bounded(probe: Callable[[], object]) -> None:
    _pool.submit(probe).result(timeout=CHECK_TIMEOUT_SECONDS * 2)


def check_storage() -> Check:
    storage = storages["private"]
    try:
        # A lookup of a name that never exists: reaches the backend, reads and writes nothing.
        _bounded(lambda: storage.exists("health/status-check"))
    except FutureTimeout:
        logger.warning("health: storage check timed out")
        return Check(False, "File storage does not answer.")
    except Exception as error:
        logger.warning("health: storage check failed: %s", type(error).__name__)
        return Check(False, "File storage does not answer.")
    return Check(True)


def check_email() -> Check:
    try:
        backend = import_string(settings.EMAIL_BACKEND)
    except ImportError:
        return Check(False, "Email is not configured.")
    path = settings.EMAIL_BACKEND
    if path.startswith("postmarker.") and not getattr(settings, "POSTMARK_TOKEN", ""):
        return Check(False, "Email is not configured.")
    if path == "django.core.mail.backends.smtp.EmailBackend" and backend is not None:
        try:
            with socket.create_connection(
                (settings.EMAIL_HOST, settings.EMAIL_PORT), timeout=CHECK_TIMEOUT_SECONDS
            ):
                pass
        except OSError as error:
            logger.warning("health: SMTP server unreachable: %s", type(error).__name__)
            return Check(False, "The mail server does not answer.")
    return Check(True)


def checks_run(now=None, database=None) -> dict[str, Check]:
    """Every check, now, uncached."""
    return {
        "database": check_database(database),
        "redis": check_redis(),
        "heartbeat": check_worker_heartbeat(now),
        "storage": check_storage(),
        "email": check_email(),
    }


def component_states(checks: dict[str, Check]) -> dict[str, tuple[str, str]]:
    """Component -> (state, note) from the checks alone (incidents are added by selectors).

    The web keeps serving from PostgreSQL without Redis (degraded) but not without the
    database (down). Jobs wait in PostgreSQL while the broker is down (degraded); with no
    worker heartbeat nothing runs them (down).
    """
    database, redis, heartbeat = checks["database"], checks["redis"], checks["heartbeat"]
    states: dict[str, tuple[str, str]] = {}
    if not database.ok:
        states[Component.WEB] = (DOWN, database.note)
    elif not redis.ok:
        states[Component.WEB] = (DEGRADED, "Pages are served without the cache.")
    else:
        states[Component.WEB] = (OPERATIONAL, "")
    if not heartbeat.ok:
        states[Component.JOBS] = (DOWN, heartbeat.note)
    elif not redis.ok:
        states[Component.JOBS] = (DEGRADED, "Jobs are queued and will run once the queue is back.")
    else:
        states[Component.JOBS] = (OPERATIONAL, "")
    email = checks["email"]
    states[Component.EMAIL] = (OPERATIONAL, "") if email.ok else (DOWN, email.note)
    storage = checks["storage"]
    states[Component.STORAGE] = (OPERATIONAL, "") if storage.ok else (DOWN, storage.note)
    states[Component.DATABASE] = (OPERATIONAL, "") if database.ok else (DOWN, database.note)
    return states


def health_current() -> dict[str, tuple[str, str]]:
    """The component states from the checks, at most ``STATUS_CHECK_SECONDS`` old."""
    global _memo
    ttl = settings.STATUS_CHECK_SECONDS
    now = time.monotonic()
    with _memo_lock:
        if _memo is not None and now - _memo[0] < ttl:
            return _memo[1]
    states = cache.get(CACHE_KEY) if ttl else None
    if states is None:
        states = component_states(checks_run())
        if ttl:
            cache.set(CACHE_KEY, states, ttl)
    with _memo_lock:
        _memo = (now, states)
    return states


def health_forget() -> None:
    """Drop the remembered result (tests; after a change that must show at once)."""
    global _memo
    with _memo_lock:
        _memo = None
    cache.delete(CACHE_KEY)
