"""Workspace settings pages (under /settings/, namespace "workspace").

Every view declares its capability; the gate enforces it before the view runs. The settings
index is open to every member and lists only what their capabilities allow; other apps own
their own pages under /settings/ (members/, roles/, audit/, exports/).

Cancelling and deleting the workspace (owners, ``workspace:delete``) are confirmed with an
emailed code (``accounts.twofactor.stepup``) and performed by ``workspace.lifecycle``; both
pages stay open while the workspace is cancelled (read-only), so an owner can still delete it
at once.
"""

from __future__ import annotations

import copy
from datetime import datetime

from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts.sessions import session_track_forget
from accounts.twofactor.action_codes import Action, ConfirmedAction
from accounts.twofactor.stepup import STEP_FIELD, STEP_SEND, action_confirmation_step
from kernel.capabilities import (
    SECURITY_VERIFY,
    SETTINGS_SECURITY,
    WORKSPACE_DELETE,
    WORKSPACE_VIEW,
)
from kernel.decorators import require_capability
from tenants.models import Tenant
from tenants.selectors import public_url

from . import settings_services
from .lifecycle import (
    ARCHIVE_DAYS,
    EXPORT_WINDOW_DAYS,
    LifecycleDates,
    lifecycle_dates,
    workspace_cancel,
    workspace_delete_now,
)
from .settings_forms import WorkspaceDeleteForm, WorkspaceSecurityForm
from .verify import STATUS_LABELS, security_checks_run

SECURITY_SETTINGS_SAVED = "Security settings saved."
WORKSPACE_CANCELLED_MESSAGE = (
    "The workspace is cancelled. It is read-only from now on; owners can export its data "
    "until {archive_date}."
)


@require_capability(WORKSPACE_VIEW)
@require_GET
def settings_index(request):
    return render(request, "workspace/settings_index.html")


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
    return render(request, "workspace/security_settings.html", {"form": form}, status=status)


@require_capability(SECURITY_VERIFY)
@require_GET
def verify_page(request):
    """ "Verify it yourself": every check runs now (``workspace.verify``); the page takes no
    input, so a query string changes nothing."""
    results = security_checks_run(
        viewer=request.membership,
        tenant=_fresh_tenant(request),
        caps=frozenset(request.capabilities),
    )
    context = {"results": results, "status_labels": STATUS_LABELS}
    response = render(request, "workspace/verify.html", context)
    response["Cache-Control"] = "private, no-store"
    return response


# --- Cancelling and deleting the workspace (owners) -------------------------------------------


def _day(moment: datetime | None) -> str:
    return formats.date_format(timezone.localtime(moment), "j F Y") if moment else ""


def _dates_if_cancelled_now(tenant: Tenant) -> LifecycleDates:
    """The dates the lifecycle would set if ``tenant`` were cancelled at this moment (for the
    explanation before cancelling), computed by ``lifecycle_dates`` itself on a copy."""
    preview = copy.copy(tenant)
    preview.state = Tenant.State.CANCELLED
    preview.cancelled_at = timezone.now()
    return lifecycle_dates(preview)


def _cancel_consequences(tenant: Tenant, dates: LifecycleDates) -> list[str]:
    return [
        f"{tenant.name} becomes read-only at once: members can still sign in and look, but "
        "nobody can add, change or delete anything.",
        f"For {EXPORT_WINDOW_DAYS} days, until {_day(dates.archive_at)}, owners can still sign "
        "in and export all of its data.",
        f"On {_day(dates.archive_at)} it is archived: nobody can sign in any more. Only "
        f"platform support can restore it, for the following {ARCHIVE_DAYS} days.",
        f"On {_day(dates.purge_at)} it is permanently deleted with all of its data and files.",
    ]


def _fresh_tenant(request) -> Tenant:
    # Fresh, not the cached host lookup: the page must show the state as it is now.
    return Tenant.objects.get(pk=request.tenant.pk)


def _cancel_page(request, tenant: Tenant, *, error: str = "", status: int = 200) -> HttpResponse:
    is_active = tenant.state == Tenant.State.ACTIVE
    dates = _dates_if_cancelled_now(tenant) if is_active else lifecycle_dates(tenant)
    context = {
        "tenant": tenant,
        "is_active": is_active,
        "dates": dates,
        "consequences": _cancel_consequences(tenant, dates) if is_active else [],
        "export_window_days": EXPORT_WINDOW_DAYS,
        "archive_days": ARCHIVE_DAYS,
        "step_field": STEP_FIELD,
        "step_send": STEP_SEND,
        "error": error,
    }
    return render(request, "workspace/workspace_cancel.html", context, status=status)


@require_capability(WORKSPACE_DELETE)
@require_http_methods(["GET", "POST"])
def workspace_cancel_page(request):
    """Explain what cancelling does (with the dates), offer the export, then confirm with an
    emailed code. Once cancelled the page shows the dates instead of the form."""
    tenant = _fresh_tenant(request)
    if request.method == "GET" or tenant.state != Tenant.State.ACTIVE:
        # A POST to a workspace that is no longer active (a second tab, say) changes nothing.
        status = 200 if request.method == "GET" else 409
        return _cancel_page(request, tenant, status=status)

    def perform(confirmation: ConfirmedAction) -> HttpResponse:
        try:
            cancelled = workspace_cancel(
                tenant=tenant, actor=request.membership, confirmation=confirmation
            )
        except ValidationError as error:
            return _cancel_page(
                request, _fresh_tenant(request), error=" ".join(error.messages), status=409
            )
        archive_date = _day(lifecycle_dates(cancelled).archive_at)
        messages.success(request, WORKSPACE_CANCELLED_MESSAGE.format(archive_date=archive_date))
        return redirect("workspace:settings")

    return action_confirmation_step(
        request,
        action=Action.WORKSPACE_CANCEL,
        target=tenant,
        title=f"Cancel {tenant.name}",
        consequences=_cancel_consequences(tenant, _dates_if_cancelled_now(tenant)),
        confirm_label="Cancel the workspace",
        cancel_url=reverse("workspace:settings"),
        perform=perform,
        irreversible=False,
    )


workspace_cancel_page.allowed_when_cancelled = True


def _delete_page(request, tenant: Tenant, form: WorkspaceDeleteForm, *, status: int = 200):
    context = {
        "form": form,
        "is_cancelled": tenant.is_read_only,
        "dates": lifecycle_dates(tenant),
        "step_field": STEP_FIELD,
        "step_send": STEP_SEND,
    }
    return render(request, "workspace/workspace_delete.html", context, status=status)


@require_capability(WORKSPACE_DELETE)
@require_http_methods(["GET", "POST"])
def workspace_delete_page(request):
    """Delete the workspace now: offer the export, have the owner type the slug, then confirm
    with an emailed code. Afterwards the workspace's host is gone, so the owner lands on the
    public site, signed out."""
    tenant = _fresh_tenant(request)
    form = WorkspaceDeleteForm(request.POST if request.method == "POST" else None, slug=tenant.slug)
    if request.method == "GET":
        return _delete_page(request, tenant, form)
    if not form.is_valid():
        return _delete_page(request, tenant, form, status=400)
    typed_slug = form.cleaned_data["typed_slug"]

    def perform(confirmation: ConfirmedAction) -> HttpResponse:
        try:
            workspace_delete_now(
                tenant=tenant,
                actor=request.membership,
                confirmation=confirmation,
                typed_slug=typed_slug,
            )
        except ValidationError as error:
            refused = WorkspaceDeleteForm(request.POST, slug=tenant.slug)
            refused.is_valid()
            field_errors = getattr(error, "error_dict", {})
            for field, errors in field_errors.items():
                refused.add_error(field if field in refused.fields else None, errors)
            if not field_errors:
                refused.add_error(None, error)
            status = 400 if "typed_slug" in field_errors else 409
            return _delete_page(request, _fresh_tenant(request), refused, status=status)
        # The workspace, its memberships and this session's tracking row are gone; end the
        # session here too so the browser holds nothing for a host that no longer exists.
        session_track_forget(session_key=request.session.session_key)
        logout(request)
        return HttpResponseRedirect(public_url("/"))

    return action_confirmation_step(
        request,
        action=Action.WORKSPACE_DELETE,
        target=tenant,
        title=f"Delete {tenant.name} now",
        consequences=[
            f"{tenant.name} closes at once and every member, you included, is signed out.",
            "All of its records, files, members and its audit log are permanently deleted "
            "right away; nothing is kept to restore it from.",
            f"Its address, {tenant.slug}, stops working.",
        ],
        confirm_label="Delete the workspace now",
        cancel_url=reverse("workspace:settings"),
        perform=perform,
        hidden={"typed_slug": typed_slug},
    )


workspace_delete_page.allowed_when_cancelled = True
