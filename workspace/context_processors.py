"""Template context shared by every page: the workspace, the membership and its capabilities.

``caps`` is the set the gate decided with (``request.capabilities``): the membership's
capabilities, or during a support session ``support.gate.impersonation_capabilities`` (a
read-only session holds only read capabilities), narrowed by the workspace's lifecycle state
(``kernel.capabilities.capabilities_in_state``: a cancelled workspace keeps reading and
exporting), so every button a template shows is one the gate lets through.

``lifecycle`` (cancelled workspaces only) holds the dates its data goes away
(``workspace.lifecycle.lifecycle_dates``), which the read-only banner shows to every member.
"""

from __future__ import annotations

from django.conf import settings

from .lifecycle import lifecycle_dates


def workspace(request) -> dict:
    tenant = getattr(request, "tenant", None)
    is_workspace = tenant is not None and not tenant.is_public
    membership = getattr(request, "membership", None)
    capabilities: frozenset[str] = getattr(request, "capabilities", frozenset())
    cancelled = tenant if tenant is not None and is_workspace and tenant.is_read_only else None
    return {
        "workspace": tenant if is_workspace else None,
        "lifecycle": lifecycle_dates(cancelled) if cancelled is not None else None,
        "membership": membership,
        "caps": capabilities,
        "app_domain": settings.APP_DOMAIN,
    }
