"""The limiter's window maths and rule declarations (pure rules: no database, no cache)."""

from __future__ import annotations

import pytest

from accounts.throttle import rules
from accounts.throttle.rules import Backoff, Limit, Per, Rate

HOUR = 60 * 60
T0 = 1_800_000_000.0  # a moment on a minute's boundary (T0 % 60 == 0)


def _hits(times: list[float], *, count: int, window: int = HOUR):
    """Feed requests at ``times`` through the rule; (allowed?, retry_after) for each."""
    slots: tuple = ()
    answers = []
    for moment in times:
        decision = rules.rate_hit(slots, now=moment, count=count, window_seconds=window)
        slots = decision.slots
        answers.append((decision.allowed, decision.retry_after))
    return answers, slots


def test_a_rate_lets_count_requests_through_then_says_how_long_to_wait():
    answers, _ = _hits([T0, T0 + 1, T0 + 2, T0 + 3], count=3)
    # The window is an hour, counted in minutes: the first request's minute leaves it after
    # 61 minutes (a slot partly inside the window counts whole: never too lenient).
    assert answers == [(True, 0), (True, 0), (True, 0), (False, 61 * 60 - 3)]


def test_a_refused_request_is_not_counted():
    answers, slots = _hits([T0] + [T0 + n for n in range(1, 50)], count=1)
    assert answers[1:] == [(False, 61 * 60 - n) for n in range(1, 50)]
    assert slots == ((int(T0 // 60), 1),)


def test_the_window_slides_there_is_no_burst_across_a_boundary():
    # Three at the end of one hour and three more at the start of the next: a fixed window
    # would let all six through.
    late = [T0 + HOUR - 3, T0 + HOUR - 2, T0 + HOUR - 1]
    early = [T0 + HOUR + 1, T0 + HOUR + 2, T0 + HOUR + 3]
    answers, _ = _hits(late + early, count=3)
    assert [allowed for allowed, _ in answers] == [True, True, True, False, False, False]


def test_waiting_the_retry_after_is_enough():
    answers, slots = _hits([T0, T0 + 600, T0 + 1200, T0 + 1500], count=3)
    wait = answers[-1][1]
    at = T0 + 1500 + wait
    assert rules.rate_hit(slots, now=at, count=3, window_seconds=HOUR).allowed
    assert not rules.rate_hit(slots, now=at - 1, count=3, window_seconds=HOUR).allowed
    # Only the oldest request had to leave: the other two still count.
    assert wait == 61 * 60 - 1500


def test_a_row_stays_small_whatever_the_rate():
    _, slots = _hits([T0 + n * 0.5 for n in range(20_000)], count=1_000_000, window=60)
    assert len(slots) <= rules.SLOTS_PER_WINDOW + 1


def test_a_refund_gives_back_the_request_counted_at_that_moment():
    _, slots = _hits([T0, T0 + 70], count=2)
    slots = rules.rate_refund(slots, counted_at=T0 + 70, now=T0 + 80, window_seconds=HOUR)
    assert slots == ((int(T0 // 60), 1),)
    assert rules.rate_hit(slots, now=T0 + 90, count=2, window_seconds=HOUR).allowed


def test_a_rate_peek_counts_nothing():
    _, slots = _hits([T0], count=1)
    assert rules.rate_peek(slots, now=T0 + 60, count=1, window_seconds=HOUR) == 60 * 60
    assert rules.rate_peek((), now=T0, count=1, window_seconds=HOUR) == 0


def test_delays_double_after_the_free_failures_and_stop_at_fifteen_minutes():
    assert [rules.delay_after(n, 5) for n in (0, 4, 5, 6, 7, 14, 15, 99)] == [
        0,
        0,
        1,
        2,
        4,
        512,
        900,
        900,
    ]


def test_settings_override_a_rule_by_its_name():
    rate = Rate(Per.IP, 10, HOUR, name="find_workspaces.ip")
    backoff = Backoff(Per.IP, free=20, quiet_seconds=HOUR, name="sign_in.ip")
    overrides = {"find_workspaces.ip": (2, 60), "sign_in.ip": (3, 30)}
    assert rules.rule_effective(rate, overrides) == Rate(Per.IP, 2, 60, name="find_workspaces.ip")
    assert rules.rule_effective(backoff, overrides) == Backoff(
        Per.IP, free=3, quiet_seconds=30, name="sign_in.ip"
    )
    assert rules.rule_effective(rate, {}) is rate


def test_a_limit_names_its_rules_and_refuses_two_with_one_name():
    limit = Limit(
        name="demo",
        rules=(Rate(Per.IP, 1, 60), Rate(Per.EMAIL, 1, 60, message="per email")),
        message="default",
        event=108,
    )
    assert [rule.name for rule in limit.rules] == ["demo.ip", "demo.email"]
    assert [limit.message_of(rule) for rule in limit.rules] == ["default", "per email"]
    with pytest.raises(ValueError, match="share a name"):
        Limit(name="demo", rules=(Rate(Per.IP, 1, 60), Rate(Per.IP, 5, 3600)), message="", event=1)


def test_a_rule_that_allows_nothing_is_refused_when_declared():
    with pytest.raises(ValueError, match=">= 1"):
        Rate(Per.IP, 0, 60)
    with pytest.raises(ValueError, match=">= 1"):
        Backoff(Per.IP, free=0, quiet_seconds=60)


def test_views_declare_their_limits_or_why_they_need_none():
    limit = Limit(name="demo", rules=(Rate(Per.IP, 1, 60),), message="", event=1)

    @rules.limited_by(limit)
    def limited(request):
        return None

    @rules.not_limited("a static page")
    def exempt(request):
        return None

    def undeclared(request):
        return None

    assert rules.declared_limits(limited) == (limit,)
    assert rules.declared_limits(exempt) == ()
    assert rules.declared_limits(undeclared) is None


def test_an_ipv6_subscriber_is_one_address():
    assert rules.ip_bucket("2001:db8:1:2::1") == rules.ip_bucket("2001:db8:1:2:ffff::9")
    assert rules.ip_bucket("203.0.113.5") == "203.0.113.5"
    assert rules.ip_bucket("not an address") == "unknown"
