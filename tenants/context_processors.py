"""Template context shared by every page: the workspace, the membership and its capabilities."""

from __future__ import annotations

from django.conf import settings


def workspace(request) -> dict:
    tenant = getattr(request, "tenant", None)
    is_workspace = tenant is not None and not tenant.is_public
    return {
        "workspace": tenant if is_workspace else None,
        "membership": getattr(request, "membership", None),
        "caps": getattr(request, "capabilities", frozenset()),
        "app_domain": settings.APP_DOMAIN,
    }
