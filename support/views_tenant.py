"""Support pages on a workspace host (namespace "support_access"): the owner's grants and
switch (``support:grant``), and the two ends of an impersonation session."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import ValidationError
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import throttle
from accounts.sessions import session_track_forget
from kernel.capabilities import PUBLIC, SUPPORT_GRANT, WORKSPACE_VIEW
from kernel.decorators import require_capability
from tenants.selectors import public_url

from . import selectors, services
from .forms import GrantForm
from .models import SupportAccessGrant

GRANT_SAVED = "Support access granted."
GRANT_REVOKED = "Support access revoked."
ACCESS_ON = "Support access switched on."
ACCESS_OFF = "Support access switched off; any live grant was revoked."


@require_capability(SUPPORT_GRANT)
@require_http_methods(["GET", "POST"])
def support_settings(request):
    tenant = request.tenant
    form = GrantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.grant_create(
                tenant=tenant,
                actor=request.membership,
                hours=form.cleaned_data["hours"],
                allow_write=form.cleaned_data["allow_write"],
                ticket_ref=form.cleaned_data["ticket_ref"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, GRANT_SAVED)
            return redirect("support_access:settings")
    context = {
        "form": form,
        "grants": selectors.workspace_grants(tenant),
        "live_grant": services.grant_live(tenant),
        "disabled": services.support_access_disabled(tenant),
        "now": timezone.now(),
    }
    return render(request, "support/settings.html", context, status=400 if form.errors else 200)


@require_capability(SUPPORT_GRANT)
def grant_revoke(request, pk: int):
    # The object first, then the method: another workspace's grant id is a 404 for every
    # method, like a missing one.
    get_object_or_404(SupportAccessGrant, pk=pk, tenant=request.tenant)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    services.grant_revoke(tenant=request.tenant, actor=request.membership, grant_id=pk)
    messages.success(request, GRANT_REVOKED)
    return redirect("support_access:settings")


@require_capability(SUPPORT_GRANT)
@require_POST
def access_switch(request):
    enabled = request.POST.get("enabled") == "1"
    services.support_access_set(tenant=request.tenant, actor=request.membership, enabled=enabled)
    messages.success(request, ACCESS_ON if enabled else ACCESS_OFF)
    return redirect("support_access:settings")


@require_capability(PUBLIC)
@throttle.link_visit_limited
@require_GET
def session_enter(request, token: str):
    try:
        services.impersonation_handoff_redeem(request=request, token=token)
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return redirect("accounts:sign-in")
    return redirect("/")


session_enter.allowed_during_impersonation = True


@require_capability(WORKSPACE_VIEW)
@require_POST
def session_end(request):
    """The banner's End button: end the session, drop this host's cookie, back to the console."""
    session = getattr(request, "impersonation", None)
    if session is None:
        return redirect("/")
    services.impersonation_end(session=session, reason=session.EndReason.AGENT)
    session_track_forget(session_key=request.session.session_key)
    logout(request)
    return redirect(public_url("/support/"))


session_end.allowed_during_impersonation = True
