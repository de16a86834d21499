"""Banner data: the agent's own session, and "support is viewing" for every member.

"Support is viewing" is read on every page of a workspace, so it is never stale: the gate's
one lookup of a signed-in request reads it in the same statement as the session
(``request.support_active_until``); other pages (sign-in) ask the selector.
"""

from __future__ import annotations

from django.utils import timezone

from .selectors import workspace_support_active_until
from .services import SESSION_ABSOLUTE, SESSION_IDLE

_NOT_READ = object()


def support(request) -> dict:
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.is_public:
        return {}
    impersonation = getattr(request, "impersonation", None)
    # The gate's lookup of a signed-in request already read it (workspace.gate_lookup).
    until = getattr(request, "support_active_until", _NOT_READ)
    if until is _NOT_READ:
        until = workspace_support_active_until(tenant)
    context: dict = {"support_active_until": until}
    if impersonation is not None:
        # The hard end (60 minutes or the grant's end); idleness ends it sooner, and each
        # click resets that, so the banner states it separately.
        ends_at = min(impersonation.started_at + SESSION_ABSOLUTE, impersonation.grant.ends_at)
        context["impersonation"] = impersonation
        context["impersonation_idle_minutes"] = int(SESSION_IDLE.total_seconds() // 60)
        context["impersonation_minutes_left"] = max(
            0, int((ends_at - timezone.now()).total_seconds() // 60)
        )
    return context
