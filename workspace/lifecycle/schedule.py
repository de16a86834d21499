"""The daily run: warning emails, archiving and purging that have come due.

Invariant: what is due is decided by the pure planner (tenants.schedule) from the Tenant's
timestamps and ``lifecycle_notices``; this module only applies it, one step per short
transaction. ``lifecycle_notices`` names the warnings already sent for the current state
("archive-7", "purge-1", ...), so none is ever sent twice. Concurrent runs never do the same
step twice: a run takes each tenant's row with ``SELECT ... FOR UPDATE SKIP LOCKED``, and the
purge holds its own advisory lock (workspace.lifecycle.purge).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.events import Event
from tenants.models import Tenant
from tenants.schedule import (
    MAX_STEPS_PER_RUN,
    LifecycleSnapshot,
    LifecycleStep,
    PlannedStep,
    lifecycle_plan,
    next_step,
)

from ._common import (
    LIFECYCLE_FIELDS,
    audit_both,
    dates_data,
    host_cache_forget_on_commit,
    to_public,
)
from .notices import email_owners_on_commit, owner_emails
from .purge import purge_counts_capture, workspace_purge

logger = logging.getLogger("workspace.lifecycle")


def _apply(tenant: Tenant, step: PlannedStep, now: datetime) -> None:
    """Perform one non-purge step on the locked row, inside the caller's transaction."""
    if step.action == "archive":
        before = tenant.state
        tenant.state = Tenant.State.ARCHIVED
        # The promised date, not the moment the run got to it: the purge date told to the
        # owners at cancellation stays exact.
        tenant.archived_at = step.due_at
        tenant.lifecycle_notices = []
        tenant.save(update_fields=LIFECYCLE_FIELDS)
        audit_both(
            tenant,
            Event.WORKSPACE_ARCHIVED,
            changes={"state": [before, tenant.state]},
            data=dates_data(tenant),
        )
        email_owners_on_commit(tenant, "lifecycle_archived")
        host_cache_forget_on_commit(tenant)
        return
    kind = "archive" if step.action.startswith("notify-archive") else "purge"
    tenant.lifecycle_notices = [*(tenant.lifecycle_notices or []), *step.notice_keys]
    tenant.save(update_fields=["lifecycle_notices"])
    recipients = owner_emails(tenant)
    audit_both(
        tenant,
        Event.WORKSPACE_LIFECYCLE_NOTICE_SENT,
        data={
            "notice": f"{kind}-{step.days}",
            "recipients": len(recipients),
            **dates_data(tenant),
        },
    )
    email_owners_on_commit(
        tenant, f"lifecycle_{kind}_notice", recipients=recipients, days=step.days
    )


def _mark_purging(tenant: Tenant, now: datetime) -> None:
    """Archived past its date: close it for good and capture the receipt's counts, in the
    same transaction, before anything is deleted."""
    before = tenant.state
    tenant.state = Tenant.State.PURGING
    tenant.purge_requested_at = now
    tenant.purge_counts = purge_counts_capture(tenant)
    tenant.save(update_fields=[*LIFECYCLE_FIELDS, "purge_counts"])
    audit_both(
        tenant,
        Event.WORKSPACE_PURGE_STARTED,
        changes={"state": [before, tenant.state]},
        data={"counts": tenant.purge_counts},
    )
    host_cache_forget_on_commit(tenant)


def _run_for(tenant_id: int, now: datetime) -> list[LifecycleStep]:
    done: list[LifecycleStep] = []
    for _ in range(MAX_STEPS_PER_RUN):
        with transaction.atomic():
            to_public()
            # Another run holding this row is doing the same work: leave it to that run.
            tenant = Tenant.objects.select_for_update(skip_locked=True).filter(pk=tenant_id).first()
            if tenant is None:
                return done
            step = next_step(LifecycleSnapshot.of(tenant), now)
            if step is None:
                return done
            if step.action != "purge":
                _apply(tenant, step, now)
                done.append(LifecycleStep(tenant.slug, step.action, step.due_at))
                continue
            if tenant.state != Tenant.State.PURGING:
                _mark_purging(tenant, now)
            slug = tenant.slug
        try:
            receipt = workspace_purge(tenant_id=tenant_id)
        except Exception:
            done.append(LifecycleStep(slug, "purge-failed", step.due_at))
            return done
        if receipt is not None:
            done.append(LifecycleStep(slug, "purge", step.due_at))
        return done
    return done


def lifecycle_run(*, now: datetime | None = None, dry_run: bool = False) -> list[LifecycleStep]:
    """Do (or, with ``dry_run``, list) every lifecycle step that is due: warning emails,
    archiving, purging. Idempotent: a second run at the same moment finds nothing to do."""
    now = now or timezone.now()
    to_public()
    tenant_ids = list(
        Tenant.objects.filter(
            state__in=[Tenant.State.CANCELLED, Tenant.State.ARCHIVED, Tenant.State.PURGING]
        )
        .exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    steps: list[LifecycleStep] = []
    for tenant_id in tenant_ids:
        if dry_run:
            tenant = Tenant.objects.filter(pk=tenant_id).first()
            if tenant is not None:
                steps.extend(lifecycle_plan(tenant, now))
            continue
        try:
            steps.extend(_run_for(tenant_id, now))
        except Exception:
            # One broken workspace must not stop the others; the next run tries again.
            logger.exception("lifecycle step failed for workspace %s", tenant_id)
    to_public()
    return steps
