"""The member's incident email preference, on a workspace host (namespace
"incident_emails"). Owners are always emailed when an incident affecting their workspace
opens and when it resolves; here they choose to get every update too."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from kernel.capabilities import PROFILE_MANAGE
from kernel.decorators import require_capability
from kernel.roles import Role

from . import services
from .forms import IncidentEmailPreferenceForm
from .models import IncidentEmailPreference

PREFERENCE_SAVED = "Incident email preference saved."


@require_capability(PROFILE_MANAGE)
@require_http_methods(["GET", "POST"])
def email_preference(request):
    current = IncidentEmailPreference.objects.filter(user=request.user, updates=True).exists()
    form = IncidentEmailPreferenceForm(
        request.POST if request.method == "POST" else None, initial={"updates": current}
    )
    if request.method == "POST" and form.is_valid():
        services.incident_email_preference_set(
            membership=request.membership, updates=form.cleaned_data["updates"]
        )
        messages.success(request, PREFERENCE_SAVED)
        return redirect("incident_emails:preference")
    context = {"form": form, "is_owner": request.membership.role == Role.OWNER}
    return render(request, "incidents/email_preference.html", context)
