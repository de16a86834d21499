"""Guessing defence shared by every way of proving identity (NIST SP 800-63B 5.2.2).

Every factor - password, TOTP, recovery code, emailed code - calls the same three functions,
so failures on one count against all of them::

    from accounts import throttle

    throttle.sign_in_attempt_check(email=email, ip=ip)  # first; raises throttle.Throttled
    if not secret_is_right:
        throttle.sign_in_failure_record(email=email, ip=ip, factor=throttle.Factor.TOTP)
        raise ...
    throttle.sign_in_success_record(email=email, ip=ip)  # once the whole sign-in succeeded

The view turns ``Throttled`` into a 429 (``throttle.refusal_page``). ``email`` is whatever
the visitor typed (normalised here); ``ip`` is ``kernel.context.client_ip(request)``.

Rules (the two ``Backoff`` rules of ``SIGN_IN``; ``settings.RATE_LIMITS`` may change them):

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

Storage: an existing account's count and lock are on the User row; the delay windows, the
per-address counts and unknown emails' counts are limiter counters (``RateLimitCounter``, in
PostgreSQL, keyed by HMACs). Nothing is in the cache, so a Redis outage neither opens nor
resets the defence.

Call ``sign_in_failure_record`` outside any transaction that is about to roll back (for
example before raising a ValidationError inside ``transaction.atomic``), or the count is lost.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.events import Event
from audit.models import Outcome
from audit.services import PLATFORM_STREAM, audit_event_record
from kernel.context import ActorKind
from kernel.tenant_connection import tenant_connection

from .. import memberships
from ..models import RateLimitCounter, User
from .limiter import THROTTLED_AUDIT_EVERY_SECONDS, Throttled, rows_locked, rows_read, rule_now
from .limiter import key_id as key_id
from .rules import (
    MAX_DELAY_SECONDS,
    Backoff,
    Limit,
    Per,
    delay_after,
    email_normalise,
    ip_bucket,
)

logger = logging.getLogger("accounts.throttle")

ACCOUNT_FAILURES_BEFORE_DELAY = 5
IP_FAILURES_BEFORE_DELAY = 20
IP_WINDOW_SECONDS = 60 * 60
LOCK_AFTER_FAILURES = 100
# A locked account answers like the longest delay: "come back later".
LOCKED_RETRY_AFTER_SECONDS = MAX_DELAY_SECONDS
# How long an unknown email's failure count is remembered (an account's lasts until reset).
UNKNOWN_EMAIL_MEMORY_SECONDS = 90 * 24 * 60 * 60

SIGN_IN_THROTTLED_MESSAGE = (
    "Too many sign-in attempts. Please wait a few minutes and try again. "
    "If you have forgotten your password, reset it."
)

_ACCOUNT_RULE = Backoff(
    Per.EMAIL,
    free=ACCOUNT_FAILURES_BEFORE_DELAY,
    quiet_seconds=UNKNOWN_EMAIL_MEMORY_SECONDS,
    name="sign_in.account",
)
_IP_RULE = Backoff(
    Per.IP, free=IP_FAILURES_BEFORE_DELAY, quiet_seconds=IP_WINDOW_SECONDS, name="sign_in.ip"
)
SIGN_IN = Limit(
    name="sign_in",
    rules=(_ACCOUNT_RULE, _IP_RULE),
    message=SIGN_IN_THROTTLED_MESSAGE,
    event=Event.SIGN_IN_THROTTLED,
)


class Factor:
    """What was being proved when a failure is recorded (kept in the audit data)."""

    PASSWORD = "password"  # noqa: S105 - the factor's name, not a secret
    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"
    EMAIL_CODE = "email_code"


class _Keys:
    def __init__(self, email: str, ip: str):
        self.account = (_ACCOUNT_RULE.name, key_id("email", email))
        self.ip = (_IP_RULE.name, key_id("ip", ip_bucket(ip)))


def _rules() -> tuple[Backoff, Backoff]:
    return rule_now(_ACCOUNT_RULE), rule_now(_IP_RULE)


def _live(row: RateLimitCounter | None, now: datetime) -> RateLimitCounter | None:
    """The row if it still counts (an expired one is as good as none)."""
    return row if row is not None and row.expires_at > now else None


def _wait(row: RateLimitCounter | None, now: datetime) -> float:
    if row is None or row.blocked_until is None:
        return 0.0
    return max((row.blocked_until - now).total_seconds(), 0.0)


def _member_of_current_workspace(email: str) -> User | None:
    """The user behind ``email`` if they are an active member of the workspace whose host this
    is, else None. Events in a workspace's stream name a target only in that case: the owner
    reading them must not learn whether an email has an account elsewhere."""
    return memberships.member_by_email_of_schema(email, tenant_connection.schema_name)


def sign_in_attempt_check(*, email: str, ip: str) -> None:
    """Raise ``Throttled`` if this email or address must wait, or the account is locked.

    Does the same work (one counter query, one indexed user query) whether or not the email
    belongs to an account.
    """
    email = email_normalise(email)
    keys = _Keys(email, ip)
    now = timezone.now()
    rows = rows_read([keys.account, keys.ip])
    account_row = _live(rows.get(keys.account), now)
    ip_row = _live(rows.get(keys.ip), now)
    locked_at = list(User.objects.filter(email=email).values_list("locked_at", flat=True)[:1])
    if locked_at:
        locked = locked_at[0] is not None
    else:
        locked = account_row is not None and account_row.failures >= LOCK_AFTER_FAILURES
    if locked:
        _refuse(email=email, key=keys.account, retry_after=LOCKED_RETRY_AFTER_SECONDS)
    account_wait, ip_wait = _wait(account_row, now), _wait(ip_row, now)
    if account_wait > 0 or ip_wait > 0:
        key = keys.account if account_wait >= ip_wait else keys.ip
        _refuse(email=email, key=key, retry_after=math.ceil(max(account_wait, ip_wait)))


def _refuse(*, email: str, key: tuple[str, str], retry_after: int) -> None:
    """Audit the refusal (at most once a minute per counter) and raise ``Throttled``."""
    now = timezone.now()
    with transaction.atomic():
        row = rows_locked([key], now)[key]
        if row.audited_until is None or row.audited_until <= now:
            row.audited_until = now + timedelta(seconds=THROTTLED_AUDIT_EVERY_SECONDS)
            row.expires_at = max(row.expires_at, row.audited_until)
            row.save(update_fields=["audited_until", "expires_at"])
            audit_event_record(
                event_type=Event.SIGN_IN_THROTTLED,
                outcome=Outcome.FAILURE,
                actor=None,
                actor_kind=ActorKind.ANONYMOUS,
                target=_member_of_current_workspace(email),
                data={"email": email[:254]},
            )
    raise Throttled(retry_after, SIGN_IN_THROTTLED_MESSAGE)


def sign_in_failure_record(*, email: str, ip: str, factor: str) -> None:
    """Count a wrong secret against the account (or unknown email) and the address.

    Opens the next delay window, and locks the account at ``LOCK_AFTER_FAILURES``: the lock is
    audited (platform stream, and this workspace's stream if the account is a member here)
    and the owner of the account is emailed, once.
    """
    email = email_normalise(email)
    keys = _Keys(email, ip)
    account_rule, ip_rule = _rules()
    now = timezone.now()
    with transaction.atomic():
        user = (
            User.objects.select_for_update()
            .filter(email=email)
            .only("pk", "email", "full_name", "failed_sign_in_count", "locked_at")
            .first()
        )
        rows = rows_locked([keys.account, keys.ip], now)
        account_row, ip_row = rows[keys.account], rows[keys.ip]
        if user is not None:
            failures = user.failed_sign_in_count + 1
            newly_locked = failures >= LOCK_AFTER_FAILURES and user.locked_at is None
            changes: dict = {"failed_sign_in_count": F("failed_sign_in_count") + 1}
            if newly_locked:
                changes["locked_at"] = now
            User.objects.filter(pk=user.pk).update(**changes)
            if newly_locked:
                _lock_record(user=user, factor=factor, failures=failures)
            memory = timedelta(0)  # the count is the user's; the row only holds the delay
        else:
            failures = (account_row.failures if _live(account_row, now) else 0) + 1
            memory = timedelta(seconds=account_rule.quiet_seconds)
        _failure_count(account_row, failures, delay_after(failures, account_rule.free), now, memory)
        ip_failures = (ip_row.failures if _live(ip_row, now) else 0) + 1
        _failure_count(
            ip_row,
            ip_failures,
            delay_after(ip_failures, ip_rule.free),
            now,
            timedelta(seconds=ip_rule.quiet_seconds),
        )


def _failure_count(
    row: RateLimitCounter, failures: int, delay: int, now: datetime, memory: timedelta
) -> None:
    row.failures = failures
    row.blocked_until = now + timedelta(seconds=delay) if delay > 0 else None
    row.expires_at = max(now + memory, row.blocked_until or now, row.audited_until or now)
    row.save(update_fields=["failures", "blocked_until", "expires_at"])


def _lock_record(*, user: User, factor: str, failures: int) -> None:
    from tenants.models import Tenant

    from ..tasks import send_account_locked_email

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
        Tenant.objects.filter(schema_name=tenant_connection.schema_name)
        .exclude(schema_name="public")
        .values_list("pk", flat=True)
        .first()
    )
    user_id = user.pk
    transaction.on_commit(
        lambda: send_account_locked_email.delay(user_id=user_id, workspace_id=workspace_id)
    )


def _account_forget(email: str) -> None:
    rule, key = _Keys(email, "").account
    RateLimitCounter.objects.filter(rule=rule, key=key).delete()


def sign_in_success_record(*, email: str, ip: str) -> None:
    """The whole sign-in succeeded: the account's consecutive-failure count starts again.

    Does not lift a lock (only ``sign_in_lock_clear`` does) and leaves the address's count
    alone.
    """
    email = email_normalise(email)
    User.objects.filter(email=email, failed_sign_in_count__gt=0).update(failed_sign_in_count=0)
    _account_forget(email)


def sign_in_lock_clear(*, user: User) -> None:
    """Unlock an account and forget its failures; only a successful password reset calls this.
    Runs in the caller's transaction (the counters are rows too, so they go with it)."""
    User.objects.filter(pk=user.pk).update(failed_sign_in_count=0, locked_at=None)
    _account_forget(email_normalise(user.email))
