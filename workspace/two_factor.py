"""The workspace's "require 2FA for all members" switch and the workspace-wide sign-out.

Invariant: keyword-only arguments; the actor is re-read through ``rbac.authz.authorize`` (an
active member of this workspace, as stored now, with settings:security). Each switch is one
transaction that writes the workspace's and the platform's audit event (visibly, in
``_requirement_set``) and emails the owners after commit. What the requirement means for a
member's session is ``accounts.twofactor.services.two_factor_enrollment_required``, read by
the gate.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User, UserSession
from accounts.services import user_sessions_end
from accounts.twofactor.action_codes import Action, ConfirmedAction, action_confirmation_check
from accounts.twofactor.selectors import user_has_2fa
from audit.events import Event
from audit.services import audit_event_record_both
from kernel.capabilities import SETTINGS_SECURITY
from rbac.authz import authorize
from rbac.models import Membership
from tenants.models import Tenant

REQUIREMENT_NEEDS_YOUR_2FA = (
    "Turn on two-factor authentication for your own account before requiring it of everyone."
)


def workspace_two_factor_require(*, tenant: Tenant, actor: Membership) -> bool:
    """Require 2FA of every member of ``tenant`` from now on. The actor must have 2FA.

    Members without 2FA are sent to enrollment at their next sign-in here; sessions that
    started before now keep working until they end. Returns False when it was already on.
    Audited in the workspace's and the platform's streams; the owners are emailed.
    """
    actor = authorize(tenant, actor, SETTINGS_SECURITY)
    if not user_has_2fa(actor.user):
        raise ValidationError(REQUIREMENT_NEEDS_YOUR_2FA)
    return _requirement_set(tenant=tenant, actor=actor, required=True)


def workspace_two_factor_unrequire(
    *, tenant: Tenant, actor: Membership, confirmation: ConfirmedAction | None
) -> bool:
    """Stop requiring 2FA; needs an emailed-code confirmation for exactly this."""
    actor = authorize(tenant, actor, SETTINGS_SECURITY)
    action_confirmation_check(
        confirmation,
        actor=actor,
        tenant=tenant,
        action=Action.TWO_FACTOR_REQUIREMENT_OFF,
        target=tenant,
    )
    return _requirement_set(tenant=tenant, actor=actor, required=False)


def _requirement_set(*, tenant: Tenant, actor: Membership, required: bool) -> bool:
    from .tasks import send_two_factor_requirement_email

    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if locked.require_2fa == required:
            return False
        before = locked.require_2fa
        locked.require_2fa = required
        locked.require_2fa_since = timezone.now() if required else None
        locked.save(update_fields=["require_2fa", "require_2fa_since"])
        tenant.require_2fa, tenant.require_2fa_since = locked.require_2fa, locked.require_2fa_since
        event = (
            Event.WORKSPACE_TWO_FACTOR_REQUIRED
            if required
            else Event.WORKSPACE_TWO_FACTOR_NOT_REQUIRED
        )
        changes = {"require_2fa": [before, required]}
        audit_event_record_both(
            workspace=locked, event_type=event, actor=actor.user, target=locked, changes=changes
        )
        tenant_id, actor_id = locked.pk, actor.user_id
        transaction.on_commit(
            lambda: send_two_factor_requirement_email.delay(
                workspace_id=tenant_id, actor_id=actor_id, required=required
            )
        )
    return True


def workspace_sign_out_everyone(
    *, tenant: Tenant, actor: Membership, keep_session_key: str | None
) -> int:
    """End every session in ``tenant`` except the actor's current one (``keep_session_key``),
    so a new requirement applies to every member at once.

    Each affected member gets a SESSIONS_ENDED event (reason "workspace_signed_out") in the
    workspace's stream; their cookies are refused by the gate from their next request on.
    Returns the number of sessions ended.
    """
    authorize(tenant, actor, SETTINGS_SECURITY)
    ended = 0
    with transaction.atomic():
        user_ids = sorted(
            set(UserSession.objects.filter(tenant=tenant).values_list("user_id", flat=True))
        )
        for user in User.objects.filter(pk__in=user_ids).order_by("pk"):
            ended += user_sessions_end(
                user=user,
                tenant=tenant,
                except_session_key=keep_session_key,
                reason="workspace_signed_out",
            )
    return ended
