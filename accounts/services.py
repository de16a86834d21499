"""Account writes: sign-up (with its workspace), sign-in, hand-off between hosts.

Invariant: every function here takes keyword-only arguments and runs in one transaction;
emails and other side effects are scheduled with ``transaction.on_commit``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import authenticate, login
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rbac.models import Membership
from rbac.roles import Role
from tenants.middleware import SESSION_WORKSPACE_KEY
from tenants.models import Tenant
from tenants.services import tenant_provision

from .models import SignInHandoff, User

HANDOFF_SECONDS = 60
SIGN_IN_FAILED = "The email or password is incorrect."
HANDOFF_INVALID = "This sign-in link is invalid or has expired. Please sign in."
SIGN_UP_EXISTING_PASSWORD = (
    "If you already have an account with this email, enter its current password to add a "
    "workspace to it."
)


@dataclass(frozen=True)
class SignUpResult:
    user: User
    tenant: Tenant
    handoff_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def workspace_sign_up(
    *, email: str, password: str, full_name: str, workspace_name: str, slug: str
) -> SignUpResult:
    """Create (or reuse, with its password) the account, the workspace, and the ownership."""
    from .tasks import send_welcome_email

    email = email.strip().lower()
    with transaction.atomic():
        user = User.objects.filter(email=email).first()
        if user is None:
            validate_password(password, User(email=email, full_name=full_name))
            user = User.objects.create_user(email=email, password=password, full_name=full_name)
        elif not user.check_password(password):
            raise ValidationError({"password": SIGN_UP_EXISTING_PASSWORD})
        tenant = tenant_provision(slug=slug, name=workspace_name)
        Membership.objects.create(user=user, tenant=tenant, role=Role.OWNER)
        token = handoff_create(user=user, tenant=tenant)
        transaction.on_commit(
            lambda: send_welcome_email.delay(tenant_schema=tenant.schema_name, user_id=user.pk)
        )
    return SignUpResult(user=user, tenant=tenant, handoff_token=token)


def handoff_create(*, user: User, tenant: Tenant) -> str:
    """Issue a single-use token that signs ``user`` in on ``tenant``'s host; returns the token."""
    token = secrets.token_urlsafe(32)
    SignInHandoff.objects.create(
        token_digest=_digest(token),
        user=user,
        tenant=tenant,
        expires_at=timezone.now() + timedelta(seconds=HANDOFF_SECONDS),
    )
    return token


def handoff_redeem(*, request, token: str) -> User:
    """Consume a hand-off token on the workspace host it was issued for and sign in."""
    with transaction.atomic():
        handoff = (
            SignInHandoff.objects.select_for_update()
            .select_related("user")
            .filter(token_digest=_digest(token), tenant=request.tenant)
            .first()
        )
        if (
            handoff is None
            or handoff.used_at is not None
            or handoff.expires_at <= timezone.now()
            or not handoff.user.is_active
        ):
            raise ValidationError(HANDOFF_INVALID)
        handoff.used_at = timezone.now()
        handoff.save(update_fields=["used_at"])
        session_sign_in(request=request, user=handoff.user)
    return handoff.user


def session_sign_in(*, request, user: User) -> None:
    """Start a session on the current host (new session key) bound to this workspace."""
    user.backend = "django.contrib.auth.backends.ModelBackend"
    login(request, user)
    request.session[SESSION_WORKSPACE_KEY] = request.tenant.schema_name


def password_sign_in(*, request, email: str, password: str) -> User:
    """Check credentials and membership of the current workspace; same error for every failure.

    authenticate() runs the password hasher even for unknown emails, so timing does not tell
    whether an account exists.
    """
    user = authenticate(request, username=email.strip().lower(), password=password)
    tenant = request.tenant
    if user is None:
        raise ValidationError(SIGN_IN_FAILED)
    if not tenant.is_public and not Membership.objects.filter(
        user=user, tenant=tenant, is_active=True
    ).exists():
        raise ValidationError(SIGN_IN_FAILED)
    session_sign_in(request=request, user=user)
    return user


def workspaces_for_email(*, email: str) -> list[Tenant]:
    return list(
        Tenant.objects.filter(
            memberships__user__email=email.strip().lower(),
            memberships__is_active=True,
            state__in=[Tenant.State.ACTIVE, Tenant.State.CANCELLED],
        ).order_by("name")
    )
