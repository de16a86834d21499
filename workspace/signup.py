"""Sign-up on the public host: an account (new, or an existing one proved by its password),
a new workspace, and its ownership, in one transaction.

Invariant: composed on the top floor because it spans floors: accounts (the user, the
guessing defence, the hand-off to the new host), tenants (the schema from the pool) and rbac
(the owner's Membership). The audit events are written visibly in ``_sign_up_audit``; the
welcome email goes out after commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts import throttle
from accounts.models import User
from accounts.services import handoff_create
from accounts.tasks import send_welcome_email
from audit.events import Event
from audit.services import PLATFORM_STREAM, audit_event_record
from kernel.roles import Role
from rbac.models import Membership
from tenants.models import Tenant
from tenants.services import tenant_provision

# A message, not a secret (S105 sees "PASSWORD" in the name).
SIGN_UP_EXISTING_PASSWORD = (
    "If you already have an account with this email, enter its current password to add a "  # noqa: S105
    "workspace to it."
)


@dataclass(frozen=True)
class SignUpResult:
    user: User
    tenant: Tenant
    handoff_token: str


def workspace_sign_up(
    *, email: str, password: str, full_name: str, workspace_name: str, slug: str, ip: str = ""
) -> SignUpResult:
    """Create (or reuse, with its password) the account, the workspace, and the ownership.

    Raises ``throttle.Throttled`` when the existing account's password may not be tried now.
    """
    email = email.strip().lower()
    existing = User.objects.filter(email=email).first()
    if existing is not None:
        # Adding a workspace to an existing account proves its password: the same guessing
        # defence as sign-in, with the failure counted outside the transaction below.
        throttle.sign_in_attempt_check(email=email, ip=ip)
        if not existing.check_password(password):
            throttle.sign_in_failure_record(email=email, ip=ip, factor=throttle.Factor.PASSWORD)
            raise ValidationError({"password": SIGN_UP_EXISTING_PASSWORD})
    with transaction.atomic():
        user = User.objects.filter(email=email).first()
        new_account = user is None
        if user is None:
            validate_password(password, User(email=email, full_name=full_name))
            user = User.objects.create_user(email=email, password=password, full_name=full_name)
        elif existing is None or user.pk != existing.pk:
            raise ValidationError({"password": SIGN_UP_EXISTING_PASSWORD})  # raced a sign-up
        tenant = tenant_provision(slug=slug, name=workspace_name)
        Membership.objects.create(user=user, tenant=tenant, role=Role.OWNER)
        _sign_up_audit(user=user, tenant=tenant, new_account=new_account)
        token = handoff_create(user=user, tenant=tenant)
        transaction.on_commit(
            lambda: send_welcome_email.delay(tenant_schema=tenant.schema_name, user_id=user.pk)
        )
    return SignUpResult(user=user, tenant=tenant, handoff_token=token)


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
