"""Sign-in, sign-out, sign-up, hand-off and "find my workspaces"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from rbac.capabilities import PUBLIC
from rbac.decorators import require_capability
from tenants.selectors import workspace_url

from . import services
from .forms import FindWorkspacesForm, SignInForm, SignUpForm
from .tasks import send_workspace_list_email

FIND_WORKSPACES_SENT = (
    "If that address belongs to any workspaces, we have emailed it a list of them."
)


def _safe_next(request, default: str = "/") -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}):
        return candidate
    return default


@require_capability(PUBLIC)
@require_http_methods(["GET", "POST"])
def sign_in(request):
    if request.user.is_authenticated and request.method == "GET" and not request.tenant.is_public:
        return redirect(_safe_next(request))
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_sign_in(
                request=request,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return HttpResponseRedirect(_safe_next(request))
    return render(
        request, "accounts/sign_in.html", {"form": form, "next": _safe_next(request, "")}, status=400 if form.errors else 200
    )


@require_capability(PUBLIC)
@require_POST
def sign_out(request):
    logout(request)
    messages.info(request, "You have signed out.")
    return redirect("accounts:sign-in")


sign_out.allowed_when_cancelled = True
sign_in.allowed_when_cancelled = True


@require_capability(PUBLIC)
@require_http_methods(["GET"])
def handoff(request, token: str):
    try:
        services.handoff_redeem(request=request, token=token)
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return redirect("accounts:sign-in")
    return redirect("/")


@require_http_methods(["GET", "POST"])
def sign_up(request):
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = services.workspace_sign_up(
                email=data["email"],
                password=data["password"],
                full_name=data["full_name"],
                workspace_name=data["workspace_name"],
                slug=data["slug"],
            )
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for field, errors in error.error_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, error)
        else:
            return HttpResponseRedirect(
                workspace_url(result.tenant, f"/accounts/handoff/{result.handoff_token}/")
            )
    return render(request, "accounts/sign_up.html", {"form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def find_workspaces(request):
    form = FindWorkspacesForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        workspaces = services.workspaces_for_email(email=email)
        if workspaces:
            ids = [tenant.pk for tenant in workspaces]
            transaction.on_commit(
                lambda: send_workspace_list_email.delay(email=email.lower(), workspace_ids=ids)
            )
        messages.info(request, FIND_WORKSPACES_SENT)
        return redirect("find-workspaces")
    return render(request, "accounts/find_workspaces.html", {"form": form})
