"""An admin's temporary password for a member they created.

Invariant: the admin acts for one workspace (``rbac.authz.authorize``: the stored, active
membership with members:manage), and only for an account that belongs to that workspace
alone: a global account's password is not one workspace's to choose. Recorded in the
platform stream and the workspace's, in the same transaction; the user's sessions end.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.passwords import password_validate, reset_links_spend
from accounts.services import SessionEndReason, user_sessions_end
from audit.events import Event
from audit.services import PLATFORM_STREAM, audit_event_record
from kernel.capabilities import MEMBERS_MANAGE

from .authz import authorize
from .models import Membership

# A message, not a secret (S105 sees "PASSWORD" in the name).
TEMPORARY_PASSWORD_NOT_ALLOWED = (
    "A temporary password can only be set for an account that belongs to this workspace "  # noqa: S105
    "alone."
)


def password_temporary_set(*, actor: Membership, user: User, password: str) -> None:
    """An admin sets a temporary password for ``user``, a member of the admin's workspace only.

    ``actor`` is the admin's Membership (needs ``members:manage``). Refused for an account
    that belongs to any other workspace. When the workspace requires it
    (``first_sign_in_password_change``), the user must choose their own password before
    reaching anything. Ends the user's sessions.
    """
    tenant = actor.tenant
    authorize(tenant, actor, MEMBERS_MANAGE)
    memberships = Membership.objects.filter(user=user)
    if (
        not memberships.filter(tenant=tenant).exists()
        or memberships.exclude(tenant=tenant).exists()
    ):
        raise ValidationError(TEMPORARY_PASSWORD_NOT_ALLOWED)
    password_validate(password, user, "password")
    with transaction.atomic():
        user.set_password(password)
        user.must_change_password = tenant.first_sign_in_password_change
        user.save(update_fields=["password", "must_change_password"])
        reset_links_spend(user=user, now=timezone.now())
        user_sessions_end(user=user, reason=SessionEndReason.TEMPORARY_PASSWORD_SET)
        data = {"must_change": user.must_change_password}
        audit_event_record(
            event_type=Event.PASSWORD_TEMPORARY_SET,
            stream=PLATFORM_STREAM,
            target=user,
            data=data,
        )
        audit_event_record(
            event_type=Event.PASSWORD_TEMPORARY_SET, stream=tenant, target=user, data=data
        )
