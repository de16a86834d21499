"""Guessing defence shared by every way of proving identity (NIST SP 800-63B 5.2.2).

Every factor - password, TOTP, recovery code, emailed code - calls the same three functions,
so failures on one count against all of them::

    from accounts import throttle

    throttle.sign_in_attempt_check(email=email, ip=ip)  # first; raises throttle.Throttled
    if not secret_is_right:
        throttle.sign_in_failure_record(email=email, ip=ip, factor=throttle.Factor.TOTP)
        raise ...
    throttle.sign_in_success_record(email=email, ip=ip)  # once the whole sign-in succeeded

The view turns ``Throttled`` into a 429 showing ``error.message`` with a ``Retry-After`` of
``error.retry_after_seconds``. ``email`` is whatever the visitor typed (normalised here);
``ip`` is ``kernel.context.client_ip(request)``.

Rules:

* Per account, counted by normalised email whether or not an account exists: the first
  ``ACCOUNT_FAILURES_BEFORE_DELAY - 1`` consecutive failures cost nothing; from then on each
  failure makes the next attempt wait 1 s, 2 s, 4 s ... up to ``MAX_DELAY_SECONDS``. At
  ``LOCK_AFTER_FAILURES`` consecutive failures the account is locked: every attempt is refused,
  even with the right secret, until a password reset (``sign_in_lock_clear``). A success
  resets the count.
* Per client address (an IPv6 /64 counts as one address): ``IP_FAILURES_BEFORE_DELAY``
  failures within ``IP_WINDOW_SECONDS`` of quiet cost nothing, then delays grow the same way.
  A success does not reset it, so an attacker cannot clear it with an account of their own.
* A locked account and a delay give the same 429 and the same message, and an unknown email
  goes through exactly the same checks and counts, so neither the status, the body nor the
  timing says whether an account exists. Refused attempts never reach the password hasher.

Storage: an existing account's count and lock are on the User row (they survive a cache
loss); the delay windows, the per-address counts and unknown emails' counts live in the
"platform" cache (Redis; keys are HMACs, never emails or addresses in clear).

Call ``sign_in_failure_record`` outside any transaction that is about to roll back (for
example before raising a ValidationError inside ``transaction.atomic``), or the count is lost.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time

from django.core.cache import caches
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from audit.events import Event
from audit.models import Outcome
from audit.services import PLATFORM_STREAM, audit_event_record
from kernel.context import ActorKind

from . import memberships
from .models import User

logger = logging.getLogger("accounts.throttle")

ACCOUNT_FAILURES_BEFORE_DELAY = 5
IP_FAILURES_BEFORE_DELAY = 20
IP_WINDOW_SECONDS = 60 * 60
MAX_DELAY_SECONDS = 15 * 60
LOCK_AFTER_FAILURES = 100
# A locked account answers like the longest delay: "come back later".
LOCKED_RETRY_AFTER_SECONDS = MAX_DELAY_SECONDS
# How long an unknown email's failure count is remembered (an account's lasts until reset).
UNKNOWN_EMAIL_MEMORY_SECONDS = 90 * 24 * 60 * 60
# At most one "throttled" audit event per email and address in this many seconds, so a flood
# of refused requests cannot flood the audit stream.
THROTTLED_AUDIT_EVERY_SECONDS = 60

SIGN_IN_THROTTLED_MESSAGE = (
    "Too many sign-in attempts. Please wait a few minutes and try again. "
    "If you have forgotten your password, reset it."
)


class Factor:
    """What was being proved when a failure is recorded (kept in the audit data)."""

    PASSWORD = "password"  # noqa: S105 - the factor's name, not a secret
    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"
    EMAIL_CODE = "email_code"


class Throttled(Exception):
    """The attempt is refused before any secret is checked; answer 429 with ``message``."""

    def __init__(self, retry_after_seconds: int, message: str = SIGN_IN_THROTTLED_MESSAGE):
        super().__init__(message)
        self.retry_after_seconds = max(1, int(retry_after_seconds))
        self.message = message


def _cache():
    return caches["platform"]


def email_normalise(email: str) -> str:
    return (email or "").strip().lower()


def key_id(kind: str, value: str) -> str:
    """A cache-key part for an email or address: an HMAC, so Redis never holds them in clear
    and they cannot be recovered by trying a dictionary of emails without the secret key."""
    return salted_hmac(f"accounts.throttle.{kind}", value).hexdigest()[:40]


def ip_bucket(ip: str) -> str:
    """The address a limit counts: the IP itself, or its /64 for IPv6 (one subscriber)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class _Keys:
    def __init__(self, email: str, ip: str):
        email_id = key_id("email", email)
        ip_id = key_id("ip", ip_bucket(ip))
        self.account_until = f"signin:account-until:{email_id}"
        self.unknown_failures = f"signin:unknown-failures:{email_id}"
        self.ip_until = f"signin:ip-until:{ip_id}"
        self.ip_failures = f"signin:ip-failures:{ip_id}"
        self.throttled_audited = f"signin:throttled-audited:{email_id}:{ip_id}"


def delay_after(failures: int, free: int) -> int:
    """Seconds the next attempt must wait after ``failures`` (0 while under ``free``)."""
    if failures < free:
        return 0
    return min(2 ** min(failures - free, 30), MAX_DELAY_SECONDS)


def _incr(key: str, timeout: int) -> int:
    cache = _cache()
    cache.add(key, 0, timeout)
    try:
        value = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout)
        value = 1
    cache.touch(key, timeout)
    return int(value)


def _set_until(key: str, delay: int, now: float) -> None:
    if delay > 0:
        # The stored value decides (so tests can travel in time); the TTL only tidies up.
        _cache().set(key, now + delay, delay + 5)


def _member_of_current_workspace(email: str) -> User | None:
    """The user behind ``email`` if they are an active member of the workspace whose host this
    is, else None. Events in a workspace's stream name a target only in that case: the owner
    reading them must not learn whether an email has an account elsewhere."""
    return memberships.member_by_email_of_schema(email, connection.schema_name)


def sign_in_attempt_check(*, email: str, ip: str) -> None:
    """Raise ``Throttled`` if this email or address must wait, or the account is locked.

    Does the same work (one cache round trip, one indexed query) whether or not the email
    belongs to an account.
    """
    email = email_normalise(email)
    keys = _Keys(email, ip)
    now = time.time()
    cached = _cache().get_many([keys.account_until, keys.ip_until, keys.unknown_failures])
    account = User.objects.filter(email=email).values_list("locked_at", flat=True)
    row = list(account[:1])
    if row:
        locked = row[0] is not None
    else:
        locked = int(cached.get(keys.unknown_failures) or 0) >= LOCK_AFTER_FAILURES
    if locked:
        _refuse(email=email, keys=keys, retry_after=LOCKED_RETRY_AFTER_SECONDS)
    wait = max(
        float(cached.get(keys.account_until) or 0) - now,
        float(cached.get(keys.ip_until) or 0) - now,
        0.0,
    )
    if wait > 0:
        _refuse(email=email, keys=keys, retry_after=math.ceil(wait))


def _refuse(*, email: str, keys: _Keys, retry_after: int) -> None:
    if _cache().add(keys.throttled_audited, 1, THROTTLED_AUDIT_EVERY_SECONDS):
        with transaction.atomic():
            audit_event_record(
                event_type=Event.SIGN_IN_THROTTLED,
                outcome=Outcome.FAILURE,
                actor=None,
                actor_kind=ActorKind.ANONYMOUS,
                target=_member_of_current_workspace(email),
                data={"email": email[:254]},
            )
    raise Throttled(retry_after)


def sign_in_failure_record(*, email: str, ip: str, factor: str) -> None:
    """Count a wrong secret against the account (or unknown email) and the address.

    Opens the next delay window, and locks the account at ``LOCK_AFTER_FAILURES``: the lock is
    audited (platform stream, and this workspace's stream if the account is a member here)
    and the owner of the account is emailed, once.
    """
    email = email_normalise(email)
    keys = _Keys(email, ip)
    now = time.time()
    with transaction.atomic():
        user = (
            User.objects.select_for_update()
            .filter(email=email)
            .only("pk", "email", "full_name", "failed_sign_in_count", "locked_at")
            .first()
        )
        if user is not None:
            failures = user.failed_sign_in_count + 1
            newly_locked = failures >= LOCK_AFTER_FAILURES and user.locked_at is None
            changes: dict = {"failed_sign_in_count": F("failed_sign_in_count") + 1}
            if newly_locked:
                changes["locked_at"] = timezone.now()
            User.objects.filter(pk=user.pk).update(**changes)
            if newly_locked:
                _lock_record(user=user, factor=factor, failures=failures)
        else:
            failures = _incr(keys.unknown_failures, UNKNOWN_EMAIL_MEMORY_SECONDS)
    ip_failures = _incr(keys.ip_failures, IP_WINDOW_SECONDS)
    _set_until(keys.account_until, delay_after(failures, ACCOUNT_FAILURES_BEFORE_DELAY), now)
    _set_until(keys.ip_until, delay_after(ip_failures, IP_FAILURES_BEFORE_DELAY), now)


def _lock_record(*, user: User, factor: str, failures: int) -> None:
    from tenants.models import Tenant

    from .tasks import send_account_locked_email

    data = {"failures": failures, "factor": factor}
    logger.warning("account %s locked after %s failed sign-ins", user.pk, failures)
    audit_event_record(
        event_type=Event.ACCOUNT_LOCKED,
        stream=PLATFORM_STREAM,
        actor=None,
        actor_kind=ActorKind.SYSTEM,
        target=user,
        data=data,
    )
    if _member_of_current_workspace(user.email) is not None:
        audit_event_record(
            event_type=Event.ACCOUNT_LOCKED,
            actor=None,
            actor_kind=ActorKind.SYSTEM,
            target=user,
            data=data,
        )
    workspace_id = (
        Tenant.objects.filter(schema_name=connection.schema_name)
        .exclude(schema_name="public")
        .values_list("pk", flat=True)
        .first()
    )
    user_id = user.pk
    transaction.on_commit(
        lambda: send_account_locked_email.delay(user_id=user_id, workspace_id=workspace_id)
    )


def sign_in_success_record(*, email: str, ip: str) -> None:
    """The whole sign-in succeeded: the account's consecutive-failure count starts again.

    Does not lift a lock (only ``sign_in_lock_clear`` does) and leaves the address's count
    alone.
    """
    email = email_normalise(email)
    keys = _Keys(email, ip)
    User.objects.filter(email=email, failed_sign_in_count__gt=0).update(failed_sign_in_count=0)
    _cache().delete_many([keys.account_until, keys.unknown_failures])


def sign_in_lock_clear(*, user: User) -> None:
    """Unlock an account and forget its failures; only a successful password reset calls this.
    Runs in the caller's transaction; the cached windows are cleared once it commits."""
    User.objects.filter(pk=user.pk).update(failed_sign_in_count=0, locked_at=None)
    keys = _Keys(email_normalise(user.email), "")
    transaction.on_commit(lambda: _cache().delete_many([keys.account_until, keys.unknown_failures]))
