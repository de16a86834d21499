"""Members: who may change or remove whom, changing a member's role, removing a member.

Invariant: nobody changes their own role or removes themselves; a member changes or removes
only members whose current role is within their own (``kernel.capabilities.can_grant_role``),
a company administrator only the customers of their own company; the last owner can be
neither removed nor demoted. Either change ends the member's sessions in this workspace.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from accounts.services import SessionEndReason
from audit.events import Event
from kernel.capabilities import (
    COMPANY_MEMBERS_MANAGE,
    MEMBERS_MANAGE,
    Capability,
    can_grant_role,
    capabilities_for,
)
from kernel.roles import Role
from kernel.transactions import transaction_retrying
from tenants.models import Tenant

from ..authz import ACTOR_NOT_IN_WORKSPACE
from ..models import Membership
from ._common import (
    _audit,
    _authorize,
    _changes,
    _clean_role,
    _lock_members,
    _locked_member,
    _sessions_end,
)
from .company_people import OWN_COMPANY_ONLY, _clean_company, _of_own_company

# Messages people see (tests assert on them).
MEMBER_OUTRANKS_YOU = "This member's role has permissions you do not hold, so you cannot change it."
CANNOT_CHANGE_OWN_ROLE = "You cannot change your own role. Ask another owner or admin."
CANNOT_REMOVE_YOURSELF = "You cannot remove yourself from the workspace."
LAST_OWNER = "The workspace needs an owner. Transfer ownership to someone else first."


def membership_manageable_by(actor: Membership | None, target: Membership) -> bool:
    """Whether ``actor`` may change ``target``'s role or remove them (the pages hide the
    buttons otherwise; the services refuse with the specific reason)."""
    return membership_manage_refusal(actor, target) is None


def membership_manage_refusal(actor: Membership | None, target: Membership) -> str | None:
    """Why ``actor`` may not change or remove ``target``, or None when they may."""
    if actor is None or target.tenant_id != actor.tenant_id:
        return ACTOR_NOT_IN_WORKSPACE
    held = capabilities_for(actor)
    if actor.is_customer:
        if COMPANY_MEMBERS_MANAGE not in held:
            return ACTOR_NOT_IN_WORKSPACE
        if not _of_own_company(actor, target):
            return OWN_COMPANY_ONLY
    elif MEMBERS_MANAGE not in held:
        return ACTOR_NOT_IN_WORKSPACE
    if target.pk == actor.pk:
        return CANNOT_CHANGE_OWN_ROLE
    if not can_grant_role(actor, target.role):
        return MEMBER_OUTRANKS_YOU
    return None


def _ensure_not_last_owner(tenant: Tenant, target: Membership) -> None:
    """Refuse to take the Owner role from ``target`` when no other active owner remains.

    Counts the owners on rows locked the one way (``_lock_members``: a row this transaction
    has already locked is not waited for), so two owners demoting each other cannot both
    succeed."""
    if target.role != Role.OWNER:
        return
    owners = [
        row.pk
        for row in _lock_members(tenant, target).values()
        if row.role == Role.OWNER and row.is_active
    ]
    if [pk for pk in owners if pk != target.pk] == []:
        raise ValidationError(LAST_OWNER)


def _locked_actor_and_target(
    tenant: Tenant,
    actor: Membership,
    membership: Membership,
    *,
    staff: Capability,
    customer: Capability | None = None,
) -> tuple[Membership, Membership]:
    """Lock the actor's, the target's and every owner's row (one statement, id order), then
    authorise the actor as stored now: a change committed by someone else a moment ago (the
    actor demoted or removed) is what counts, not what the actor was when the page loaded."""
    locked = _lock_members(tenant, actor, membership)
    actor = _authorize(tenant=tenant, actor=actor, staff=staff, customer=customer)
    return actor, _locked_member(locked, membership)


def membership_change_role(
    *,
    tenant: Tenant,
    actor: Membership,
    membership: Membership,
    role: str,
    company_id: int | None = None,
) -> Membership:
    """Give ``membership`` another role (and, for customer roles, its company).

    One durable transaction, run again after a deadlock or serialization failure
    (``kernel.transactions``)."""
    _authorize(tenant=tenant, actor=actor, staff=MEMBERS_MANAGE)  # refuse early, lock nothing
    return transaction_retrying(
        lambda: _change_role(
            tenant=tenant, actor=actor, membership=membership, role=role, company_id=company_id
        )
    )


def _change_role(
    *, tenant: Tenant, actor: Membership, membership: Membership, role: str, company_id: int | None
) -> Membership:
    actor, target = _locked_actor_and_target(tenant, actor, membership, staff=MEMBERS_MANAGE)
    refusal = membership_manage_refusal(actor, target)
    if refusal is not None:
        raise ValidationError(refusal)
    role = _clean_role(actor, role)
    company_id = _clean_company(tenant, role, company_id)
    if target.role == role and target.company_id == company_id:
        return target
    _ensure_not_last_owner(tenant, target)
    before = Membership(role=target.role, company_id=target.company_id)
    target.role = role
    target.company_id = company_id
    target.save(update_fields=["role", "company_id"])
    _audit(
        tenant=tenant,
        actor=actor,
        event_type=Event.MEMBER_ROLE_CHANGED,
        target=target.user,
        changes=_changes(before, target),
    )
    _sessions_end(user=target.user, tenant=tenant, reason=SessionEndReason.ROLE_CHANGED)
    return target


def membership_remove(*, tenant: Tenant, actor: Membership, membership: Membership) -> None:
    """Take a member out of the workspace; their account stays, their sessions here end.

    One durable transaction, run again after a deadlock or serialization failure; called
    inside another transaction (a company deleted with its people), a part of that one."""
    _authorize(
        tenant=tenant, actor=actor, staff=MEMBERS_MANAGE, customer=COMPANY_MEMBERS_MANAGE
    )  # refuse early, lock nothing
    transaction_retrying(lambda: _remove(tenant=tenant, actor=actor, membership=membership))


def _remove(*, tenant: Tenant, actor: Membership, membership: Membership) -> None:
    actor, target = _locked_actor_and_target(
        tenant, actor, membership, staff=MEMBERS_MANAGE, customer=COMPANY_MEMBERS_MANAGE
    )
    refusal = membership_manage_refusal(actor, target)
    if refusal == CANNOT_CHANGE_OWN_ROLE:
        refusal = CANNOT_REMOVE_YOURSELF
    if refusal is not None:
        raise ValidationError(refusal)
    _ensure_not_last_owner(tenant, target)
    user = target.user
    before = Membership(role=target.role, company_id=target.company_id)
    target.delete()
    _audit(
        tenant=tenant,
        actor=actor,
        event_type=Event.MEMBER_REMOVED,
        target=user,
        changes=_changes(before, None),
    )
    _sessions_end(user=user, tenant=tenant, reason=SessionEndReason.MEMBER_REMOVED)
