"""The limiter's rules and their arithmetic: pure functions, no database, no cache, no clock.

A **limit** is what a public endpoint declares (``Limit``): a name, the message a refused
visitor reads, the audit event of a refusal, and its **rules**, each counting one subject:

* ``Rate(per, count, seconds)``: at most ``count`` requests in ANY ``seconds``-long window
  (a sliding window, not a fixed one, so no burst of twice the limit across a boundary). The
  window is kept as at most ``SLOTS_PER_WINDOW + 1`` slots of ``seconds / 60`` each, so a row
  stays small whatever the count (an API token's thousand a minute as well as sign-up's three
  an hour), and a slot still partly inside the window counts whole: the limiter may make
  someone wait up to one slot longer, never let one request too many through. With
  ``successes_only`` the request is counted only if what it guards succeeds
  (``throttle.counted`` gives a failed attempt its count back).
* ``Backoff(per, free, quiet_seconds)``: counts failures only (wrong secrets). The first
  ``free - 1`` cost nothing; from then on each failure makes the next attempt wait 1 s, 2 s,
  4 s ... up to ``MAX_DELAY_SECONDS``; the count is forgotten after ``quiet_seconds`` without
  a failure (and, for an account, by a success: ``accounts.throttle.sign_in``).

``settings.RATE_LIMITS`` overrides a rule by its name (``"<limit>.<per>"`` unless the rule
names itself): ``(count, seconds)`` for a rate, ``(free, quiet_seconds)`` for a backoff.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TypeVar

SLOTS_PER_WINDOW = 60
MAX_DELAY_SECONDS = 15 * 60

Slots = tuple[tuple[int, int], ...]  # (slot index, requests counted in it), oldest first


class Per(StrEnum):
    """The subject a rule counts. Every subject is keyed by an HMAC (``throttle.key_id``)."""

    IP = "ip"  # the client address (kernel.context.client_ip); an IPv6 /64 is one address
    EMAIL = "email"  # the email address typed, normalised, whether or not an account has it
    LINK = "link"  # an emailed link's token (invitation, password reset, sign-up, hand-off)
    WORKSPACE = "workspace"  # a workspace's id (for rules about one workspace)
    TOKEN = "token"  # an API token's id (for the API's own limits)  # noqa: S105 - a name
    MEMBER = "member"  # a signed-in membership's id (an expensive action of one person)


@dataclass(frozen=True)
class Rate:
    """At most ``count`` requests in any ``seconds``-long window, per ``per``."""

    per: Per
    count: int
    seconds: int
    successes_only: bool = False
    message: str = ""  # what a refused visitor reads; empty: the limit's message
    name: str = ""  # set by Limit: "<limit>.<per>" unless given

    def __post_init__(self) -> None:
        if self.count < 1 or self.seconds < 1:
            raise ValueError(f"rate rule {self.name or self.per}: count and seconds must be >= 1")

    def configured(self, numbers: tuple[int, int]) -> Rate:
        count, seconds = numbers
        return replace(self, count=count, seconds=seconds)


@dataclass(frozen=True)
class Backoff:
    """Growing delays after ``free`` failures per ``per``, forgotten after ``quiet_seconds``."""

    per: Per
    free: int
    quiet_seconds: int
    message: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        if self.free < 1 or self.quiet_seconds < 1:
            raise ValueError(f"backoff rule {self.name or self.per}: free and quiet must be >= 1")

    def configured(self, numbers: tuple[int, int]) -> Backoff:
        free, quiet_seconds = numbers
        return replace(self, free=free, quiet_seconds=quiet_seconds)


Rule = Rate | Backoff
RuleT = TypeVar("RuleT", Rate, Backoff)


@dataclass(frozen=True)
class Limit:
    """What a public endpoint is counted against: its rules, the message, the refusal's event.

    ``event`` is an ``audit.events.Event`` (typed ``int`` here: this module imports nothing of
    the project, so the rules stay testable without Django)."""

    name: str
    rules: tuple[Rule, ...]
    message: str
    event: int
    per: frozenset[Per] = field(init=False)

    def __post_init__(self) -> None:
        named = tuple(
            rule if rule.name else replace(rule, name=f"{self.name}.{rule.per}")
            for rule in self.rules
        )
        names = [rule.name for rule in named]
        if len(set(names)) != len(names):
            raise ValueError(f"limit {self.name}: two rules share a name: {names}")
        object.__setattr__(self, "rules", named)
        object.__setattr__(self, "per", frozenset(rule.per for rule in named))

    def message_of(self, rule: Rule) -> str:
        return rule.message or self.message


def rule_effective(rule: RuleT, overrides: dict[str, tuple[int, int]]) -> RuleT:
    """``rule`` with the numbers ``settings.RATE_LIMITS`` gives it, if any."""
    override = overrides.get(rule.name)
    return rule if override is None else rule.configured(override)


# --- Rates: a sliding window in slots


def slot_seconds(window_seconds: int) -> int:
    return max(1, window_seconds // SLOTS_PER_WINDOW)


def _slots_in_window(window_seconds: int) -> int:
    return math.ceil(window_seconds / slot_seconds(window_seconds))


def _first_live_slot(now: float, window_seconds: int) -> int:
    """The oldest slot that still counts at ``now``: the one holding ``now - window`` (whole,
    so a request in its part before the window still counts: never too lenient)."""
    return int(now // slot_seconds(window_seconds)) - _slots_in_window(window_seconds)


def slots_live(slots: Sequence[Sequence[int]], *, now: float, window_seconds: int) -> Slots:
    """The slots that still count at ``now``, oldest first, empty ones dropped."""
    first = _first_live_slot(now, window_seconds)
    return tuple(
        sorted((int(index), int(hits)) for index, hits in slots if index >= first and hits > 0)
    )


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int  # whole seconds until one more request would be allowed (0 if allowed)
    slots: Slots  # what to store: the live slots, plus this request if it was allowed
    expires_in: float  # seconds until every stored slot has left the window


def rate_hit(
    slots: Sequence[Sequence[int]], *, now: float, count: int, window_seconds: int
) -> RateDecision:
    """Count one request at ``now`` if fewer than ``count`` are in the window; else refuse it
    (a refused request is not counted) and say how long until one more would be allowed."""
    live = slots_live(slots, now=now, window_seconds=window_seconds)
    total = sum(hits for _, hits in live)
    if total >= count:
        return RateDecision(
            allowed=False,
            retry_after=_rate_retry_after(live, total, now, count, window_seconds),
            slots=live,
            expires_in=_expires_in(live, now, window_seconds),
        )
    current = int(now // slot_seconds(window_seconds))
    counted = dict(live)
    counted[current] = counted.get(current, 0) + 1
    after = tuple(sorted(counted.items()))
    return RateDecision(
        allowed=True, retry_after=0, slots=after, expires_in=_expires_in(after, now, window_seconds)
    )


def rate_peek(
    slots: Sequence[Sequence[int]], *, now: float, count: int, window_seconds: int
) -> int:
    """Seconds until a request would be allowed (0: now), counting nothing."""
    decision = rate_hit(slots, now=now, count=count, window_seconds=window_seconds)
    return decision.retry_after


def rate_refund(
    slots: Sequence[Sequence[int]], *, counted_at: float, now: float, window_seconds: int
) -> Slots:
    """Give back the request counted at ``counted_at`` (its guarded action failed)."""
    index = int(counted_at // slot_seconds(window_seconds))
    refunded = [
        (slot, hits - 1 if slot == index else hits)
        for slot, hits in slots_live(slots, now=now, window_seconds=window_seconds)
    ]
    return tuple((slot, hits) for slot, hits in refunded if hits > 0)


def _slot_leaves_at(index: int, window_seconds: int) -> float:
    """When slot ``index`` stops counting."""
    return (index + _slots_in_window(window_seconds) + 1) * slot_seconds(window_seconds)


def _rate_retry_after(live: Slots, total: int, now: float, count: int, window: int) -> int:
    leaving = 0
    for index, hits in live:  # oldest first
        leaving += hits
        if total - leaving <= count - 1:
            return max(1, math.ceil(_slot_leaves_at(index, window) - now))
    return max(1, math.ceil(_slot_leaves_at(live[-1][0], window) - now)) if live else 1


def _expires_in(slots: Slots, now: float, window_seconds: int) -> float:
    if not slots:
        return 0.0
    return max(0.0, _slot_leaves_at(slots[-1][0], window_seconds) - now)


# --- Backoffs: failures and growing delays


def delay_after(failures: int, free: int) -> int:
    """Seconds the next attempt must wait after ``failures`` (0 while under ``free``)."""
    if failures < free:
        return 0
    return min(2 ** min(failures - free, 30), MAX_DELAY_SECONDS)


# --- Subjects


def email_normalise(email: str) -> str:
    return (email or "").strip().lower()


def ip_bucket(ip: str) -> str:
    """The address a limit counts: the IP itself, or its /64 for IPv6 (one subscriber)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


# --- Declaring which limits a public view is counted against

_DECLARATION = "rate_limits"
_EXEMPTION = "rate_limits_exempt_because"

ViewT = TypeVar("ViewT", bound=Callable)


def limited_by(*limits: Limit) -> Callable[[ViewT], ViewT]:
    """Declare the limits a public view's requests are counted against.

    A declaration does not count anything by itself: the view or the service it calls does
    (``throttle.limit``, ``throttle.counted``, or the sign-in functions), where the subject
    (the email typed, the link) is known. ``tests/test_rate_limits.py`` drives every declared
    rule of every public view past its limit and expects the 429, so a declaration that is
    not enforced fails there, and so does a public view that declares nothing.
    """
    if not limits:
        raise ValueError("limited_by needs at least one limit (or use not_limited)")

    def declare(view: ViewT) -> ViewT:
        setattr(view, _DECLARATION, tuple(limits))
        return view

    return declare


def not_limited(reason: str) -> Callable[[ViewT], ViewT]:
    """Declare that a public view needs no limit, and why (a static page, a page only a
    signed-in agent reaches): a decision made once, visible in review."""
    if not reason.strip():
        raise ValueError("not_limited needs a reason")

    def declare(view: ViewT) -> ViewT:
        setattr(view, _DECLARATION, ())
        setattr(view, _EXEMPTION, reason)
        return view

    return declare


def declared_limits(view: Callable) -> tuple[Limit, ...] | None:
    """The limits ``view`` declares; ``()`` for a declared exemption; None if it declares
    nothing (which the sweep refuses for any view an anonymous visitor can reach)."""
    declared = getattr(view, _DECLARATION, None)
    view_class = getattr(view, "view_class", None)
    if declared is None and view_class is not None:
        declared = getattr(view_class, _DECLARATION, None)
    return declared
