"""The public status page, its JSON and its Atom feed (public host, namespace "incidents").

They show every incident's public text and never which workspaces it affected. They answer
while Redis is down (the health checks' cache tolerates it) and their checks are bounded and
reused for ``STATUS_CHECK_SECONDS``, so no rate limit is needed.
"""

from __future__ import annotations

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts import throttle
from tenants.selectors import public_url

from . import selectors
from .health import STATE_LABELS

STATUS_PAGE = (
    "read-only status page: health checks are bounded and reused for STATUS_CHECK_SECONDS, "
    "so a flood of requests costs one check per process per period"
)


def _public_host_only(request) -> None:
    tenant = getattr(request, "tenant", None)
    if tenant is None or not tenant.is_public:
        raise Http404("the status page lives on the public host")


@throttle.not_limited(STATUS_PAGE)
@require_GET
def status_page(request):
    _public_host_only(request)
    now = timezone.now()
    incidents = selectors.open_incidents()
    statuses = selectors.component_statuses(incidents)
    overall = selectors.overall_state(statuses)
    context = {
        "statuses": statuses,
        "overall": overall,
        "overall_label": STATE_LABELS[overall],
        "open_incidents": incidents,
        "history": selectors.incident_history(now),
        "history_days": selectors.HISTORY_DAYS,
        "checked_at": now,
    }
    return render(request, "incidents/status.html", context)


def status_document(now=None) -> dict:
    """The ``/status.json`` document (schema: incidents/status.schema.json)."""
    now = now or timezone.now()
    incidents = selectors.open_incidents()
    statuses = selectors.component_statuses(incidents)

    def incident_json(incident) -> dict:
        return {
            "id": incident.pk,
            "title": incident.title,
            "impact": incident.impact,
            "status": incident.status,
            "components": list(incident.components),
            "started_at": incident.started_at.isoformat(),
            "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
            "updates": [
                {
                    "status": update.status,
                    "body": update.body,
                    "posted_at": update.posted_at.isoformat(),
                }
                for update in incident.updates.all()
            ],
        }

    return {
        "generated_at": now.isoformat(),
        "page": public_url("/status/"),
        "status": selectors.overall_state(statuses),
        "components": [
            {"id": status.key, "name": status.name, "status": status.state, "note": status.note}
            for status in statuses
        ],
        "incidents": [incident_json(incident) for incident in incidents],
        "history": [incident_json(incident) for incident in selectors.incident_history(now)],
    }


@throttle.not_limited(STATUS_PAGE)
@require_GET
def status_json(request):
    _public_host_only(request)
    response = JsonResponse(status_document())
    response["Cache-Control"] = "no-cache"
    return response


@throttle.not_limited(STATUS_PAGE)
@require_GET
def status_feed(request):
    _public_host_only(request)
    incidents = selectors.feed_incidents()
    updated = max(
        (update.posted_at for incident in incidents for update in incident.updates.all()),
        default=None,
    )
    context = {
        "incidents": incidents,
        "updated": updated or timezone.now(),
        "feed_url": public_url("/status/feed.atom"),
        "page_url": public_url("/status/"),
        "feed_id": public_url("/status/"),
    }
    body = render_to_string("incidents/feed.atom", context, request=request)
    return HttpResponse(body, content_type="application/atom+xml; charset=utf-8")
