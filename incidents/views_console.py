"""Incident pages of the support console (public host, /support/incidents/, namespace
"incident_console").

The console's own gate comes first (``support.views.console_view``: a verified support agent
signed in with password and authenticator code, everyone else 404 or the sign-in page); then
the platform capability ``incidents:manage``, refused with 403 for an agent without it.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from support.views import console_view

from . import services
from .forms import IncidentOpenForm, IncidentUpdateForm
from .models import Incident

INCIDENT_OPENED = "Incident opened; the owners of affected workspaces are being emailed."
UPDATE_POSTED = "Update posted."


def incidents_view(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not services.agent_can_manage_incidents(request.user):
            raise PermissionDenied(services.NOT_ALLOWED)
        return view(request, *args, **kwargs)

    return console_view(wrapped)


@incidents_view
@require_GET
def incident_list(request):
    incidents = Incident.objects.prefetch_related("updates")[:100]
    return render(request, "incidents/console_list.html", {"incidents": incidents})


@incidents_view
@require_http_methods(["GET", "POST"])
def incident_new(request):
    form = IncidentOpenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = services.incident_open(
                actor=request.user,
                title=data["title"],
                impact=data["impact"],
                components=data["components"],
                affects_all=data["affects_all"],
                workspace_ids=[tenant.pk for tenant in data["workspaces"]],
                status=data["status"],
                body=data["body"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, INCIDENT_OPENED)
            return redirect("incident_console:detail", pk=incident.pk)
    status = 400 if form.errors else 200
    return render(request, "incidents/console_new.html", {"form": form}, status=status)


@incidents_view
@require_http_methods(["GET", "POST"])
def incident_detail(request, pk: int):
    incident = get_object_or_404(Incident.objects.prefetch_related("updates", "workspaces"), pk=pk)
    form = IncidentUpdateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.incident_update_post(
                actor=request.user,
                incident_id=incident.pk,
                status=form.cleaned_data["status"],
                body=form.cleaned_data["body"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, UPDATE_POSTED)
            return redirect("incident_console:detail", pk=incident.pk)
    context = {
        "incident": incident,
        "form": form,
        "workspaces": [row.tenant for row in incident.workspaces.select_related("tenant")],
    }
    return render(
        request, "incidents/console_detail.html", context, status=400 if form.errors else 200
    )
