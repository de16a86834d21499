"""What every member-management service shares: the authorisation, the role a member may
give, the locked rows (taken in one order: :func:`_lock_members`), the audit record, the
changes it carries and ending sessions.

Invariant: services call :func:`_authorize` first, on the actor as stored now, and record
through :func:`_audit`, in the same transaction as the change; nothing here is public API
except :func:`roles_grantable_by` and the messages (re-exported by ``rbac.services``).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q

from accounts import services as account_services
from accounts.models import User
from audit.services import Target, audit_event_record
from kernel.capabilities import (
    COMPANY_MEMBERS_MANAGE,
    MEMBERS_INVITE,
    MEMBERS_MANAGE,
    Capability,
    can_grant_role,
    capabilities_for,
    require,
)
from kernel.context import audit_context_get
from kernel.roles import CUSTOMER_ROLES, Role
from tenants.models import Tenant

from ..authz import ACTOR_NOT_IN_WORKSPACE, current_member
from ..models import Invitation, Membership
from .company_people import CUSTOMER_ROLES_ONLY

# Messages people see (tests assert on them).
ROLE_UNKNOWN = "Choose one of the roles."
ROLE_NOT_GRANTABLE = "You can only give a role whose permissions you hold yourself."
OWNER_ONLY_BY_TRANSFER = (
    "The owner role is not given directly. The current owner hands it over with "
    "“Transfer ownership”."
)


def _authorize(
    *,
    tenant: Tenant,
    actor: Membership | None,
    staff: Capability,
    customer: Capability | None = None,
) -> Membership:
    """The actor as stored now (not as the caller remembers it: a member removed or demoted a
    moment ago cannot act on a stale object), an active member of ``tenant`` whose role grants
    ``staff`` (or, for a customer role, ``customer``)."""
    current = current_member(tenant, actor)
    if current.is_customer:
        if customer is None:
            raise PermissionDenied(f"This action needs {staff}.")
        require(current, customer)
    else:
        require(current, staff)
    return current


def roles_grantable_by(actor: Membership | None) -> list[Role]:
    """The roles ``actor`` may give in an invitation or a role change (never Owner)."""
    if actor is None:
        return []
    held = capabilities_for(actor)
    if actor.is_customer:
        if COMPANY_MEMBERS_MANAGE not in held:
            return []
        return [role for role in CUSTOMER_ROLES if can_grant_role(actor, role)]
    if not held & {MEMBERS_INVITE, MEMBERS_MANAGE}:
        return []
    return [role for role in Role if role != Role.OWNER and can_grant_role(actor, role)]


def _clean_role(actor: Membership, role: str) -> Role:
    try:
        role = Role(role)
    except ValueError:
        raise ValidationError({"role": ROLE_UNKNOWN}) from None
    if role == Role.OWNER:
        raise ValidationError({"role": OWNER_ONLY_BY_TRANSFER})
    if actor.is_customer and role not in CUSTOMER_ROLES:
        raise ValidationError({"role": CUSTOMER_ROLES_ONLY})
    if not can_grant_role(actor, role):
        raise ValidationError({"role": ROLE_NOT_GRANTABLE})
    return role


def _lock_members(tenant: Tenant, *members: Membership) -> dict[int, Membership]:
    """The current rows of ``members`` and of every active owner of ``tenant``, locked, by id.

    The one way membership changes take their locks: one statement, only membership rows
    (``of=("self",)``: not the joined user and workspace rows), in id order. Two changes of
    the same workspace (two owners demoting each other) therefore wait for each other instead
    of each holding a row the other needs, which PostgreSQL would end as a deadlock. The owner
    rows are included because the "last owner" rule counts them."""
    rows = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user", "tenant")
        .filter(tenant=tenant)
        .filter(Q(pk__in=[m.pk for m in members]) | Q(role=Role.OWNER, is_active=True))
        .order_by("pk")
    )
    return {row.pk: row for row in rows}


def _locked_member(locked: dict[int, Membership], membership: Membership) -> Membership:
    """``membership``'s row from :func:`_lock_members`; one of another workspace (or gone) is
    refused outright."""
    row = locked.get(membership.pk)
    if row is None:
        raise PermissionDenied(ACTOR_NOT_IN_WORKSPACE)
    return row


def _audit(*, tenant: Tenant, actor: Membership | None, **fields) -> None:
    """Record in the workspace's stream. Inside a request the audit context names the actor
    (and any support agent acting for them); outside one (a task, a command) the acting
    member is named explicitly rather than "system"."""
    context = audit_context_get()
    if context.request is None and context.actor is None and actor is not None:
        fields["actor"] = actor.user
    audit_event_record(stream=tenant, **fields)


def _invitation_target(invitation: Invitation) -> Target:
    return Target("rbac.invitation", str(invitation.pk), invitation.email)


def _sessions_end(*, user: User, tenant: Tenant, reason: str, keep: str | None = None) -> int:
    """End ``user``'s sessions in this workspace (all but ``keep``, the actor's own)."""
    return account_services.user_sessions_end(
        user=user, tenant=tenant, except_session_key=keep, reason=reason
    )


def _changes(before: Membership | None, after: Membership | None) -> dict:
    fields = ("role", "company_id")
    changes = {}
    for field in fields:
        old = getattr(before, field) if before is not None else None
        new = getattr(after, field) if after is not None else None
        if old != new:
            changes[field] = [old, new]
    return changes
