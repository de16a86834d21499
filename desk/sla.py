"""The SLA clock as pure functions: no database, no settings, no "now" of its own.

A target is a number of business seconds. Business time is the ``Calendar``'s working hours
on its working days in its time zone (zoneinfo, so a day that gains or loses an hour across
a daylight-saving change counts the hours that wall clock really had), minus its holidays.
While a ticket is pending the customer its clocks are paused: on resume every unmet due time
moves by the business time the pause covered (:func:`resume`); replaying the stored pauses
from the opening gives the same instants (:func:`clock_replay`), which is how due times are
recomputed when the targets change. The state of a target at a
moment is one of :data:`STATES`.

Every instant taken or returned is timezone-aware (UTC or any zone); nothing here reads the
clock, so tests move time by passing it (and the database tests with time-machine).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ON_TRACK = "on_track"
AT_RISK = "at_risk"
BREACHED = "breached"
PAUSED = "paused"
MET = "met"
NO_TARGET = "none"
STATES = (ON_TRACK, AT_RISK, BREACHED, PAUSED, MET, NO_TARGET)
STATE_LABELS = {
    ON_TRACK: "On track",
    AT_RISK: "At risk",
    BREACHED: "Breached",
    PAUSED: "Paused",
    MET: "Met",
    NO_TARGET: "No target",
}
# A calendar with no working time in this many days has none at all (never loops forever).
MAX_DAYS = 3 * 366


class NoBusinessTime(ValueError):
    """The calendar has no working time (no working day, or every one a holiday)."""


@dataclass(frozen=True)
class Calendar:
    time_zone: str
    business_days: frozenset[int]  # 0 = Monday
    day_start: time
    day_end: time
    holidays: frozenset[date] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def windows(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working periods (UTC) from ``since`` onwards, the first one clipped."""
        zone = self.zone
        # In UTC: arithmetic on an aware datetime of a zone is wall-clock arithmetic, which
        # would gain or lose the daylight-saving hour.
        since = since.astimezone(UTC)
        day = since.astimezone(zone).date()
        for _ in range(MAX_DAYS):
            if day.weekday() in self.business_days and day not in self.holidays:
                # datetime(..., tzinfo=zone) resolves each wall-clock time on that day's offset.
                start = datetime.combine(day, self.day_start, tzinfo=zone).astimezone(UTC)
                end = datetime.combine(day, self.day_end, tzinfo=zone).astimezone(UTC)
                if end > since:
                    yield max(start, since), end
            day += timedelta(days=1)
        raise NoBusinessTime("the calendar has no working time")


def add_business_seconds(start: datetime, seconds: float, calendar: Calendar) -> datetime:
    """The instant at which ``seconds`` of business time have passed since ``start``."""
    remaining = timedelta(seconds=seconds)
    if remaining <= timedelta(0):
        return start.astimezone(UTC)
    for window_start, window_end in calendar.windows(start):
        span = window_end - window_start
        if remaining <= span:
            return window_start + remaining
        remaining -= span
    raise NoBusinessTime("the calendar has no working time")  # pragma: no cover


def business_seconds_between(start: datetime, end: datetime, calendar: Calendar) -> float:
    """Business seconds from ``start`` to ``end`` (negative when ``end`` comes first)."""
    if end < start:
        return -business_seconds_between(end, start, calendar)
    total = timedelta(0)
    for window_start, window_end in calendar.windows(start):
        if window_start >= end:
            break
        total += min(window_end, end) - window_start
    return total.total_seconds()


@dataclass(frozen=True)
class Clock:
    """One target's due and at-risk instants."""

    due_at: datetime
    risk_at: datetime


def clock_start(
    start: datetime, minutes: int, calendar: Calendar, *, at_risk_percent: int
) -> Clock:
    """The clock of a target of ``minutes`` business minutes started at ``start``: due when
    they have passed, at risk once ``at_risk_percent`` of them have."""
    seconds = minutes * 60
    return Clock(
        due_at=add_business_seconds(start, seconds, calendar),
        risk_at=add_business_seconds(start, seconds * at_risk_percent / 100, calendar),
    )


def resume(
    instant: datetime | None, paused_at: datetime, resumed_at: datetime, calendar: Calendar
) -> datetime | None:
    """Where a due (or at-risk) instant moves when a pause from ``paused_at`` ends at
    ``resumed_at``: the business time it had left at the pause, counted from the resume. An
    instant already passed when the pause began stays where it was (it was missed)."""
    if instant is None or instant <= paused_at:
        return instant
    left = business_seconds_between(paused_at, instant, calendar)
    return add_business_seconds(resumed_at, left, calendar)


def clock_replay(
    start: datetime,
    minutes: int,
    calendar: Calendar,
    *,
    at_risk_percent: int,
    pauses: Sequence[tuple[datetime, datetime | None]],
) -> Clock:
    """The clock of a target of ``minutes`` started at ``start`` after the pauses
    ``(paused_at, resumed_at)``, replayed in order: exactly what :func:`clock_start` and then
    :func:`resume` at the end of each pause give, under ``calendar``. A pause under way
    (``resumed_at`` None) moves nothing yet: its business time is added when it ends."""
    clock = clock_start(start, minutes, calendar, at_risk_percent=at_risk_percent)
    due_at, risk_at = clock.due_at, clock.risk_at
    for paused_at, resumed_at in sorted(pauses, key=lambda pause: pause[0]):
        if resumed_at is None:
            continue
        due_at = resume(due_at, paused_at, resumed_at, calendar) or due_at
        risk_at = resume(risk_at, paused_at, resumed_at, calendar) or risk_at
    return Clock(due_at=due_at, risk_at=risk_at)


def state(
    *,
    now: datetime,
    due_at: datetime | None,
    risk_at: datetime | None,
    met_at: datetime | None = None,
    paused_at: datetime | None = None,
) -> str:
    """One target's state at ``now``: met (or breached when met late), paused, breached,
    at risk, on track, or none when there is no target (waived or no policy)."""
    if due_at is None:
        return NO_TARGET
    if met_at is not None:
        return MET if met_at <= due_at else BREACHED
    moment = paused_at if paused_at is not None else now
    if moment > due_at:
        return BREACHED
    if paused_at is not None:
        return PAUSED
    if risk_at is not None and moment >= risk_at:
        return AT_RISK
    return ON_TRACK


def overall_state(first_response: str, resolution: str) -> str:
    """A ticket's state from its two targets': the worst of them."""
    order = (BREACHED, AT_RISK, PAUSED, ON_TRACK, MET, NO_TARGET)
    return min(first_response, resolution, key=order.index)
