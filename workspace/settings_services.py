"""Workspace settings writes: the owner's security settings.

Invariant: each function takes the acting Membership (``actor``), checks its capability again
(a task or command cannot bypass the view), runs in one transaction and records the change,
field by field, in the workspace's own stream.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.events import Event
from audit.services import audit_event_record
from kernel.capabilities import SETTINGS_SECURITY, require
from tenants.models import (
    SESSION_ABSOLUTE_HOURS_MAX,
    SESSION_ABSOLUTE_HOURS_MIN,
    SESSION_IDLE_MINUTES_MAX,
    SESSION_IDLE_MINUTES_MIN,
    Tenant,
)

IDLE_OUT_OF_BOUNDS = (
    f"Choose between {SESSION_IDLE_MINUTES_MIN} and {SESSION_IDLE_MINUTES_MAX} minutes "
    "(5 minutes to 24 hours)."
)
ABSOLUTE_OUT_OF_BOUNDS = (
    f"Choose between {SESSION_ABSOLUTE_HOURS_MIN} and {SESSION_ABSOLUTE_HOURS_MAX} hours "
    "(1 hour to 30 days)."
)
IDLE_LONGER_THAN_ABSOLUTE = "The idle timeout cannot be longer than the maximum session length."


def workspace_security_settings_update(
    *,
    actor,
    session_idle_minutes: int,
    session_absolute_hours: int,
    first_sign_in_password_change: bool,
) -> Tenant:
    """Set the session timeouts (within bounds) and the first-sign-in password change rule of
    the actor's workspace. Lowered timeouts apply to running sessions at their next request."""
    require(actor, SETTINGS_SECURITY)
    errors: dict[str, str] = {}
    if not SESSION_IDLE_MINUTES_MIN <= session_idle_minutes <= SESSION_IDLE_MINUTES_MAX:
        errors["session_idle_minutes"] = IDLE_OUT_OF_BOUNDS
    if not SESSION_ABSOLUTE_HOURS_MIN <= session_absolute_hours <= SESSION_ABSOLUTE_HOURS_MAX:
        errors["session_absolute_hours"] = ABSOLUTE_OUT_OF_BOUNDS
    if not errors and session_idle_minutes > session_absolute_hours * 60:
        errors["session_idle_minutes"] = IDLE_LONGER_THAN_ABSOLUTE
    if errors:
        raise ValidationError(errors)
    wanted = {
        "session_idle_minutes": session_idle_minutes,
        "session_absolute_hours": session_absolute_hours,
        "first_sign_in_password_change": first_sign_in_password_change,
    }
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=actor.tenant_id)
        changes = {
            field: [getattr(tenant, field), value]
            for field, value in wanted.items()
            if getattr(tenant, field) != value
        }
        if changes:
            for field, (_before, after) in changes.items():
                setattr(tenant, field, after)
            tenant.save(update_fields=list(changes))
            audit_event_record(
                event_type=Event.WORKSPACE_SECURITY_SETTINGS_CHANGED,
                stream=tenant,
                target=tenant,
                changes=changes,
            )
    return tenant
