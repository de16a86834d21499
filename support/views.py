"""The platform support console, on the public host (namespace "support").

Only a platform support agent who signed in here with password and authenticator code reaches
these pages; anyone else signed in gets 404, as for a page that does not exist.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth import authenticate
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import throttle
from accounts.services import session_sign_in, session_sign_out
from accounts.twofactor.selectors import totp_device_confirmed
from audit.events import Event
from audit.services import PLATFORM_STREAM, audit_event_record
from kernel.context import ActorKind, audit_context, client_ip
from kernel.plugins import declared_one
from subprocessors import selectors as subprocessor_selectors
from subprocessors.forms import ChangeForm
from subprocessors.services import subprocessor_change_publish
from tenants.selectors import workspace_url

from . import selectors, services
from .forms import ConsoleSignInForm, ImpersonationStartForm, WorkspaceRestoreForm

CONSOLE_VERIFIED_KEY = "support_console_verified"
SIGN_IN_FAILED = "Those details are not right, or this account is not platform support."
SESSION_STARTED = "Opening the workspace as the chosen member."
SESSION_ENDED = "Support session ended."
WORKSPACE_RESTORED = "Workspace {slug} restored to active."
SUBPROCESSOR_PUBLISHED = (
    "Published: {name} {kind}, effective {day}; {owners} owner(s) will be emailed."
)


def console_view(view):
    """Public host only; a verified support agent only; everyone else 404 (or sign-in)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        tenant = getattr(request, "tenant", None)
        if tenant is None or not tenant.is_public:
            raise Http404("console lives on the public host")
        if not request.user.is_authenticated:
            return redirect("support:sign-in")
        if not (
            services.agent_is_verified(request.user) and request.session.get(CONSOLE_VERIFIED_KEY)
        ):
            raise Http404("not platform support")
        return view(request, *args, **kwargs)

    return throttle.not_limited(
        "the console: a signed-in support agent only; anyone else is sent to the support "
        "sign-in (limited) or gets 404"
    )(wrapped)


@throttle.limited_by(throttle.SIGN_IN)
@require_http_methods(["GET", "POST"])
def sign_in(request):
    tenant = getattr(request, "tenant", None)
    if tenant is None or not tenant.is_public:
        raise Http404("console lives on the public host")
    form = ConsoleSignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        ip = client_ip(request)
        try:
            throttle.sign_in_attempt_check(email=email, ip=ip)
        except throttle.Throttled as error:
            return throttle.refusal_page(
                request, error, template="support/sign_in.html", context={"form": form}
            )
        else:
            user = authenticate(request, username=email, password=form.cleaned_data["password"])
            device = totp_device_confirmed(user) if user is not None else None
            if (
                user is not None
                and user.is_support_agent
                and device is not None
                and device.verify_token(form.cleaned_data["code"])
            ):
                with transaction.atomic():
                    throttle.sign_in_success_record(email=email, ip=ip)
                    session_sign_in(request=request, user=user)
                    request.session[CONSOLE_VERIFIED_KEY] = True
                    audit_event_record(
                        event_type=Event.SUPPORT_CONSOLE_SIGNED_IN,
                        stream=PLATFORM_STREAM,
                        actor=user,
                        actor_kind=ActorKind.SUPPORT_AGENT,
                        target=user,
                    )
                return redirect("support:console")
            throttle.sign_in_failure_record(email=email, ip=ip, factor="password")
            form.add_error(None, SIGN_IN_FAILED)
    status = 400 if form.errors else 200
    return render(request, "support/sign_in.html", {"form": form}, status=status)


@console_view
@require_POST
def sign_out(request):
    # The console is the agent's alone: its events name them as a support agent, not a user.
    with audit_context(actor=request.user, actor_kind=ActorKind.SUPPORT_AGENT):
        session_sign_out(request=request)
    return redirect("support:sign-in")


@console_view
@require_http_methods(["GET"])
def console(request):
    summaries = [selectors.workspace_summary(tenant) for tenant in selectors.console_workspaces()]
    return render(
        request,
        "support/console.html",
        {"summaries": summaries, "live_session": selectors.agent_live_session(request.user)},
    )


@console_view
@require_http_methods(["GET", "POST"])
def workspace(request, slug: str):
    tenant = selectors.console_workspace_get(slug)
    summary = selectors.workspace_summary(tenant)
    form = ImpersonationStartForm(
        request.POST or None, targets=selectors.impersonation_targets(tenant)
    )
    if request.method == "POST" and form.is_valid():
        try:
            _session, token = services.impersonation_start(
                agent=request.user,
                tenant=tenant,
                acting_as_id=form.cleaned_data["acting_as"],
                reason=form.cleaned_data["reason"],
                ticket_ref=form.cleaned_data["ticket_ref"],
                write=form.cleaned_data["write"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            return HttpResponseRedirect(workspace_url(tenant, f"/support-session/enter/{token}/"))
    return _workspace_page(request, summary, form=form)


def _workspace_page(request, summary, *, form=None, restore_form=None):
    if form is None:
        form = ImpersonationStartForm(targets=selectors.impersonation_targets(summary.tenant))
    if restore_form is None:
        restore_form = WorkspaceRestoreForm(prefix="restore")
    return render(
        request,
        "support/workspace.html",
        {
            "summary": summary,
            "form": form,
            "restore_form": restore_form,
            "live_session": selectors.agent_live_session(request.user),
        },
        status=400 if form.errors or restore_form.errors else 200,
    )


def _restore_service():
    """The restore service of the floor above, found through its declaration."""
    service = declared_one("workspace_restore")
    if service is None:
        raise ImproperlyConfigured("no installed app declares workspace_restore")
    return service


@console_view
@require_POST
def workspace_restore(request, slug: str):
    """Bring a cancelled or archived workspace back to active. The service lives on the floor
    above (workspace.lifecycle), which declares it as ``workspace_restore`` on its AppConfig."""
    tenant = selectors.console_workspace_get(slug)
    form = WorkspaceRestoreForm(request.POST, prefix="restore")
    if form.is_valid():
        try:
            _restore_service()(
                tenant=tenant,
                agent=request.user,
                reason=f"{form.cleaned_data['reason']} (ticket {form.cleaned_data['ticket_ref']})",
            )
        except ValidationError as error:
            form.add_error(None, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, WORKSPACE_RESTORED.format(slug=tenant.slug))
            return redirect("support:workspace", slug=tenant.slug)
    return _workspace_page(request, selectors.workspace_summary(tenant), restore_form=form)


@console_view
@require_POST
def session_end(request):
    """End the agent's live session from the console (a lost tab, a closed browser)."""
    live = selectors.agent_live_session(request.user)
    if live is not None:
        services.impersonation_end(session=live, reason=live.EndReason.AGENT)
        messages.success(request, SESSION_ENDED)
    return redirect("support:console")


@console_view
@require_http_methods(["GET", "POST"])
def subprocessors(request):
    """The sub-processor list: today's entries, announced changes, and a form to publish one
    (subprocessors.services: audited, refused with its reason on short notice)."""
    form = ChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            change = subprocessor_change_publish(agent=request.user, change=form.change_input())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                SUBPROCESSOR_PUBLISHED.format(
                    name=change.sub_processor.name,
                    kind=change.kind,
                    day=change.effective_on.isoformat(),
                    owners=change.notices.count(),
                ),
            )
            return redirect("support:subprocessors")
    return render(
        request,
        "support/subprocessors.html",
        {
            "form": form,
            "entries": subprocessor_selectors.current_entries(),
            "upcoming": subprocessor_selectors.upcoming_changes(),
            "live_session": selectors.agent_live_session(request.user),
        },
        status=400 if form.errors else 200,
    )
