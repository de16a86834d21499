"""The sign-in throttle's delay schedule (a pure rule: no database, no cache)."""

from __future__ import annotations

from accounts import throttle


def test_delay_schedule_helper():
    assert [throttle.delay_after(n, 5) for n in (0, 4, 5, 6, 14, 15, 99)] == [
        0,
        0,
        1,
        2,
        512,
        900,
        900,
    ]
