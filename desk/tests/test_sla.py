"""The SLA clock as pure functions: business hours, holidays, pauses, daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from desk import sla

AMS = ZoneInfo("Europe/Amsterdam")
WEEKDAYS_9_TO_17 = sla.Calendar(
    time_zone="Europe/Amsterdam",
    business_days=frozenset({0, 1, 2, 3, 4}),
    day_start=time(9),
    day_end=time(17),
    holidays=frozenset({date(2025, 12, 25), date(2025, 12, 26)}),
)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=AMS)


def test_a_target_inside_one_working_day_is_due_the_same_day():
    due = sla.add_business_seconds(at(2025, 3, 4, 10, 0), 2 * 3600, WEEKDAYS_9_TO_17)
    assert due == at(2025, 3, 4, 12, 0)


def test_a_target_crossing_the_evening_continues_the_next_morning():
    due = sla.add_business_seconds(at(2025, 3, 4, 16, 0), 2 * 3600, WEEKDAYS_9_TO_17)
    assert due == at(2025, 3, 5, 10, 0)


def test_a_request_at_night_starts_counting_at_nine():
    due = sla.add_business_seconds(at(2025, 3, 4, 22, 30), 30 * 60, WEEKDAYS_9_TO_17)
    assert due == at(2025, 3, 5, 9, 30)


def test_the_weekend_is_skipped():
    due = sla.add_business_seconds(at(2025, 3, 7, 16, 0), 2 * 3600, WEEKDAYS_9_TO_17)
    assert due == at(2025, 3, 10, 10, 0)  # Friday 16:00 + 2h -> Monday 10:00


def test_holidays_are_skipped():
    due = sla.add_business_seconds(at(2025, 12, 24, 16, 0), 2 * 3600, WEEKDAYS_9_TO_17)
    assert due == at(2025, 12, 29, 10, 0)  # 25th, 26th holidays, then the weekend


def test_the_spring_daylight_saving_change_keeps_working_hours_on_the_wall_clock():
    # 30 March 2025: clocks go from 02:00 to 03:00 in Amsterdam (a Sunday, so take 24/7).
    always = sla.Calendar("Europe/Amsterdam", frozenset(range(7)), time(0), time(23, 59, 59))
    start = at(2025, 3, 30, 1, 0)
    due = sla.add_business_seconds(start, 2 * 3600, always)
    assert due.astimezone(AMS) == at(2025, 3, 30, 4, 0)  # one wall-clock hour vanished
    assert due - start.astimezone(UTC) == (due - start)


def test_a_working_day_across_the_autumn_change_is_eight_real_hours():
    # 27 October 2025 is the Monday after the change; Friday 24th is before it.
    due = sla.add_business_seconds(at(2025, 10, 24, 13, 0), 8 * 3600, WEEKDAYS_9_TO_17)
    assert due == at(2025, 10, 27, 13, 0)
    assert due.utcoffset() != at(2025, 10, 24, 13, 0).utcoffset()


def test_business_seconds_between_counts_only_working_time():
    seconds = sla.business_seconds_between(
        at(2025, 3, 7, 16, 0), at(2025, 3, 10, 10, 0), WEEKDAYS_9_TO_17
    )
    assert seconds == 2 * 3600


def test_a_pause_moves_the_due_time_by_the_business_time_it_covered():
    due = at(2025, 3, 4, 15, 0)
    moved = sla.resume(due, at(2025, 3, 4, 13, 0), at(2025, 3, 5, 10, 0), WEEKDAYS_9_TO_17)
    assert moved == at(2025, 3, 5, 12, 0)  # two business hours were left at the pause


def test_a_due_time_already_missed_when_paused_stays_missed():
    due = at(2025, 3, 4, 11, 0)
    assert sla.resume(due, at(2025, 3, 4, 13, 0), at(2025, 3, 6, 9, 0), WEEKDAYS_9_TO_17) == due


@pytest.mark.parametrize(
    ("now", "met", "paused", "expected"),
    [
        (at(2025, 3, 4, 10, 0), None, None, sla.ON_TRACK),
        (at(2025, 3, 4, 12, 30), None, None, sla.AT_RISK),
        (at(2025, 3, 4, 13, 1), None, None, sla.BREACHED),
        (at(2025, 3, 4, 14, 0), at(2025, 3, 4, 12, 0), None, sla.MET),
        (at(2025, 3, 4, 14, 0), at(2025, 3, 4, 13, 30), None, sla.BREACHED),
        (at(2025, 3, 9, 0, 0), None, at(2025, 3, 4, 11, 0), sla.PAUSED),
    ],
)
def test_the_state_of_a_target(now, met, paused, expected):
    state = sla.state(
        now=now,
        due_at=at(2025, 3, 4, 13, 0),
        risk_at=at(2025, 3, 4, 12, 0),
        met_at=met,
        paused_at=paused,
    )
    assert state == expected


def test_a_waived_target_has_no_state():
    assert sla.state(now=at(2025, 3, 4), due_at=None, risk_at=None) == sla.NO_TARGET


def test_a_calendar_without_working_days_is_refused_not_looped_forever():
    never = sla.Calendar("Europe/Amsterdam", frozenset(), time(9), time(17))
    with pytest.raises(sla.NoBusinessTime):
        sla.add_business_seconds(at(2025, 3, 4), 60, never)


def test_replaying_stored_pauses_gives_what_pausing_and_resuming_gave_across_the_autumn_change():
    # Friday before the change (Sunday 26 October 2025), paused over the weekend into Monday.
    start = at(2025, 10, 24, 10, 0)
    pauses = [
        (at(2025, 10, 24, 11, 0), at(2025, 10, 27, 14, 0)),
        (at(2025, 10, 28, 9, 30), at(2025, 10, 28, 16, 0)),
    ]
    clock = sla.clock_start(start, 16 * 60, WEEKDAYS_9_TO_17, at_risk_percent=75)
    due, risk = clock.due_at, clock.risk_at
    for paused_at, resumed_at in pauses:  # what the status machine does at each resume
        due = sla.resume(due, paused_at, resumed_at, WEEKDAYS_9_TO_17)
        risk = sla.resume(risk, paused_at, resumed_at, WEEKDAYS_9_TO_17)
    replayed = sla.clock_replay(
        start, 16 * 60, WEEKDAYS_9_TO_17, at_risk_percent=75, pauses=list(reversed(pauses))
    )
    assert (replayed.due_at, replayed.risk_at) == (due, risk)
    # Friday 10-11 (1h), Monday 14-17 on winter time (3h), Tuesday 9-9:30 and 16-17 (1.5h),
    # Wednesday (8h), then the last 2.5 hours on Thursday morning.
    assert replayed.due_at == at(2025, 10, 30, 11, 30)


def test_a_pause_under_way_moves_nothing_until_it_ends():
    start = at(2025, 3, 3, 9, 0)
    plain = sla.clock_start(start, 60, WEEKDAYS_9_TO_17, at_risk_percent=50)
    replayed = sla.clock_replay(
        start, 60, WEEKDAYS_9_TO_17, at_risk_percent=50, pauses=[(at(2025, 3, 3, 9, 30), None)]
    )
    assert replayed == plain
