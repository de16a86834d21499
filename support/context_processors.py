"""Banner data: the agent's own session, and "support is viewing" for every member."""

from __future__ import annotations

from django.utils import timezone

from .selectors import workspace_support_active_until
from .services import SESSION_ABSOLUTE, SESSION_IDLE


def support(request) -> dict:
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.is_public:
        return {}
    impersonation = getattr(request, "impersonation", None)
    context: dict = {"support_active_until": workspace_support_active_until(tenant)}
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
