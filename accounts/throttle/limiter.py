"""The limiter's engine: counters in PostgreSQL, refusals as ``Throttled``, and their audit.

Invariant: every count and every check reads and writes ``accounts.RateLimitCounter`` rows
under a row lock, in a fixed order (rule, key), inside one transaction per call; nothing goes
through the cache, so a Redis outage or restart changes nothing and no error is swallowed:
if PostgreSQL cannot answer, the request fails (closed), it is never let through uncounted.
A refused request is not counted. The refusal's audit event (at most one per counter row in
``THROTTLED_AUDIT_EVERY_SECONDS``) is written in the limiter's own transaction, before
``Throttled`` is raised outside it, so a caller that rolls back does not lose it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.crypto import salted_hmac

from audit.events import Event
from audit.models import Outcome
from audit.services import audit_event_record
from kernel.context import ActorKind, client_ip

from ..models import RateLimitCounter
from .rules import (
    Limit,
    Per,
    Rate,
    Rule,
    RuleT,
    ViewT,
    email_normalise,
    ip_bucket,
    limited_by,
    rate_hit,
    rate_refund,
    rule_effective,
)

# At most one "throttled" audit event per counter row in this many seconds, so a flood of
# refused requests cannot flood the audit stream.
THROTTLED_AUDIT_EVERY_SECONDS = 60
# Expired rows are deleted this long after they expired (accounts.tasks.expired_rows_purge);
# the margin keeps the purge far away from a row a request is about to count on.
PURGE_AFTER_EXPIRY = timedelta(days=1)

DEFAULT_MESSAGE = "Too many attempts. Please wait a little and try again."
LINK_VISIT_THROTTLED_MESSAGE = (
    "This link has been opened too many times, or too many links from your network. "
    "Please wait a while and try again."
)


class Throttled(Exception):
    """The request is refused before it does anything; answer 429 with ``message`` and a
    ``Retry-After`` of ``retry_after_seconds`` (``refusal_page`` does both)."""

    def __init__(self, retry_after_seconds: int, message: str = DEFAULT_MESSAGE):
        super().__init__(message)
        self.retry_after_seconds = max(1, int(retry_after_seconds))
        self.message = message


def key_id(kind: str, value: str) -> str:
    """A counter key for an email, address or link: an HMAC under the secret key, so the
    database never holds them in clear and they cannot be recovered by trying a dictionary
    of emails without the key."""
    return salted_hmac(f"accounts.throttle.{kind}", value).hexdigest()[:40]


def subject_key(per: Per, value: str) -> str:
    if per == Per.IP:
        value = ip_bucket(value)
    elif per == Per.EMAIL:
        value = email_normalise(value)
    return key_id(per.value, value)


def rule_now(rule: RuleT) -> RuleT:
    """``rule`` as configured now (``settings.RATE_LIMITS`` may override its numbers)."""
    return rule_effective(rule, getattr(settings, "RATE_LIMITS", {}))


def _subject(rule: Rule, ip: str, subjects: dict[str, str]) -> str:
    if rule.per == Per.IP:
        return ip
    value = subjects.get(rule.per.value)
    if value is None:
        raise TypeError(f"rule {rule.name} counts per {rule.per}: pass {rule.per.value}=...")
    return str(value)


# Opening an emailed link (hand-off, password reset, sign-up confirmation, support session):
# per address, against guessing links, and per link.
LINK_VISIT = Limit(
    name="link_visit",
    rules=(Rate(Per.IP, 30, 60 * 60), Rate(Per.LINK, 10, 60 * 60)),
    message=LINK_VISIT_THROTTLED_MESSAGE,
    event=Event.REQUEST_THROTTLED,
)


# --- Rows


def rows_locked(
    pairs: list[tuple[str, str]], now: datetime
) -> dict[tuple[str, str], RateLimitCounter]:
    """The counter rows for ``(rule, key)`` pairs, created when missing, each locked until
    the end of the current transaction (which the caller must hold open). One statement,
    locking in (rule, key) order, so two requests never wait on each other crosswise."""
    wanted = sorted(set(pairs))
    table = connection.ops.quote_name(RateLimitCounter._meta.db_table)
    values = ", ".join(["(%s, %s, '[]'::jsonb, 0, %s)"] * len(wanted))
    params: list[str | datetime] = []
    for rule, key in wanted:
        params += [rule, key, now]
    # ON CONFLICT DO UPDATE (a no-op update) locks an existing row as it returns it, whole:
    # the rows come back from this one statement, with no second read.
    rows = RateLimitCounter.objects.raw(
        f"INSERT INTO {table} (rule, key, slots, failures, expires_at) VALUES {values} "  # noqa: S608 - the table name is model metadata, every value a parameter
        f"ON CONFLICT (rule, key) DO UPDATE SET expires_at = {table}.expires_at "
        f"RETURNING {table}.*",
        params,
    )
    return {(row.rule, row.key): row for row in rows}


def rows_read(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], RateLimitCounter]:
    """The counter rows for ``(rule, key)`` pairs as they are now, unlocked (checks only)."""
    wanted = Q()
    for rule, key in pairs:
        wanted |= Q(rule=rule, key=key)
    return {(row.rule, row.key): row for row in RateLimitCounter.objects.filter(wanted)}


# --- Counting requests (rate rules)


@dataclass(frozen=True)
class Counted:
    """What ``limit`` counted, so ``refund`` can give back the successes-only counts."""

    refundable: tuple[tuple[str, str, int], ...]  # (rule name, key, window seconds)
    at: float


def limit(limit: Limit, *, ip: str, **subjects: str) -> Counted:
    """Count this request against every rate rule of ``limit``, or raise ``Throttled``.

    ``subjects`` name what the rules count besides the address: ``email=``, ``link=``,
    ``workspace=``, ``token=`` (a rule whose subject is missing is a programming error). If any
    rule is full, nothing is counted, the refusal is audited (at most once a minute per
    counter) and ``Throttled`` carries the longest wait and that rule's message.
    """
    now = timezone.now()
    moment = now.timestamp()
    rules = [rule_now(rule) for rule in limit.rules if isinstance(rule, Rate)]
    keyed = [(rule, subject_key(rule.per, _subject(rule, ip, subjects))) for rule in rules]
    refusal: Throttled | None = None
    with transaction.atomic():
        rows = rows_locked([(rule.name, key) for rule, key in keyed], now)
        decisions = [
            (
                rule,
                rows[(rule.name, key)],
                rate_hit(
                    rows[(rule.name, key)].slots,
                    now=moment,
                    count=rule.count,
                    window_seconds=rule.seconds,
                ),
            )
            for rule, key in keyed
        ]
        refused = [item for item in decisions if not item[2].allowed]
        if refused:
            rule, row, decision = max(refused, key=lambda item: item[2].retry_after)
            refusal_audit(limit, row=row, now=now, email=subjects.get(Per.EMAIL.value))
            refusal = Throttled(decision.retry_after, limit.message_of(rule))
        else:
            for _rule, row, decision in decisions:
                row.slots = [list(slot) for slot in decision.slots]
                row.expires_at = now + timedelta(seconds=math.ceil(decision.expires_in))
                row.save(update_fields=["slots", "expires_at"])
    if refusal is not None:
        raise refusal
    return Counted(
        refundable=tuple(
            (rule.name, key, rule.seconds) for rule, key in keyed if rule.successes_only
        ),
        at=moment,
    )


def refund(counted: Counted) -> None:
    """Give back what ``limit`` counted for its successes-only rules (the action failed)."""
    if not counted.refundable:
        return
    now = timezone.now()
    with transaction.atomic():
        rows = rows_locked([(name, key) for name, key, _ in counted.refundable], now)
        for name, key, seconds in counted.refundable:
            row = rows[(name, key)]
            row.slots = [
                list(slot)
                for slot in rate_refund(
                    row.slots, counted_at=counted.at, now=now.timestamp(), window_seconds=seconds
                )
            ]
            row.save(update_fields=["slots"])


@contextmanager
def counted(limit_: Limit, *, ip: str, **subjects: str) -> Iterator[Counted]:
    """``limit`` around an action: its successes-only rules keep the count only if the block
    succeeds (a sign-up whose address was taken does not use up the hour's workspaces).
    Use it outside the action's transaction, so the count is committed either way."""
    taken = limit(limit_, ip=ip, **subjects)
    try:
        yield taken
    except BaseException:
        refund(taken)
        raise


# --- Refusals


def refusal_audit(limit: Limit, *, row: RateLimitCounter, now: datetime, email: str | None) -> None:
    """Record the refusal in the stream of the host it happened on, unless this counter's
    refusal was recorded less than ``THROTTLED_AUDIT_EVERY_SECONDS`` ago. Call it inside the
    transaction that holds ``row``'s lock."""
    if row.audited_until is not None and row.audited_until > now:
        return
    row.audited_until = now + timedelta(seconds=THROTTLED_AUDIT_EVERY_SECONDS)
    row.expires_at = max(row.expires_at, row.audited_until)
    row.save(update_fields=["audited_until", "expires_at"])
    data: dict[str, str] = {}
    if email is not None:
        data["email"] = email_normalise(email)[:254]
    if limit.event == Event.REQUEST_THROTTLED:
        data["limit"] = limit.name
    audit_event_record(
        event_type=Event(limit.event),
        outcome=Outcome.FAILURE,
        actor=None,
        actor_kind=ActorKind.ANONYMOUS,
        data=data,
    )


def refusal_page(
    request: HttpRequest,
    error: Throttled,
    *,
    template: str = "429.html",
    context: dict | None = None,
) -> HttpResponse:
    """The 429 a refused visitor sees, with ``Retry-After``: the form page again with the
    message at the top when ``context`` holds a ``form``, else the plain 429 page."""
    context = context if context is not None else {}
    form = context.get("form")
    if form is not None:
        form.add_error(None, error.message)
    else:
        context["message"] = error.message
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(error.retry_after_seconds)
    return response


def link_visit_limited(view: ViewT) -> ViewT:
    """For a view that opens an emailed link (its URL's ``token``): declare ``LINK_VISIT`` and
    count every visit per address and per link before the view runs; a refused visit gets the
    429 page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, token: str, **kwargs: Any) -> HttpResponse:
        try:
            limit(LINK_VISIT, ip=client_ip(request), link=token)
        except Throttled as error:
            return refusal_page(request, error)
        return view(request, *args, token=token, **kwargs)

    return limited_by(LINK_VISIT)(cast(ViewT, wrapped))


def counters_purge(now: datetime | None = None) -> int:
    """Delete the counters that expired more than ``PURGE_AFTER_EXPIRY`` ago; how many."""
    cutoff = (now or timezone.now()) - PURGE_AFTER_EXPIRY
    deleted, _ = RateLimitCounter.objects.filter(expires_at__lt=cutoff).delete()
    return deleted
