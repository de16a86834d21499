"""Workspace settings pages (under /settings/, namespace "workspace").

Every view declares its capability; the gate enforces it before the view runs. The settings
index is open to every member and lists only what their capabilities allow; other apps own
their own pages under /settings/ (members/, roles/, audit/, exports/).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from rbac.capabilities import SETTINGS_SECURITY, WORKSPACE_VIEW
from rbac.decorators import require_capability

from . import settings_services
from .models import Tenant
from .settings_forms import WorkspaceSecurityForm

SECURITY_SETTINGS_SAVED = "Security settings saved."


@require_capability(WORKSPACE_VIEW)
@require_GET
def settings_index(request):
    return render(request, "tenants/settings_index.html")


@require_capability(SETTINGS_SECURITY)
@require_http_methods(["GET", "POST"])
def security_settings(request):
    tenant = Tenant.objects.get(pk=request.tenant.pk)  # fresh, not the cached host lookup
    initial = {
        "session_idle_minutes": tenant.session_idle_minutes,
        "session_absolute_hours": tenant.session_absolute_hours,
        "first_sign_in_password_change": tenant.first_sign_in_password_change,
    }
    form = WorkspaceSecurityForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            settings_services.workspace_security_settings_update(
                actor=request.membership, **form.cleaned_data
            )
        except ValidationError as error:
            for field, errors in error.error_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, SECURITY_SETTINGS_SAVED)
            return redirect("workspace:security-settings")
    status = 400 if form.errors else 200
    return render(request, "tenants/security_settings.html", {"form": form}, status=status)
