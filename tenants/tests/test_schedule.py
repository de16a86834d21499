"""The lifecycle's schedule is pure: deadlines and the daily run's plan from a Tenant's fields
and a moment, with no database (the Tenants here are never saved)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tenants.models import Tenant
from tenants.schedule import (
    ARCHIVE_DAYS,
    EXPORT_WINDOW_DAYS,
    LifecycleDates,
    LifecycleSnapshot,
    lifecycle_dates,
    lifecycle_plan,
    next_step,
)

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def tenant(state: str, **fields) -> Tenant:
    return Tenant(slug="planned", name="Planned", state=state, **fields)


def actions(planned: Tenant, now: datetime = NOW) -> list[str]:
    return [step.action for step in lifecycle_plan(planned, now)]


def test_an_active_workspace_has_no_deadlines_and_nothing_planned():
    active = tenant(Tenant.State.ACTIVE)
    assert lifecycle_dates(active) == LifecycleDates(None, None)
    assert actions(active) == []


def test_a_cancelled_workspace_is_archived_after_the_export_window_and_purged_after_that():
    cancelled = tenant(Tenant.State.CANCELLED, cancelled_at=NOW)
    archive_at = NOW + timedelta(days=EXPORT_WINDOW_DAYS)
    assert lifecycle_dates(cancelled) == LifecycleDates(
        archive_at, archive_at + timedelta(days=ARCHIVE_DAYS)
    )


def test_an_archived_workspace_is_purged_archive_days_after_it_was_archived():
    archived = tenant(Tenant.State.ARCHIVED, archived_at=NOW)
    assert lifecycle_dates(archived) == LifecycleDates(NOW, NOW + timedelta(days=ARCHIVE_DAYS))


def test_a_purging_workspace_shows_when_it_was_archived_and_when_deletion_was_asked():
    purging = tenant(Tenant.State.PURGING, archived_at=None, purge_requested_at=NOW)
    assert lifecycle_dates(purging) == LifecycleDates(None, NOW)
    assert actions(purging) == ["purge"]


def test_the_seven_day_warning_is_due_a_week_before_archiving_and_only_once():
    cancelled_at = NOW - timedelta(days=EXPORT_WINDOW_DAYS - 7)
    cancelled = tenant(Tenant.State.CANCELLED, cancelled_at=cancelled_at)
    step = next_step(LifecycleSnapshot.of(cancelled), NOW)
    assert step is not None
    assert (step.action, step.notice_keys, step.days) == ("notify-archive-7", ("archive-7",), 7)
    assert step.due_at == cancelled_at + timedelta(days=EXPORT_WINDOW_DAYS - 7)

    cancelled.lifecycle_notices = ["archive-7"]
    assert next_step(LifecycleSnapshot.of(cancelled), NOW) is None


def test_missed_days_plan_only_the_nearest_warning_and_mark_both_sent():
    cancelled = tenant(
        Tenant.State.CANCELLED, cancelled_at=NOW - timedelta(days=EXPORT_WINDOW_DAYS - 1)
    )
    step = next_step(LifecycleSnapshot.of(cancelled), NOW)
    assert step is not None
    assert (step.action, step.notice_keys) == ("notify-archive-1", ("archive-1", "archive-7"))


def test_a_long_overdue_workspace_is_planned_to_be_archived_then_purged_in_one_run():
    cancelled = tenant(Tenant.State.CANCELLED, cancelled_at=NOW - timedelta(days=200))
    steps = lifecycle_plan(cancelled, NOW)
    archive_at = NOW - timedelta(days=200 - EXPORT_WINDOW_DAYS)
    assert [(step.action, step.due_at) for step in steps] == [
        ("archive", archive_at),
        ("purge", archive_at + timedelta(days=ARCHIVE_DAYS)),
    ]
    # Planning is a simulation: the Tenant itself is untouched.
    assert cancelled.state == Tenant.State.CANCELLED
    assert cancelled.archived_at is None
