"""Member management: invitations, role changes, removal, ownership transfer.

Invariant: every function takes keyword-only arguments including ``tenant`` and ``actor``
(the acting Membership, or the request for accepting an invitation), runs in one
transaction, checks the actor's capability again with :func:`kernel.capabilities.require` (so
a task or command cannot skip the page's check), enforces the rules below, records its
audit event in the same transaction with ``changes`` as ``{field: [before, after]}``, and
sends email only after commit.

Rules:
- a member grants only a role whose capabilities they hold themselves
  (:func:`kernel.capabilities.can_grant_role`), and changes or removes only members whose
  current role is within their own in the same sense;
- nobody changes their own role or removes themselves;
- the Owner role is handed over only by :func:`ownership_transfer` (owners only, confirmed
  on its page); the last owner can be neither removed nor demoted;
- a company administrator invites and removes only customer-role people of their own company;
- removing a member or changing their role ends their sessions in this workspace at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts import throttle
from accounts.models import User
from accounts.services import SessionEndReason
from accounts.twofactor.action_codes import (
    Action,
    ConfirmedAction,
    action_confirmation_check,
)
from audit.events import Event
from audit.services import PLATFORM_STREAM, Target, audit_event_record
from kernel.capabilities import (
    COMPANY_MEMBERS_MANAGE,
    MEMBERS_INVITE,
    MEMBERS_MANAGE,
    OWNERSHIP_TRANSFER,
    Capability,
    can_grant_role,
    capabilities_for,
    require,
)
from kernel.context import audit_context_get, client_ip
from kernel.roles import CUSTOMER_ROLES, STAFF_ROLES, Role
from tenants.models import Tenant

from .authz import ACTOR_NOT_IN_WORKSPACE, current_member
from .companies import company_exists
from .models import Invitation, Membership
from .selectors import token_digest

INVITATION_DAYS = 7
MAX_ACCEPT_ATTEMPTS = 5
SESSIONS_END_OWNERSHIP = "ownership_transferred"  # the reason recorded with the ended sessions

# Messages people see (tests assert on them).
WORKSPACE_NOT_ACTIVE = "This workspace is not accepting new members."
ROLE_UNKNOWN = "Choose one of the roles."
ROLE_NOT_GRANTABLE = "You can only give a role whose permissions you hold yourself."
OWNER_ONLY_BY_TRANSFER = (
    "The owner role is not given directly. The current owner hands it over with "
    "“Transfer ownership”."
)
MEMBER_OUTRANKS_YOU = "This member's role has permissions you do not hold, so you cannot change it."
CANNOT_CHANGE_OWN_ROLE = "You cannot change your own role. Ask another owner or admin."
CANNOT_REMOVE_YOURSELF = "You cannot remove yourself from the workspace."
LAST_OWNER = "The workspace needs an owner. Transfer ownership to someone else first."
COMPANY_REQUIRED = "Choose the company this person belongs to."
COMPANY_ONLY_FOR_CUSTOMERS = "Only customer roles belong to a company."
COMPANY_UNKNOWN = "Choose one of the workspace's companies."
OWN_COMPANY_ONLY = "You can invite and remove only the people of your own company."
CUSTOMER_ROLES_ONLY = "You can give only the Customer or Company administrator role."
EMAIL_INVALID = "Enter a valid email address."
ALREADY_MEMBER = "This person is already a member of the workspace."
INVITATION_NOT_OPEN = "This invitation has already been accepted or revoked."
TRANSFER_TARGET_INVALID = "Choose an active staff member of this workspace other than yourself."

# The accept page: each problem has its message and the HTTP status the page answers with.
INVITATION_INVALID = (
    "This invitation link is not valid. Check that you opened the whole link from the email, "
    "or ask for a new invitation."
)
INVITATION_EXPIRED = "This invitation has expired. Ask the person who invited you for a new one."
INVITATION_USED = "This invitation has already been used. Sign in instead."
INVITATION_REVOKED = "This invitation has been withdrawn. Ask the workspace for a new one."
INVITATION_LOCKED = (
    "Too many wrong passwords were entered, so this invitation has been withdrawn. "
    "Ask the workspace for a new one."
)
INVITATION_ALREADY_MEMBER = "You are already a member of this workspace. Sign in instead."
INVITATION_WRONG_PASSWORD = "The password is incorrect."  # noqa: S105 (a message, not a secret)
INVITATION_NAME_REQUIRED = "Enter your name."


class InvitationUnusable(ValidationError):
    """The link cannot be used; ``status`` is what the accept page answers (400 or 410)."""

    def __init__(self, message: str, *, status: int, reason: str):
        super().__init__(message, code=reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class AcceptedInvitation:
    membership: Membership
    second_factor_pending: bool  # the account has 2FA: the next step asks for it


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str  # only here and in the email; the database keeps its SHA-256


# --- Shared checks -------------------------------------------------------------------------


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
        if not target.is_customer or target.company_id != actor.company_id:
            return OWN_COMPANY_ONLY
    elif MEMBERS_MANAGE not in held:
        return ACTOR_NOT_IN_WORKSPACE
    if target.pk == actor.pk:
        return CANNOT_CHANGE_OWN_ROLE
    if not can_grant_role(actor, target.role):
        return MEMBER_OUTRANKS_YOU
    return None


def _clean_company(tenant: Tenant, role: str, company_id: int | None) -> int | None:
    if role in CUSTOMER_ROLES:
        if company_id is None:
            raise ValidationError({"company": COMPANY_REQUIRED})
        if not company_exists(tenant, company_id):
            raise ValidationError({"company": COMPANY_UNKNOWN})
        return company_id
    if company_id is not None:
        raise ValidationError({"company": COMPANY_ONLY_FOR_CUSTOMERS})
    return None


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


def _lock_member(tenant: Tenant, membership: Membership) -> Membership:
    """The current row, locked; a membership of another workspace is refused outright."""
    locked = (
        Membership.objects.select_for_update()
        .select_related("user", "tenant")
        .filter(pk=membership.pk, tenant=tenant)
        .first()
    )
    if locked is None:
        raise PermissionDenied(ACTOR_NOT_IN_WORKSPACE)
    return locked


def _ensure_not_last_owner(tenant: Tenant, target: Membership) -> None:
    if target.role != Role.OWNER:
        return
    # Lock every owner row so two owners demoting each other cannot both succeed.
    owners = list(
        Membership.objects.select_for_update()
        .filter(tenant=tenant, role=Role.OWNER, is_active=True)
        .values_list("pk", flat=True)
    )
    if [pk for pk in owners if pk != target.pk] == []:
        raise ValidationError(LAST_OWNER)


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


# --- Invitations ---------------------------------------------------------------------------


def membership_invite(
    *,
    tenant: Tenant,
    actor: Membership,
    email: str,
    role: str,
    company_id: int | None = None,
) -> IssuedInvitation:
    """Invite ``email`` to the workspace with ``role``; emails a link valid for 7 days.

    A company administrator's invitation is always for their own company. Inviting the same
    address again withdraws the earlier open invitation.
    """
    from .tasks import send_invitation_email

    actor = _authorize(
        tenant=tenant, actor=actor, staff=MEMBERS_INVITE, customer=COMPANY_MEMBERS_MANAGE
    )
    if actor.is_customer:
        if company_id is not None and company_id != actor.company_id:
            raise ValidationError({"company": OWN_COMPANY_ONLY})
        company_id = actor.company_id
    if not tenant.takes_writes:
        raise ValidationError(WORKSPACE_NOT_ACTIVE)
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": EMAIL_INVALID}) from None
    role = _clean_role(actor, role)
    company_id = _clean_company(tenant, role, company_id)
    now = timezone.now()
    with transaction.atomic():
        if Membership.objects.filter(tenant=tenant, user__email=email, is_active=True).exists():
            raise ValidationError({"email": ALREADY_MEMBER})
        for earlier in Invitation.objects.select_for_update().filter(
            tenant=tenant, email=email, accepted_at__isnull=True, revoked_at__isnull=True
        ):
            if actor.is_customer and (
                earlier.role not in CUSTOMER_ROLES or earlier.company_id != actor.company_id
            ):
                # Someone else's invitation to this address: not the company admin's to replace.
                raise ValidationError({"email": OWN_COMPANY_ONLY})
            earlier.revoked_at = now
            earlier.save(update_fields=["revoked_at"])
            _audit(
                tenant=tenant,
                actor=actor,
                event_type=Event.MEMBER_INVITATION_REVOKED,
                target=_invitation_target(earlier),
                changes={"status": ["pending", "revoked"]},
                data={"reason": "superseded", "role": earlier.role},
            )
        token = secrets.token_urlsafe(32)
        invitation = Invitation.objects.create(
            tenant=tenant,
            email=email,
            role=role,
            company_id=company_id,
            token_digest=token_digest(token),
            invited_by=actor.user,
            expires_at=now + timedelta(days=INVITATION_DAYS),
        )
        _audit(
            tenant=tenant,
            actor=actor,
            event_type=Event.MEMBER_INVITED,
            target=_invitation_target(invitation),
            changes={"role": [None, role.value], "company_id": [None, company_id]},
            data={"email": email, "expires_at": invitation.expires_at.isoformat()},
        )
        transaction.on_commit(
            lambda: send_invitation_email.delay(
                tenant_schema=tenant.schema_name, invitation_id=invitation.pk, token=token
            )
        )
    return IssuedInvitation(invitation=invitation, token=token)


def invitation_revoke(*, tenant: Tenant, actor: Membership, invitation: Invitation) -> Invitation:
    """Withdraw an open invitation; its link stops working at once."""
    actor = _authorize(
        tenant=tenant, actor=actor, staff=MEMBERS_INVITE, customer=COMPANY_MEMBERS_MANAGE
    )
    with transaction.atomic():
        locked = (
            Invitation.objects.select_for_update().filter(pk=invitation.pk, tenant=tenant).first()
        )
        if locked is None:
            raise PermissionDenied(ACTOR_NOT_IN_WORKSPACE)
        invitation = locked
        if actor.is_customer and (
            invitation.role not in CUSTOMER_ROLES or invitation.company_id != actor.company_id
        ):
            raise PermissionDenied(OWN_COMPANY_ONLY)
        if not can_grant_role(actor, invitation.role):
            raise PermissionDenied(ROLE_NOT_GRANTABLE)
        if invitation.accepted_at is not None or invitation.revoked_at is not None:
            raise ValidationError(INVITATION_NOT_OPEN)
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        _audit(
            tenant=tenant,
            actor=actor,
            event_type=Event.MEMBER_INVITATION_REVOKED,
            target=_invitation_target(invitation),
            changes={"status": ["pending", "revoked"]},
            data={"reason": "revoked", "role": invitation.role},
        )
    return invitation


def invitation_check(*, tenant: Tenant, invitation: Invitation | None) -> Invitation:
    """The invitation if its link can be used now; otherwise :class:`InvitationUnusable`."""
    if invitation is None or invitation.tenant_id != tenant.pk:
        raise InvitationUnusable(INVITATION_INVALID, status=400, reason="invalid")
    if invitation.accepted_at is not None:
        raise InvitationUnusable(INVITATION_USED, status=410, reason="used")
    if invitation.revoked_at is not None:
        locked = invitation.failed_attempts >= MAX_ACCEPT_ATTEMPTS
        message = INVITATION_LOCKED if locked else INVITATION_REVOKED
        raise InvitationUnusable(message, status=410, reason="revoked")
    if invitation.expires_at <= timezone.now():
        raise InvitationUnusable(INVITATION_EXPIRED, status=410, reason="expired")
    if not tenant.takes_writes:
        raise InvitationUnusable(WORKSPACE_NOT_ACTIVE, status=410, reason="workspace_inactive")
    if invitation.is_customer and not company_exists(tenant, invitation.company_id):
        # The company was deleted after the invitation went out.
        raise InvitationUnusable(INVITATION_REVOKED, status=410, reason="company_gone")
    return invitation


def invitation_accept(
    *, request, invitation: Invitation, password: str, full_name: str = ""
) -> AcceptedInvitation:
    """Accept on the workspace host: create the account (name + password, same validators as
    sign-up) or, for an existing account, check its password; then add the membership and
    sign in.

    An existing account is held to the sign-in rules: the sign-in throttle applies (raises
    ``accounts.throttle.Throttled`` before any hashing) and a wrong password counts against
    it as well as against the invitation, which is withdrawn at ``MAX_ACCEPT_ATTEMPTS``. An
    account with two-factor authentication is only half signed in: the membership is made,
    and the second factor is asked for next (``second_factor_pending``).
    """
    tenant: Tenant = request.tenant
    ip = client_ip(request)
    refused: ValidationError | None = None
    throttle.sign_in_attempt_check(email=invitation.email, ip=ip)
    with transaction.atomic():
        found = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("invited_by")
            .filter(pk=invitation.pk, tenant=tenant)
            .first()
        )
        try:
            locked = invitation_check(tenant=tenant, invitation=found)
        except InvitationUnusable as error:
            if found is not None:
                _audit_refused(tenant, found, error.reason)
            refused = error
        else:
            user = User.objects.select_for_update().filter(email=locked.email).first()
            if user is not None and (not user.is_active or not user.check_password(password)):
                throttle.sign_in_failure_record(
                    email=user.email, ip=ip, factor=throttle.Factor.PASSWORD
                )
                refused = _count_wrong_password(tenant, locked)
            else:
                accepted = _join(
                    request=request,
                    invitation=locked,
                    user=user,
                    password=password,
                    full_name=full_name,
                )
    if refused is not None:
        # Raised after the commit: the attempt counter and the events must persist.
        raise refused
    if not accepted.second_factor_pending:
        throttle.sign_in_success_record(email=accepted.membership.user.email, ip=ip)
    return accepted


def _count_wrong_password(tenant: Tenant, invitation: Invitation) -> ValidationError:
    invitation.failed_attempts += 1
    fields = ["failed_attempts"]
    if invitation.failed_attempts >= MAX_ACCEPT_ATTEMPTS:
        invitation.revoked_at = timezone.now()
        fields.append("revoked_at")
    invitation.save(update_fields=fields)
    _audit_refused(tenant, invitation, "wrong_password")
    if invitation.revoked_at is not None:
        return InvitationUnusable(INVITATION_LOCKED, status=410, reason="locked")
    return ValidationError({"password": INVITATION_WRONG_PASSWORD})


def _join(
    *, request, invitation: Invitation, user: User | None, password: str, full_name: str
) -> AcceptedInvitation:
    tenant: Tenant = request.tenant
    new_account = user is None
    if user is None:
        full_name = (full_name or "").strip()
        if not full_name:
            raise ValidationError({"full_name": INVITATION_NAME_REQUIRED})
        try:
            validate_password(password, User(email=invitation.email, full_name=full_name))
        except ValidationError as error:
            raise ValidationError({"password": error.messages}) from None
        user = User.objects.create_user(
            email=invitation.email, password=password, full_name=full_name
        )
    membership = Membership.objects.select_for_update().filter(user=user, tenant=tenant).first()
    if membership is not None and membership.is_active:
        raise InvitationUnusable(INVITATION_ALREADY_MEMBER, status=410, reason="member")
    if membership is None:
        membership = Membership(user=user, tenant=tenant)
    membership.role = invitation.role
    membership.company_id = invitation.company_id
    membership.is_active = True
    membership.save()
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    from accounts.twofactor import services as two_factor

    second_factor_pending = not new_account and two_factor.user_has_2fa(user)
    if second_factor_pending:
        # Like any sign-in: the password alone does not open a session for a 2FA account.
        two_factor.pending_sign_in_start(request=request, user=user)
    else:
        account_services.session_sign_in(request=request, user=user)
    if new_account:
        audit_event_record(
            event_type=Event.USER_SIGNED_UP,
            stream=PLATFORM_STREAM,
            actor=user,
            target=user,
            data={"via": "invitation"},
        )
    audit_event_record(
        event_type=Event.MEMBER_ADDED,
        stream=tenant,
        actor=user,
        target=user,
        changes=_changes(None, membership),
        data={
            "role": membership.role,
            "invitation_id": invitation.pk,
            "invited_by": invitation.invited_by.email if invitation.invited_by else None,
        },
    )
    if not second_factor_pending:
        audit_event_record(
            event_type=Event.SIGN_IN_SUCCEEDED,
            stream=tenant,
            actor=user,
            target=user,
            data={"method": "invitation"},
        )
    return AcceptedInvitation(membership=membership, second_factor_pending=second_factor_pending)


def _audit_refused(tenant: Tenant, invitation: Invitation, reason: str) -> None:
    audit_event_record(
        event_type=Event.MEMBER_INVITATION_REFUSED,
        stream=tenant,
        target=_invitation_target(invitation),
        data={"reason": reason, "failed_attempts": invitation.failed_attempts},
    )


# --- Members -------------------------------------------------------------------------------


def membership_change_role(
    *,
    tenant: Tenant,
    actor: Membership,
    membership: Membership,
    role: str,
    company_id: int | None = None,
) -> Membership:
    """Give ``membership`` another role (and, for customer roles, its company)."""
    actor = _authorize(tenant=tenant, actor=actor, staff=MEMBERS_MANAGE)
    with transaction.atomic():
        target = _lock_member(tenant, membership)
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
    """Take a member out of the workspace; their account stays, their sessions here end."""
    actor = _authorize(
        tenant=tenant, actor=actor, staff=MEMBERS_MANAGE, customer=COMPANY_MEMBERS_MANAGE
    )
    with transaction.atomic():
        target = _lock_member(tenant, membership)
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
    (``keep_session_key``), which has just re-confirmed.
    """
    actor = _authorize(tenant=tenant, actor=actor, staff=OWNERSHIP_TRANSFER)
    with transaction.atomic():
        previous = _lock_member(tenant, actor)
        target = (
            Membership.objects.select_for_update()
            .select_related("user")
            .filter(pk=new_owner.pk, tenant=tenant)
            .first()
        )
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


def invitation_url_path(token: str) -> str:
    return reverse("invitations:accept", urlconf="config.urls_tenant", kwargs={"token": token})
