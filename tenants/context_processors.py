"""Template context shared by every page: the workspace, the membership and its capabilities.

``caps`` is the set the gate decides with: the membership's capabilities, or during a support
session ``support.gate.impersonation_capabilities`` (a read-only session holds only read
capabilities), so every button a template shows is one the gate lets through.

``lifecycle`` (cancelled workspaces only) holds the dates its data goes away
(``tenants.lifecycle.lifecycle_dates``), which the read-only banner shows to every member.
"""

from __future__ import annotations

from django.conf import settings

from support.gate import impersonation_capabilities

from .lifecycle import lifecycle_dates
from .models import Tenant


def workspace(request) -> dict:
    tenant = getattr(request, "tenant", None)
    is_workspace = tenant is not None and not tenant.is_public
    membership = getattr(request, "membership", None)
    capabilities: frozenset[str] = getattr(request, "capabilities", frozenset())
    impersonation = getattr(request, "impersonation", None)
    if impersonation is not None:
        capabilities = impersonation_capabilities(impersonation, membership)
    cancelled = (
        tenant
        if tenant is not None and is_workspace and tenant.state == Tenant.State.CANCELLED
        else None
    )
    return {
        "workspace": tenant if is_workspace else None,
        "lifecycle": lifecycle_dates(cancelled) if cancelled is not None else None,
        "membership": membership,
        "caps": capabilities,
        "app_domain": settings.APP_DOMAIN,
    }
