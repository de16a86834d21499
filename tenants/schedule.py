"""The lifecycle's schedule: when a workspace on its way out is archived, warned and purged.

Invariant: everything here is a pure function of a Tenant's lifecycle fields (``state``,
``cancelled_at``, ``archived_at``, ``purge_requested_at``, ``lifecycle_notices``) and the
moment asked about. Nothing reads or writes the database, so the pages, the emails, the support
console and the daily run (workspace.lifecycle) all compute the same deadlines, and the rules
are tested without a database. The deadlines are never stored.

    cancelled --EXPORT_WINDOW_DAYS--> archived --ARCHIVE_DAYS--> purged
    warnings NOTICE_DAYS_BEFORE each of those two deadlines
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .models import Tenant

EXPORT_WINDOW_DAYS = 30  # cancelled -> archived
ARCHIVE_DAYS = 60  # archived -> purged
NOTICE_DAYS_BEFORE = (7, 1)

# At most this many steps per workspace per run (notice, archive, notice, purge).
MAX_STEPS_PER_RUN = 6


@dataclass(frozen=True)
class LifecycleDates:
    """The deadlines of a workspace that is on its way out (None while active)."""

    archive_at: datetime | None  # when a cancelled workspace is archived
    purge_at: datetime | None  # when it is permanently deleted


@dataclass(frozen=True)
class LifecycleStep:
    """One thing the daily run does (or, in a dry run, would do)."""

    tenant_slug: str
    action: str  # "notify-archive-7", "archive", "notify-purge-1", "purge", "purge-failed"
    due_at: datetime


def lifecycle_dates(tenant: Tenant) -> LifecycleDates:
    """When ``tenant`` will be archived and purged, from the timestamps of its state."""
    state = tenant.state
    if state == Tenant.State.CANCELLED and tenant.cancelled_at is not None:
        archive_at = tenant.cancelled_at + timedelta(days=EXPORT_WINDOW_DAYS)
        return LifecycleDates(archive_at, archive_at + timedelta(days=ARCHIVE_DAYS))
    if state == Tenant.State.ARCHIVED and tenant.archived_at is not None:
        return LifecycleDates(tenant.archived_at, tenant.archived_at + timedelta(days=ARCHIVE_DAYS))
    if state == Tenant.State.PURGING:
        return LifecycleDates(tenant.archived_at, tenant.purge_requested_at)
    return LifecycleDates(None, None)


# --- Planning the daily run


@dataclass
class LifecycleSnapshot:
    """The lifecycle fields the planner reads; a dry run advances a copy of them."""

    slug: str
    state: str
    cancelled_at: datetime | None
    archived_at: datetime | None
    purge_requested_at: datetime | None
    notices: list[str]

    @classmethod
    def of(cls, tenant: Tenant) -> LifecycleSnapshot:
        return cls(
            slug=tenant.slug,
            state=tenant.state,
            cancelled_at=tenant.cancelled_at,
            archived_at=tenant.archived_at,
            purge_requested_at=tenant.purge_requested_at,
            notices=list(tenant.lifecycle_notices or []),
        )


@dataclass(frozen=True)
class PlannedStep:
    """The next step for one workspace: its action, when it fell due, and for a warning the
    notice keys it marks sent and the days it announces."""

    action: str
    due_at: datetime
    notice_keys: tuple[str, ...] = ()
    days: int = 0


def due_notice(
    kind: str, deadline: datetime, notices: list[str], now: datetime
) -> PlannedStep | None:
    """The warning for ``deadline`` that is due now and unsent. When several are due (the run
    missed a day), only the closest to the deadline goes out; the earlier ones are marked
    sent too, so an owner never gets a stale "7 days" after the "1 day"."""
    due = [days for days in NOTICE_DAYS_BEFORE if now >= deadline - timedelta(days=days)]
    if not due:
        return None
    days = min(due)
    key = f"{kind}-{days}"
    if key in notices:
        return None
    keys = tuple(f"{kind}-{later}" for later in sorted(due) if f"{kind}-{later}" not in notices)
    return PlannedStep(f"notify-{kind}-{days}", deadline - timedelta(days=days), keys, days)


def next_step(snapshot: LifecycleSnapshot, now: datetime) -> PlannedStep | None:
    """What is due for the workspace at ``now``, or None."""
    if snapshot.state == Tenant.State.PURGING:
        return PlannedStep("purge", snapshot.purge_requested_at or now)
    if snapshot.state == Tenant.State.CANCELLED and snapshot.cancelled_at is not None:
        archive_at = snapshot.cancelled_at + timedelta(days=EXPORT_WINDOW_DAYS)
        if now >= archive_at:
            return PlannedStep("archive", archive_at)
        return due_notice("archive", archive_at, snapshot.notices, now)
    if snapshot.state == Tenant.State.ARCHIVED and snapshot.archived_at is not None:
        purge_at = snapshot.archived_at + timedelta(days=ARCHIVE_DAYS)
        if now >= purge_at:
            return PlannedStep("purge", purge_at)
        return due_notice("purge", purge_at, snapshot.notices, now)
    return None


def advance(snapshot: LifecycleSnapshot, step: PlannedStep) -> None:
    """What a step does to the lifecycle fields (the dry run's simulation)."""
    if step.action == "archive":
        snapshot.state = Tenant.State.ARCHIVED
        snapshot.archived_at = step.due_at
        snapshot.notices = []
    elif step.notice_keys:
        snapshot.notices = [*snapshot.notices, *step.notice_keys]


def lifecycle_plan(tenant: Tenant, now: datetime) -> list[LifecycleStep]:
    """Every step the daily run would take for ``tenant`` at ``now``, in order (a dry run)."""
    snapshot = LifecycleSnapshot.of(tenant)
    steps = []
    for _ in range(MAX_STEPS_PER_RUN):
        step = next_step(snapshot, now)
        if step is None:
            break
        steps.append(LifecycleStep(snapshot.slug, step.action, step.due_at))
        if step.action == "purge":
            break
        advance(snapshot, step)
    return steps
