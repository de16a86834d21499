"""Sign-in, sign-out, hand-off, "find my workspaces", password reset and change,
and the member's own Security page (sessions).

Every workspace view declares its capability; the gate enforces it before the view runs.
Views hold no business rules: they call ``services`` / ``passwords`` and show the result.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kernel.capabilities import PROFILE_MANAGE, PUBLIC
from kernel.context import client_ip
from kernel.decorators import require_capability

from . import passwords, selectors, services, throttle
from .forms import (
    FindWorkspacesForm,
    PasswordChangeForm,
    PasswordResetForm,
    PasswordResetRequestForm,
    SignInForm,
)
from .sessions import device_label
from .throttle import Throttled

FIND_WORKSPACES_SENT = (
    "If that address belongs to any workspaces, we have emailed it a list of them."
)
# Messages users see (S105 sees "PASSWORD" in the names; these are not secrets).
PASSWORD_RESET_SENT = (
    "If that address belongs to a member of this workspace, we have emailed it a link to "  # noqa: S105
    "choose a new password. The link works once and expires in an hour."
)
PASSWORD_RESET_DONE = (
    "Your password has been changed and you have been signed out everywhere. "  # noqa: S105
    "Please sign in with your new password."
)
PASSWORD_CHANGED = "Your password has been changed. Your other sessions have been signed out."  # noqa: S105
SESSION_REVOKED = "The session has been signed out."
SIGNED_OUT_EVERYWHERE = "You have been signed out everywhere."
# The reset token moves from the link's URL into the session at once, so it does not linger in
# the address bar, the history or a Referer header.
RESET_TOKEN_SESSION_KEY = "password_reset_token"  # noqa: S105 - a session key name


def _safe_next(request, default: str = "/") -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}):
        return candidate
    return default


def _add_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


# --- Sign-in and sign-out


@require_capability(PUBLIC)
@throttle.limited_by(throttle.SIGN_IN)
@require_http_methods(["GET", "POST"])
def sign_in(request):
    if request.user.is_authenticated and request.method == "GET" and not request.tenant.is_public:
        return redirect(_safe_next(request))
    form = SignInForm(request.POST or None)
    context = {"form": form, "next": _safe_next(request, "")}
    if request.method == "POST" and form.is_valid():
        try:
            services.password_sign_in(
                request=request,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
            )
        except Throttled as error:
            return throttle.refusal_page(
                request, error, template="accounts/sign_in.html", context=context
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if not request.user.is_authenticated:  # the password was right; 2FA comes next
                return _second_factor_redirect(request)
            return HttpResponseRedirect(_safe_next(request))
    status = 400 if form.errors else 200
    return render(request, "accounts/sign_in.html", context, status=status)


def _second_factor_redirect(request) -> HttpResponse:
    url = reverse("accounts:two-factor-verify")
    next_url = _safe_next(request, "")
    return HttpResponseRedirect(f"{url}?{urlencode({'next': next_url})}" if next_url else url)


@require_capability(PUBLIC)
@throttle.not_limited("ends the visitor's own session: nothing to guess, nothing sent")
@require_POST
def sign_out(request):
    services.session_sign_out(request=request)
    messages.info(request, "You have signed out.")
    return redirect("accounts:sign-in")


sign_out.allowed_when_cancelled = True
sign_in.allowed_when_cancelled = True


@require_capability(PUBLIC)
@throttle.link_visit_limited
@require_http_methods(["GET"])
def handoff(request, token: str):
    try:
        services.handoff_redeem(request=request, token=token)
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return redirect("accounts:sign-in")
    if not request.user.is_authenticated:  # an account with 2FA: the second step first
        return _second_factor_redirect(request)
    return redirect("/")


# --- Public host: "find my workspaces" (sign-up is workspace.signup_views)


@throttle.limited_by(services.FIND_WORKSPACES)
@require_http_methods(["GET", "POST"])
def find_workspaces(request):
    form = FindWorkspacesForm(request.POST or None)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        try:
            services.workspace_list_request(email=form.cleaned_data["email"], ip=client_ip(request))
        except Throttled as error:
            return throttle.refusal_page(
                request, error, template="accounts/find_workspaces.html", context=context
            )
        messages.info(request, FIND_WORKSPACES_SENT)
        return redirect("find-workspaces")
    return render(request, "accounts/find_workspaces.html", context)


# --- Password reset by email (anonymous, on the workspace host)


@require_capability(PUBLIC)
@throttle.limited_by(passwords.PASSWORD_RESET)
@require_http_methods(["GET", "POST"])
def password_reset_request(request):
    form = PasswordResetRequestForm(request.POST or None)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        try:
            passwords.password_reset_request(request=request, email=form.cleaned_data["email"])
        except Throttled as error:
            return throttle.refusal_page(
                request, error, template="accounts/password_reset_request.html", context=context
            )
        return redirect("accounts:password-reset-sent")
    status = 400 if form.errors else 200
    return render(request, "accounts/password_reset_request.html", context, status=status)


@require_capability(PUBLIC)
@throttle.not_limited("a static confirmation page: no form, no lookup")
@require_GET
def password_reset_sent(request):
    return render(request, "accounts/password_reset_sent.html", {"message": PASSWORD_RESET_SENT})


def _reset_link_invalid(request) -> HttpResponse:
    return render(
        request,
        "accounts/password_reset_invalid.html",
        {"message": passwords.PASSWORD_RESET_LINK_INVALID},
        status=400,
    )


@require_capability(PUBLIC)
@throttle.link_visit_limited
@require_GET
def password_reset_link(request, token: str):
    try:
        passwords.password_reset_token_get(tenant=request.tenant, token=token)
    except ValidationError:
        return _reset_link_invalid(request)
    request.session[RESET_TOKEN_SESSION_KEY] = token
    return redirect("accounts:password-reset-new")


@require_capability(PUBLIC)
@throttle.limited_by(passwords.PASSWORD_RESET_CONFIRM)
@require_http_methods(["GET", "POST"])
def password_reset_new(request):
    token = request.session.get(RESET_TOKEN_SESSION_KEY, "")
    try:
        link = passwords.password_reset_token_get(tenant=request.tenant, token=token)
    except ValidationError:
        return _reset_link_invalid(request)
    form = PasswordResetForm(request.POST or None, user=link.user)
    if request.method == "POST":
        try:  # every submission counts, before the form checks the password against the rules
            throttle.limit(passwords.PASSWORD_RESET_CONFIRM, ip=client_ip(request), link=token)
        except Throttled as error:
            return throttle.refusal_page(
                request, error, template="accounts/password_reset_new.html", context={"form": form}
            )
    if request.method == "POST" and form.is_valid():
        try:
            passwords.password_reset_complete(
                request=request, token=token, new_password=form.cleaned_data["new_password"]
            )
        except ValidationError as error:
            if getattr(error, "code", None) == "invalid_link":
                return _reset_link_invalid(request)
            _add_errors(form, error)
        else:
            request.session.pop(RESET_TOKEN_SESSION_KEY, None)
            messages.success(request, PASSWORD_RESET_DONE)
            return redirect("accounts:sign-in")
    status = 400 if form.errors else 200
    return render(request, "accounts/password_reset_new.html", {"form": form}, status=status)


for _view in (password_reset_request, password_reset_sent, password_reset_link, password_reset_new):
    _view.allowed_when_cancelled = True


# --- The member's own Security page


def _security_context(request, form: PasswordChangeForm) -> dict:
    current = getattr(request, "user_session", None)
    rows = [
        {
            "session": session,
            "device": device_label(session.user_agent),
            "current": current is not None and session.pk == current.pk,
        }
        for session in selectors.user_sessions_active(user=request.user, tenant=request.tenant)
    ]
    from .twofactor.selectors import user_has_2fa

    return {"form": form, "sessions": rows, "two_factor_on": user_has_2fa(request.user)}


@require_capability(PROFILE_MANAGE)
@require_GET
def security(request):
    form = PasswordChangeForm(user=request.user)
    return render(request, "accounts/security.html", _security_context(request, form))


@require_capability(PROFILE_MANAGE)
@require_http_methods(["GET", "POST"])
def password_change(request):
    """The change-password form; also the page the gate sends a member to when they must
    replace a temporary password first."""
    form = PasswordChangeForm(request.POST or None, user=request.user)
    context = {"form": form, "required": request.user.must_change_password}
    if request.method == "POST" and form.is_valid():
        was_required = request.user.must_change_password
        try:
            passwords.password_change(
                request=request,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password"],
            )
        except Throttled as error:
            return throttle.refusal_page(
                request, error, template="accounts/password_change.html", context=context
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, PASSWORD_CHANGED)
            return redirect("/" if was_required else "accounts:security")
    status = 400 if form.errors else 200
    return render(request, "accounts/password_change.html", context, status=status)


password_change.allowed_before_password_change = True


@require_capability(PROFILE_MANAGE)
@require_POST
def session_revoke(request, pk: int):
    user_session = selectors.user_session_get(
        user=request.user, tenant=request.tenant, session_id=pk
    )
    services.user_session_revoke(request=request, user_session=user_session)
    messages.success(request, SESSION_REVOKED)
    if not request.user.is_authenticated:  # it was this session
        return redirect("accounts:sign-in")
    return redirect("accounts:security")


@require_capability(PROFILE_MANAGE)
@require_POST
def sign_out_everywhere(request):
    services.user_sign_out_everywhere(request=request)
    messages.success(request, SIGNED_OUT_EVERYWHERE)
    return redirect("accounts:sign-in")


for _view in (security, password_change, session_revoke, sign_out_everywhere):
    _view.allowed_when_cancelled = True
