"""Ownership transfer: the one way the Owner role is given.

Invariant: only an owner hands it over, to an active staff member other than themselves,
with an emailed one-time code confirmed for exactly this hand-over; the previous owner
becomes an admin, and both members' sessions in this workspace end except the previous
owner's current one.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError

from accounts.twofactor.action_codes import (
    Action,
    ConfirmedAction,
    action_confirmation_check,
)
from audit.events import Event
from kernel.capabilities import OWNERSHIP_TRANSFER
from kernel.roles import STAFF_ROLES, Role
from kernel.transactions import transaction_retrying
from tenants.models import Tenant

from ..authz import ACTOR_NOT_IN_WORKSPACE
from ..models import Membership
from ._common import (
    _audit,
    _authorize,
    _changes,
    _lock_members,
    _locked_member,
    _sessions_end,
)

SESSIONS_END_OWNERSHIP = "ownership_transferred"  # the reason recorded with the ended sessions

# Messages people see (tests assert on them).
TRANSFER_TARGET_INVALID = "Choose an active staff member of this workspace other than yourself."


def ownership_transfer_candidates(*, tenant: Tenant, actor: Membership):
    """Who may become the owner: active staff members other than the actor."""
    return (
        Membership.objects.select_related("user")
        .filter(tenant=tenant, is_active=True, role__in=STAFF_ROLES)
        .exclude(pk=actor.pk)
        .exclude(role=Role.OWNER)
        .order_by("user__full_name", "user__email")
    )


def ownership_transfer(
    *,
    tenant: Tenant,
    actor: Membership,
    new_owner: Membership,
    keep_session_key: str | None = None,
    confirmation: ConfirmedAction | None = None,
) -> Membership:
    """Make ``new_owner`` the owner; the previous owner becomes an admin.

    The page confirms first (the owner's password and an emailed one-time code); the service
    refuses without ``confirmation`` from ``accounts.twofactor.action_codes.action_code_confirm``
    for this owner, workspace and new owner.
    Both members' sessions in this workspace end, except the previous owner's current one
    (``keep_session_key``), which has just re-confirmed. One durable transaction, run again
    after a deadlock or serialization failure (``kernel.transactions``).
    """
    _authorize(tenant=tenant, actor=actor, staff=OWNERSHIP_TRANSFER)  # refuse early
    return transaction_retrying(
        lambda: _transfer(
            tenant=tenant,
            actor=actor,
            new_owner=new_owner,
            keep_session_key=keep_session_key,
            confirmation=confirmation,
        )
    )


def _transfer(
    *,
    tenant: Tenant,
    actor: Membership,
    new_owner: Membership,
    keep_session_key: str | None,
    confirmation: ConfirmedAction | None,
) -> Membership:
    # The rows locked the one way every membership change locks them (_lock_members), then
    # the actor authorised as stored now.
    locked = _lock_members(tenant, actor, new_owner)
    actor = _authorize(tenant=tenant, actor=actor, staff=OWNERSHIP_TRANSFER)
    previous = _locked_member(locked, actor)
    target = locked.get(new_owner.pk)
    if previous.role != Role.OWNER:
        raise PermissionDenied(ACTOR_NOT_IN_WORKSPACE)
    if (
        target is None
        or target.pk == previous.pk
        or not target.is_active
        or target.role not in STAFF_ROLES
        or target.role == Role.OWNER
    ):
        raise ValidationError({"member": TRANSFER_TARGET_INVALID})
    # An irreversible hand-over: only with an emailed code confirmed for exactly it.
    action_confirmation_check(
        confirmation,
        actor=actor,
        tenant=tenant,
        action=Action.OWNERSHIP_TRANSFER,
        target=target,
    )
    target_before = Membership(role=target.role, company_id=target.company_id)
    previous_before = Membership(role=previous.role, company_id=previous.company_id)
    target.role = Role.OWNER
    target.save(update_fields=["role"])
    previous.role = Role.ADMIN
    previous.save(update_fields=["role"])
    _audit(
        tenant=tenant,
        actor=actor,
        event_type=Event.OWNERSHIP_TRANSFERRED,
        target=target.user,
        changes={"owner": [previous.user.email, target.user.email]},
    )
    for member, before in ((target, target_before), (previous, previous_before)):
        _audit(
            tenant=tenant,
            actor=actor,
            event_type=Event.MEMBER_ROLE_CHANGED,
            target=member.user,
            changes=_changes(before, member),
            data={"via": "ownership_transfer"},
        )
    _sessions_end(user=target.user, tenant=tenant, reason=SESSIONS_END_OWNERSHIP)
    _sessions_end(
        user=previous.user,
        tenant=tenant,
        reason=SESSIONS_END_OWNERSHIP,
        keep=keep_session_key,
    )
    return target
