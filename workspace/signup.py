"""Sign-up on the public host, in two steps: the form, then the link emailed to the address.

1. ``sign_up_request`` (the form) creates nothing. It emails the address: a link to create
   the workspace (and the account) if the address has no account, or, if it has one, a
   notice saying someone tried to sign up with it, with sign-in and password-reset links and
   a link to add the workspace to the account with its password. The form answers exactly
   the same in both cases (same page, same work: the password is hashed either way), so it
   never tells a visitor whether an address has an account.
2. ``sign_up_confirm`` (the link) creates the workspace, the account if there is none (with
   the password chosen in step 1), and its ownership, in one transaction, and hands the new
   owner over to the workspace's own host.

Rate limits (``accounts.throttle``): the form per address and per email typed (``SIGN_UP``);
the link per address and per link, and workspaces created per address per hour
(``SIGN_UP_CONFIRM``, ``SIGN_UP_WORKSPACES_PER_IP_PER_HOUR``, counted only when one is
created); an existing account's password is held to the sign-in guessing defence.

Invariant: composed on the top floor because it spans floors: accounts (the user, the
pending request, the limiter, the hand-off to the new host), tenants (the schema from the
pool) and rbac (the owner's Membership). The audit events are written visibly here; emails
go out after commit.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import throttle
from accounts.models import SignUpRequest, User
from accounts.services import handoff_create
from accounts.tasks import (
    send_sign_up_confirm_email,
    send_sign_up_existing_account_email,
    send_welcome_email,
)
from audit.events import Event
from audit.services import PLATFORM_STREAM, audit_event_record
from kernel.context import ActorKind
from kernel.roles import Role
from rbac.models import Membership
from tenants.models import Tenant
from tenants.services import slug_validate, tenant_provision

SIGN_UP_LINK_SECONDS = 24 * 60 * 60

# Messages people see (S105 sees "PASSWORD" in some names; these are not secrets).
SIGN_UP_SENT = (
    "We have emailed {email} a link to finish creating your workspace. It works once and "
    "expires in 24 hours. If the address already has a Shopsafe account, the email says how "
    "to add the workspace to it."
)
SIGN_UP_LINK_INVALID = (
    "This sign-up link is invalid, has already been used or has expired. Please sign up again."
)
SIGN_UP_EXISTING_PASSWORD = (
    "This address already has a Shopsafe account: enter its password to add the workspace "  # noqa: S105
    "to it."
)
SIGN_UP_EXISTING_PASSWORD_WRONG = "The password is not correct."  # noqa: S105
SIGN_UP_THROTTLED = (
    "Too many sign-ups from your network or for this address. Please wait a while and try again."
)
SIGN_UP_CONFIRM_THROTTLED = "Too many attempts with this link. Please wait a while and try again."
SIGN_UP_WORKSPACES_THROTTLED = (
    "Your network has created as many workspaces as it may in an hour. Please try again later."
)

SIGN_UP = throttle.Limit(
    name="sign_up",
    rules=(
        throttle.Rate(throttle.Per.IP, 10, 60 * 60),
        throttle.Rate(throttle.Per.EMAIL, 3, 60 * 60),
    ),
    message=SIGN_UP_THROTTLED,
    event=Event.REQUEST_THROTTLED,
)
# The per-address count of workspaces is settings.SIGN_UP_WORKSPACES_PER_IP_PER_HOUR (put in
# RATE_LIMITS by config/settings/base.py); 3 here is only the default of the rule.
SIGN_UP_CONFIRM = throttle.Limit(
    name="sign_up_confirm",
    rules=(
        throttle.Rate(
            throttle.Per.IP, 3, 60 * 60, successes_only=True, message=SIGN_UP_WORKSPACES_THROTTLED
        ),
        throttle.Rate(throttle.Per.LINK, 10, 60 * 60),
    ),
    message=SIGN_UP_CONFIRM_THROTTLED,
    event=Event.REQUEST_THROTTLED,
)


@dataclass(frozen=True)
class SignUpResult:
    user: User
    tenant: Tenant
    handoff_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- Step 1: the form


def sign_up_request(
    *, email: str, password: str, full_name: str, workspace_name: str, slug: str, ip: str
) -> None:
    """Email ``email`` the way on: a link to create the workspace, or (the address has an
    account) a notice with a link to add it to that account. Creates no account and no
    workspace, answers the same either way, and spends the address's earlier sign-up links.

    Raises ``throttle.Throttled`` past ``SIGN_UP``, and ValidationError for a password or an
    address the rules refuse (checked the same way for every email).
    """
    email = throttle.email_normalise(email)
    throttle.limit(SIGN_UP, ip=ip, email=email)
    try:
        validate_password(password, User(email=email, full_name=full_name))
    except ValidationError as error:
        raise ValidationError({"password": error.error_list}) from error
    try:
        slug_validate(slug)
    except ValidationError as error:
        raise ValidationError({"slug": error.error_list}) from error
    # Hashed whether or not it is kept, so the answer takes as long either way.
    password_hash = make_password(password)
    existing = User.objects.filter(email=email).first()
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        SignUpRequest.objects.filter(email=email, used_at__isnull=True).update(
            used_at=now, password_hash=""
        )
        pending = SignUpRequest.objects.create(
            token_digest=_digest(token),
            email=email,
            full_name=full_name,
            workspace_name=workspace_name,
            slug=slug,
            password_hash="" if existing is not None else password_hash,
            created_at=now,
            expires_at=now + timedelta(seconds=SIGN_UP_LINK_SECONDS),
        )
        audit_event_record(
            event_type=Event.SIGN_UP_REQUESTED,
            stream=PLATFORM_STREAM,
            actor=None,
            actor_kind=ActorKind.ANONYMOUS,
            target=existing,
            data={"email": email[:254], "slug": slug, "existing_account": existing is not None},
        )
        pending_id = pending.pk
        if existing is None:
            transaction.on_commit(
                lambda: send_sign_up_confirm_email.delay(sign_up_request_id=pending_id, token=token)
            )
        elif existing.is_active:
            user_id = existing.pk
            transaction.on_commit(
                lambda: send_sign_up_existing_account_email.delay(
                    sign_up_request_id=pending_id, user_id=user_id, token=token
                )
            )


# --- Step 2: the link


def sign_up_request_get(*, token: str) -> SignUpRequest:
    """The live sign-up request ``token`` names, or ValidationError (one message for missing,
    spent and expired)."""
    found = SignUpRequest.objects.filter(token_digest=_digest(token or "")).first()
    if found is None or found.used_at is not None or found.expires_at <= timezone.now():
        raise ValidationError(SIGN_UP_LINK_INVALID, code="invalid_link")
    return found


def sign_up_needs_password(pending: SignUpRequest) -> bool:
    """Whether the address has an account now, whose password must then be given."""
    return User.objects.filter(email=pending.email).exists()


def sign_up_confirm(*, token: str, slug: str, password: str = "", ip: str) -> SignUpResult:
    """Create the workspace ``token``'s request asked for, at ``slug`` (the address chosen in
    step 1, or another if that one was taken since), with the account if the address has
    none; spend the link; hand the owner over to the new host.

    An address that has an account must give its ``password``, under the sign-in guessing
    defence. Raises ``throttle.Throttled`` past ``SIGN_UP_CONFIRM`` (a workspace counts
    against the address only once created) and ValidationError (``code="invalid_link"`` for
    a spent, expired or unknown link; else next to the field it names).
    """
    with throttle.counted(SIGN_UP_CONFIRM, ip=ip, link=token):
        pending = sign_up_request_get(token=token)
        existing = User.objects.filter(email=pending.email).first()
        if existing is not None:
            _existing_password_prove(existing, password=password, ip=ip)
        elif not pending.password_hash:  # asked for by an account that is gone since
            raise ValidationError(SIGN_UP_LINK_INVALID, code="invalid_link")
        try:
            slug_validate(slug)
        except ValidationError as error:
            raise ValidationError({"slug": error.error_list}) from error
        return _workspace_create(token=token, slug=slug, existing=existing)


def _existing_password_prove(user: User, *, password: str, ip: str) -> None:
    # The same guessing defence as sign-in; a failure is counted before raising (outside
    # any transaction that rolls back).
    throttle.sign_in_attempt_check(email=user.email, ip=ip)
    if not password:
        raise ValidationError({"password": SIGN_UP_EXISTING_PASSWORD})
    if not user.is_active or not user.check_password(password):
        throttle.sign_in_failure_record(email=user.email, ip=ip, factor=throttle.Factor.PASSWORD)
        raise ValidationError({"password": SIGN_UP_EXISTING_PASSWORD_WRONG})


def _workspace_create(*, token: str, slug: str, existing: User | None) -> SignUpResult:
    with transaction.atomic():
        pending = (
            SignUpRequest.objects.select_for_update()
            .filter(token_digest=_digest(token), used_at__isnull=True)
            .first()
        )
        if pending is None:  # spent by a request that raced this one
            raise ValidationError(SIGN_UP_LINK_INVALID, code="invalid_link")
        user = User.objects.select_for_update().filter(email=pending.email).first()
        if (user is None) != (existing is None):  # an account appeared or went meanwhile
            raise ValidationError(SIGN_UP_LINK_INVALID, code="invalid_link")
        new_account = user is None
        if user is None:
            user = _account_create(pending)
        try:
            tenant = tenant_provision(slug=slug, name=pending.workspace_name)
        except ValidationError as error:
            if error.code == "taken":  # by a sign-up that raced this one past slug_validate
                raise ValidationError({"slug": error.error_list}) from error
            raise
        Membership.objects.create(user=user, tenant=tenant, role=Role.OWNER)
        pending.used_at = timezone.now()
        pending.password_hash = ""
        pending.save(update_fields=["used_at", "password_hash"])
        _sign_up_audit(user=user, tenant=tenant, new_account=new_account)
        handoff_token = handoff_create(user=user, tenant=tenant)
        user_id = user.pk
        transaction.on_commit(
            lambda: send_welcome_email.delay(tenant_schema=tenant.schema_name, user_id=user_id)
        )
    return SignUpResult(user=user, tenant=tenant, handoff_token=handoff_token)


def _account_create(pending: SignUpRequest) -> User:
    user = User(email=pending.email, full_name=pending.full_name)
    user.password = pending.password_hash
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as error:  # another link of the same address won the race
        raise ValidationError(SIGN_UP_LINK_INVALID, code="invalid_link") from error
    return user


def _sign_up_audit(*, user: User, tenant: Tenant, new_account: bool) -> None:
    """Platform stream: the account (if new) and the workspace; the workspace's own stream
    starts with its creation and its first member."""
    workspace = {"slug": tenant.slug}
    if new_account:
        audit_event_record(
            event_type=Event.USER_SIGNED_UP, stream=PLATFORM_STREAM, actor=user, target=user
        )
    audit_event_record(
        event_type=Event.WORKSPACE_CREATED,
        stream=PLATFORM_STREAM,
        actor=user,
        target=tenant,
        data=workspace,
    )
    audit_event_record(
        event_type=Event.WORKSPACE_CREATED, stream=tenant, actor=user, target=tenant, data=workspace
    )
    audit_event_record(
        event_type=Event.MEMBER_ADDED,
        stream=tenant,
        actor=user,
        target=user,
        data={"role": Role.OWNER.value},
    )
