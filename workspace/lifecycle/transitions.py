"""The transitions people make: an owner cancels or deletes at once, support restores.

Invariant: each runs in one short transaction that locks the Tenant row, checks who is asking
and the state it is in, writes its audit event to the workspace's stream and the platform's
(``_common.audit_both``), and emails owners / enqueues the purge only after commit. The
caller's Tenant instance gets the saved lifecycle fields, and the connection goes back to the
caller's workspace afterwards. The cancellation's and the deletion request's events name the
schema: in the platform stream they are the keyed decisions a purge rests on
(``proof.purge_authorization``), and a restore's event withdraws them.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User, UserSession
from accounts.services import user_sessions_end
from accounts.twofactor.action_codes import Action, ConfirmedAction, action_confirmation_check
from audit.events import Event
from kernel.capabilities import WORKSPACE_DELETE
from kernel.context import ActorKind
from rbac.authz import ACTOR_NOT_IN_WORKSPACE, authorize
from rbac.models import Membership
from support.models import ImpersonationSession
from support.services import impersonation_end
from tenants.models import Tenant

from ..tasks import workspace_purge_task
from ._common import (
    LIFECYCLE_FIELDS,
    audit_both,
    dates_data,
    host_cache_forget_on_commit,
    keeps_connection_tenant,
    locked,
    sync,
)
from .notices import email_owners_on_commit, owner_emails

# Messages users (owners, support agents) see.
CANCEL_NOT_ACTIVE = "Only an active workspace can be cancelled."
DELETE_NOT_ALLOWED = "This workspace is already being deleted or is closed."
TYPED_SLUG_MISMATCH = "Type the workspace address exactly as shown to confirm the deletion."
NOT_A_MEMBER = ACTOR_NOT_IN_WORKSPACE
RESTORE_NOT_AN_AGENT = "Only platform support agents can restore a workspace."
RESTORE_REASON_REQUIRED = "Give the reason for restoring this workspace."
RESTORE_NOT_RESTORABLE = "Only a cancelled or archived workspace can be restored."


def _state_start(
    row: Tenant, *, state: str, billing_status: str, cancelled_at: datetime | None
) -> dict[str, list[str]]:
    """Put the locked row at the start of ``state`` (cancelled, or active again): every later
    deadline and sent warning is cleared. Returns the audit changes."""
    changes = {
        "state": [row.state, state],
        "billing_status": [row.billing_status, billing_status],
    }
    row.state = state
    row.billing_status = billing_status
    row.cancelled_at = cancelled_at
    row.archived_at = None
    row.purge_requested_at = None
    row.lifecycle_notices = []
    row.save(update_fields=LIFECYCLE_FIELDS)
    return changes


def _check_owner(actor: Membership, tenant: Tenant) -> None:
    authorize(tenant, actor, WORKSPACE_DELETE)


# --- Owner: cancel


@keeps_connection_tenant
def workspace_cancel(*, tenant: Tenant, actor: Membership, confirmation: ConfirmedAction) -> Tenant:
    """The owner cancels: the workspace becomes read-only for EXPORT_WINDOW_DAYS (owners can
    export), then archived, then purged. Owners are emailed the dates."""
    _check_owner(actor, tenant)
    with transaction.atomic():
        row = locked(tenant.pk)
        if row.state != Tenant.State.ACTIVE:
            raise ValidationError(CANCEL_NOT_ACTIVE, code="not_active")
        action_confirmation_check(
            confirmation, actor=actor, tenant=row, action=Action.WORKSPACE_CANCEL, target=row
        )
        changes = _state_start(
            row,
            state=Tenant.State.CANCELLED,
            billing_status=Tenant.BillingStatus.CANCELLED,
            cancelled_at=timezone.now(),
        )
        audit_both(
            row,
            Event.WORKSPACE_CANCELLED,
            changes=changes,
            # The schema and the purge date make this event the keyed decision a purge needs
            # (proof.purge_authorization); the row alone is not proof.
            data={**dates_data(row), "schema": row.schema_name},
            actor=actor.user,
        )
        email_owners_on_commit(row, "lifecycle_cancelled")
        host_cache_forget_on_commit(row)
    sync(tenant, row)
    return row


# --- Owner: delete now


def _sessions_end(tenant: Tenant) -> int:
    """End every session of the workspace: members' (the gate refuses a session without its
    tracking row) and support's impersonation sessions."""
    ended = 0
    user_ids = set(
        UserSession.objects.filter(tenant_id=tenant.pk).values_list("user_id", flat=True)
    )
    for user in User.objects.filter(pk__in=user_ids).order_by("pk"):
        ended += user_sessions_end(user=user, tenant=tenant, reason="workspace_deleted")
    for session in ImpersonationSession.objects.filter(tenant_id=tenant.pk, ended_at__isnull=True):
        if impersonation_end(
            session=session, reason=ImpersonationSession.EndReason.ACCESS_DISABLED
        ):
            ended += 1
    return ended


@keeps_connection_tenant
def workspace_delete_now(
    *, tenant: Tenant, actor: Membership, confirmation: ConfirmedAction, typed_slug: str
) -> None:
    """The owner deletes the workspace at once: it closes now (PURGING), every session ends,
    and the purge task runs after commit."""
    _check_owner(actor, tenant)
    with transaction.atomic():
        row = locked(tenant.pk)
        if row.state not in (Tenant.State.ACTIVE, Tenant.State.CANCELLED):
            raise ValidationError(DELETE_NOT_ALLOWED, code="not_deletable")
        if (typed_slug or "").strip() != row.slug:
            raise ValidationError({"typed_slug": TYPED_SLUG_MISMATCH}, code="slug_mismatch")
        action_confirmation_check(
            confirmation, actor=actor, tenant=row, action=Action.WORKSPACE_DELETE, target=row
        )
        owners = owner_emails(row)
        before = (row.state, row.billing_status)
        row.state = Tenant.State.PURGING
        row.billing_status = Tenant.BillingStatus.CANCELLED
        row.purge_requested_at = timezone.now()
        row.save(update_fields=LIFECYCLE_FIELDS)
        audit_both(
            row,
            Event.WORKSPACE_DELETION_REQUESTED,
            changes={
                "state": [before[0], row.state],
                "billing_status": [before[1], row.billing_status],
            },
            # The keyed decision the purge needs (proof.purge_authorization), naming the schema.
            data={"schema": row.schema_name},
            actor=actor.user,
        )
        _sessions_end(row)
        email_owners_on_commit(row, "lifecycle_deletion_requested", recipients=owners)
        host_cache_forget_on_commit(row)
        tenant_id = row.pk
        transaction.on_commit(lambda: workspace_purge_task.delay(tenant_id=tenant_id))
    sync(tenant, row)


# --- Support: restore


@keeps_connection_tenant
def workspace_restore(*, tenant: Tenant, agent, reason: str) -> Tenant:
    """A support agent brings a cancelled or archived workspace back to active. The support
    console calls it through the ``workspace_restore`` declaration of WorkspaceConfig."""
    if not (getattr(agent, "is_support_agent", False) and getattr(agent, "is_active", False)):
        raise PermissionDenied(RESTORE_NOT_AN_AGENT)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": RESTORE_REASON_REQUIRED}, code="reason_required")
    with transaction.atomic():
        row = locked(tenant.pk)
        if row.state not in (Tenant.State.CANCELLED, Tenant.State.ARCHIVED):
            raise ValidationError(RESTORE_NOT_RESTORABLE, code="not_restorable")
        changes = _state_start(
            row,
            state=Tenant.State.ACTIVE,
            billing_status=Tenant.BillingStatus.ACTIVE,
            cancelled_at=None,
        )
        audit_both(
            row,
            Event.WORKSPACE_RESTORED,
            changes=changes,
            data={"reason": reason[:500]},
            actor=agent,
            actor_kind=ActorKind.SUPPORT_AGENT,
        )
        email_owners_on_commit(row, "lifecycle_restored")
        host_cache_forget_on_commit(row)
    sync(tenant, row)
    return row
