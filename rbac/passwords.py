"""An owner's or admin's temporary password for a member, to hand over in person or by phone.

Invariants:
- The actor is a member of ``tenant`` holding ``members:manage`` as stored now
  (``rbac.authz.authorize``), acting as themselves: never for themselves, never for a member
  whose role holds permissions they lack (an admin cannot reach an owner), never while a
  support agent acts for them, and only while the workspace takes writes
  (``tenants.writability``).
- The account belongs to this workspace alone: a global account's password is not one
  workspace's to choose. Other workspaces' memberships are hidden by row-level security in
  this workspace's context, so that question is asked in the platform's view.
- The password is generated here (strong, readable aloud) or typed by the actor and checked
  by the password validators. It is returned to the caller once and stored nowhere but as the
  account's hash: not in the audit stream, the email, the session or a message.
- In one transaction: the password, the first-sign-in change (when the workspace's rule asks
  for it, as it does by default: the gate then holds the member at the change page), the
  member's sessions ended, outstanding reset links spent, and ``account.password.temporary_set``
  in the workspace's stream and the platform's (``audit_event_record_both``), naming the
  actor. After commit, the member gets a security notice that never holds the password.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.passwords import password_validate, reset_links_spend
from accounts.services import SessionEndReason, user_sessions_end
from audit.events import Event
from audit.services import audit_event_record_both
from kernel.capabilities import MEMBERS_MANAGE, can_grant_role
from kernel.context import ActorKind, audit_context_get
from tenants.models import Tenant
from tenants.rls import platform_view
from tenants.writability import require_writable

from .authz import ACTOR_NOT_IN_WORKSPACE, authorize
from .models import Membership

# Messages people see, not secrets (S105 sees "PASSWORD" in the names).
TEMPORARY_PASSWORD_NOT_ALLOWED = (
    "A temporary password can only be set for an account that belongs to this workspace "  # noqa: S105
    "alone."
)
TEMPORARY_PASSWORD_NOT_FOR_YOURSELF = (
    "You cannot give yourself a temporary password. Change your own password under "  # noqa: S105
    "Security."
)
TEMPORARY_PASSWORD_OUTRANKS = (
    "This member's role has permissions you do not hold, so you cannot set their password."  # noqa: S105
)
TEMPORARY_PASSWORD_INACTIVE = "This member is suspended. Reactivate them first."  # noqa: S105
TEMPORARY_PASSWORD_NOT_BY_SUPPORT = "Support cannot set members' passwords."  # noqa: S105
TEMPORARY_PASSWORD_TYPE_ONE = "Type the temporary password, or choose to generate one."  # noqa: S105

# No 0/O, 1/l/I: a password read out over the phone must not be misheard or mistyped.
READABLE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
GENERATED_GROUPS = 4
GENERATED_GROUP_LENGTH = 4  # 16 symbols of 31: about 79 bits


@dataclass(frozen=True)
class TemporaryPassword:
    """What the page shows once: the password when it was generated here (a typed one is
    not echoed back), and whether the member must replace it at their next sign-in."""

    password: str
    generated: bool
    must_change: bool


def password_temporary_generate() -> str:
    """A strong password that is easy to read aloud: ``abcd-efgh-jkmn-pqrs``."""
    return "-".join(
        "".join(secrets.choice(READABLE_ALPHABET) for _ in range(GENERATED_GROUP_LENGTH))
        for _ in range(GENERATED_GROUPS)
    )


def password_temporary_refusal(actor: Membership | None, target: Membership) -> str | None:
    """Why ``actor`` may not give ``target`` a temporary password (the role rules only; the
    page hides its button when there is one), or None."""
    if actor is None or target.tenant_id != actor.tenant_id or actor.is_customer:
        return ACTOR_NOT_IN_WORKSPACE
    if target.pk == actor.pk:
        return TEMPORARY_PASSWORD_NOT_FOR_YOURSELF
    if not can_grant_role(actor, target.role):
        return TEMPORARY_PASSWORD_OUTRANKS
    if not target.is_active:
        return TEMPORARY_PASSWORD_INACTIVE
    return None


def _belongs_elsewhere(target: Membership, tenant: Tenant) -> bool:
    # Spans workspaces: asked in the platform's view (tenants/rls.py); the filter is the rule.
    with platform_view():
        return Membership.objects.filter(user_id=target.user_id).exclude(tenant=tenant).exists()


def password_temporary_set(
    *, tenant: Tenant, actor: Membership, membership: Membership, password: str | None = None
) -> TemporaryPassword:
    """Give ``membership``'s account a temporary password: ``password`` when the actor typed
    one, else a generated one. Returns it for the page to show once. See the module
    docstring for the rules; refusals are ValidationError (a message for the page) or
    PermissionDenied (no right to try)."""
    if audit_context_get().actor_kind == ActorKind.SUPPORT_AGENT:
        raise PermissionDenied(TEMPORARY_PASSWORD_NOT_BY_SUPPORT)
    actor = authorize(tenant, actor, MEMBERS_MANAGE)
    generated = password is None
    chosen = password_temporary_generate() if password is None else password
    with transaction.atomic():
        require_writable(tenant)
        target = (
            Membership.objects.select_for_update()
            .select_related("user")
            .filter(pk=membership.pk, tenant=tenant)
            .first()
        )
        if target is None:
            raise PermissionDenied(ACTOR_NOT_IN_WORKSPACE)
        refusal = password_temporary_refusal(actor, target)
        if refusal is None and _belongs_elsewhere(target, tenant):
            refusal = TEMPORARY_PASSWORD_NOT_ALLOWED
        if refusal is not None:
            raise ValidationError(refusal)
        user = target.user
        password_validate(chosen, user, "password")
        must_change = Tenant.objects.values_list("first_sign_in_password_change", flat=True).get(
            pk=tenant.pk
        )
        user.set_password(chosen)
        user.must_change_password = must_change
        user.save(update_fields=["password", "must_change_password"])
        reset_links_spend(user=user, now=timezone.now())
        user_sessions_end(user=user, reason=SessionEndReason.TEMPORARY_PASSWORD_SET)
        audit_event_record_both(
            workspace=tenant,
            event_type=Event.PASSWORD_TEMPORARY_SET,
            actor=actor.user,
            actor_kind=ActorKind.USER,
            target=user,
            data={"must_change": must_change, "generated": generated},
        )
        _notice_on_commit(tenant=tenant, user_id=user.pk, actor_id=actor.user_id)
    return TemporaryPassword(password=chosen, generated=generated, must_change=must_change)


def _notice_on_commit(*, tenant: Tenant, user_id: int, actor_id: int) -> None:
    from .tasks import send_temporary_password_notice

    schema = tenant.schema_name
    transaction.on_commit(
        lambda: send_temporary_password_notice.delay(
            tenant_schema=schema, user_id=user_id, actor_id=actor_id
        )
    )
