"""Invitations: issuing, withdrawing, checking and accepting an invitation link.

Invariant: a member invites only with a role they may grant (``_common._clean_role``), a
company administrator only customers of their own company; the link's token exists only in
the email and in :class:`IssuedInvitation` (the database keeps its digest); accepting holds
an existing account to the sign-in rules (throttle, two-factor) and withdraws the invitation
after ``MAX_ACCEPT_ATTEMPTS`` wrong passwords.
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
from accounts.twofactor import services as two_factor
from audit.events import Event
from audit.services import PLATFORM_STREAM, audit_event_record
from kernel.capabilities import COMPANY_MEMBERS_MANAGE, MEMBERS_INVITE, can_grant_role
from kernel.context import client_ip
from kernel.text import text_fields_check
from tenants.models import Tenant

from ..authz import ACTOR_NOT_IN_WORKSPACE
from ..companies import company_exists
from ..models import Invitation, Membership
from ..selectors import token_digest
from ._common import (
    ROLE_NOT_GRANTABLE,
    _audit,
    _authorize,
    _changes,
    _clean_role,
    _invitation_target,
)
from .company_people import OWN_COMPANY_ONLY, _clean_company, _of_own_company

INVITATION_DAYS = 7
MAX_ACCEPT_ATTEMPTS = 5
INVITATION_ACCEPT_THROTTLED = (
    "Too many attempts with this invitation, or from your network. "
    "Please wait a while and try again."
)
# Every request to an invitation link (page or form), per address and per link; a wrong
# password of an existing account also counts in the sign-in defence (accounts.throttle).
INVITATION_ACCEPT = throttle.Limit(
    name="invitation_accept",
    rules=(
        throttle.Rate(throttle.Per.IP, 30, 60 * 60),
        throttle.Rate(throttle.Per.LINK, 20, 60 * 60),
    ),
    message=INVITATION_ACCEPT_THROTTLED,
    event=Event.REQUEST_THROTTLED,
)

# Messages people see (tests assert on them).
WORKSPACE_NOT_ACTIVE = "This workspace is not accepting new members."
EMAIL_INVALID = "Enter a valid email address."
ALREADY_MEMBER = "This person is already a member of the workspace."
INVITATION_NOT_OPEN = "This invitation has already been accepted or revoked."

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
    from ..tasks import send_invitation_email

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
    # A valid address may be longer (320) than the column (254): refused, not a DataError.
    text_fields_check(Invitation(email=email), fields=["email"])
    role = _clean_role(actor, role)
    company_id = _clean_company(tenant, role, company_id)
    now = timezone.now()
    with transaction.atomic():
        if Membership.objects.filter(tenant=tenant, user__email=email, is_active=True).exists():
            raise ValidationError({"email": ALREADY_MEMBER})
        for earlier in Invitation.objects.select_for_update().filter(
            tenant=tenant, email=email, accepted_at__isnull=True, revoked_at__isnull=True
        ):
            if actor.is_customer and not _of_own_company(actor, earlier):
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
        if actor.is_customer and not _of_own_company(actor, invitation):
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


def invitation_url_path(token: str) -> str:
    return reverse("invitations:accept", urlconf="config.urls_tenant", kwargs={"token": token})
