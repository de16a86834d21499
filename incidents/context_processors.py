"""The incident banner on every page of an affected workspace.

The gate's one lookup already says whether any open incident affects the workspace
(``request.incident_open``, workspace.gate_lookup), so a page costs a query here only while
one does; pages the lookup did not run for ask the selector. Pages without a member (sign-in,
anonymous visitors) show no banner. Only the
incident's public text reaches the template, never which other workspaces it affects.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError
from django.urls import reverse

from tenants.selectors import public_url

from .selectors import workspace_open_incidents

logger = logging.getLogger("incidents")

_NOT_READ = object()


def incident_banner(request) -> dict:
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.is_public:
        return {}
    if getattr(request, "membership", None) is None:
        return {}  # members' pages only: an anonymous visitor learns nothing about the host
    known = getattr(request, "incident_open", _NOT_READ)
    if known is False:
        return {}
    try:
        incidents = workspace_open_incidents(tenant)
    except DatabaseError:  # an error page while PostgreSQL is down: no banner, still a page
        logger.warning("incident banner skipped: the database did not answer")
        return {}
    if not incidents:
        return {}
    banners = []
    for incident in incidents:
        updates = list(incident.updates.all())
        banners.append({"incident": incident, "latest": updates[0] if updates else None})
    status_path = reverse("incidents:status", urlconf=settings.PUBLIC_SCHEMA_URLCONF)
    return {"incident_banners": banners, "status_page_url": public_url(status_path)}
