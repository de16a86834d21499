"""Two-factor pages: the member's own (set up, recovery codes, remove) and the second sign-in
step. The workspace's "require 2FA" switch is workspace.two_factor_views.

Every view declares its capability; the sign-in step is PUBLIC because whoever is on it is
not signed in yet (the half-signed-in state grants nothing). Pages that show a seed or
recovery codes are never cached.
"""

from __future__ import annotations

from urllib.parse import quote

import segno
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts import throttle
from accounts.throttle import Throttled
from kernel.capabilities import PROFILE_MANAGE, PUBLIC
from kernel.decorators import require_capability

from . import services
from .forms import (
    EnrollmentConfirmForm,
    ReauthenticateForm,
    RecoveryCodeForm,
    TotpCodeForm,
)
from .recovery import RECOVERY_CODE_COUNT
from .selectors import recovery_codes_remaining, user_has_2fa

GET_POST = ["GET", "POST"]

TWO_FACTOR_ALREADY_ON = "Two-factor authentication is already on."
TWO_FACTOR_REMOVED = "Two-factor authentication has been turned off for your account."


def _safe_next(request, default: str = "/") -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}):
        return candidate
    return default


def _throttled(request, template: str, context: dict, error: Throttled) -> HttpResponse:
    return throttle.refusal_page(request, error, template=template, context=context)


def _status(form) -> int:
    return 400 if form.is_bound and form.errors else 200


def _qr_svg(uri: str) -> str:
    return segno.make(uri, error="m").svg_inline(
        scale=5, border=2, title="QR code for your authenticator app", dark="#111827"
    )


def _recovery_codes_page(request, *, codes: list[str], continue_url: str, reason: str):
    text = "\n".join(
        [
            f"Shopsafe recovery codes for {request.user.email}",
            "",
            *codes,
            "",
            "Each code works once. Generating new codes makes these stop working.",
        ]
    )
    return render(
        request,
        "accounts/twofactor/recovery_codes.html",
        {
            "codes": codes,
            "download_href": "data:text/plain;charset=utf-8," + quote(text + "\n"),
            "download_name": f"shopsafe-recovery-codes-{request.tenant.slug}.txt",
            "continue_url": continue_url,
            "reason": reason,
        },
    )


# --- The member's own two-factor settings


@require_capability(PROFILE_MANAGE)
@require_http_methods(["GET"])
@never_cache
def overview(request):
    enabled = user_has_2fa(request.user)
    return render(
        request,
        "accounts/twofactor/overview.html",
        {
            "enabled": enabled,
            "remaining": recovery_codes_remaining(request.user) if enabled else 0,
            "total": RECOVERY_CODE_COUNT,
            "required": request.tenant.require_2fa,
        },
    )


@require_capability(PROFILE_MANAGE)
@require_http_methods(GET_POST)
@never_cache
def setup(request):
    """Scan, then confirm with a first code; the response shows the recovery codes once."""
    if user_has_2fa(request.user):
        messages.info(request, TWO_FACTOR_ALREADY_ON)
        return redirect("accounts:two-factor")
    forced = services.two_factor_enrollment_required(request)
    password_needed = not services.session_is_recent(request)
    form = EnrollmentConfirmForm(request.POST or None, password_needed=password_needed)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.totp_enrollment_confirm(
                request=request,
                code=form.cleaned_data["code"],
                current_password=form.cleaned_data.get("current_password"),
            )
        except Throttled as error:
            enrollment = services.totp_enrollment_start(user=request.user)
            return _throttled(
                request,
                "accounts/twofactor/setup.html",
                _setup_context(request, form, enrollment, forced),
                error,
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            return _recovery_codes_page(
                request,
                codes=codes,
                continue_url=_safe_next(request, "/" if forced else reverse("accounts:two-factor")),
                reason="enabled",
            )
    enrollment = services.totp_enrollment_start(user=request.user)
    return render(
        request,
        "accounts/twofactor/setup.html",
        _setup_context(request, form, enrollment, forced),
        status=_status(form),
    )


def _setup_context(request, form, enrollment, forced: bool) -> dict:
    return {
        "form": form,
        "qr_svg": _qr_svg(enrollment.provisioning_uri),
        "manual_key": enrollment.manual_key,
        "forced": forced,
        "next": _safe_next(request, ""),
    }


def _add_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _reauthenticated(request, *, template: str, context: dict, act, done) -> HttpResponse:
    """A page that asks for the current password and a code, then runs ``act`` (a service
    taking ``request``, ``current_password`` and ``code``) and answers with ``done(result)``.
    Wrong answers are form errors (400); too many are the shared lockout (429)."""
    form = ReauthenticateForm(request.POST or None)
    context = {"form": form, **context}
    if request.method == "POST" and form.is_valid():
        try:
            result = act(
                request=request,
                current_password=form.cleaned_data["current_password"],
                code=form.cleaned_data["code"],
            )
        except Throttled as error:
            return _throttled(request, template, context, error)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            return done(result)
    return render(request, template, context, status=_status(form))


@require_capability(PROFILE_MANAGE)
@require_http_methods(GET_POST)
@never_cache
def recovery_codes_regenerate(request):
    if not user_has_2fa(request.user):
        return redirect("accounts:two-factor")
    return _reauthenticated(
        request,
        template="accounts/twofactor/recovery_codes_regenerate.html",
        context={},
        act=services.recovery_codes_regenerate,
        done=lambda codes: _recovery_codes_page(
            request,
            codes=codes,
            continue_url=reverse("accounts:two-factor"),
            reason="regenerated",
        ),
    )


def _removed(request) -> HttpResponse:
    messages.success(request, TWO_FACTOR_REMOVED)
    return redirect("accounts:two-factor")


@require_capability(PROFILE_MANAGE)
@require_http_methods(GET_POST)
@never_cache
def disable(request):
    if not user_has_2fa(request.user):
        return redirect("accounts:two-factor")
    return _reauthenticated(
        request,
        template="accounts/twofactor/disable.html",
        context={"required": request.tenant.require_2fa},
        act=services.two_factor_disable,
        done=lambda _result: _removed(request),
    )


for _view in (overview, setup, recovery_codes_regenerate, disable):
    _view.allowed_when_cancelled = True
# Enrolling is the one thing a member who must enroll can do (besides signing out).
setup.allowed_during_two_factor_enrollment = True


# --- The second step of sign-in (the visitor is not signed in yet)


def _second_factor_step(request, *, method: str, form_class, template: str):
    pending = services.pending_sign_in_get(request)
    if pending is None:
        messages.error(request, services.PENDING_EXPIRED)
        return redirect("accounts:sign-in")
    form = form_class(request.POST or None)
    context = {"form": form, "next": _safe_next(request, ""), "email": pending.user.email}
    if request.method == "POST" and form.is_valid():
        try:
            result = services.second_factor_sign_in(
                request=request, code=form.cleaned_data["code"], method=method
            )
        except Throttled as error:
            return _throttled(request, template, context, error)
        except ValidationError as error:
            if error.code == "restart":
                messages.error(request, error.messages[0])
                return redirect("accounts:sign-in")
            form.add_error("code", error.messages[0])
        else:
            if result.new_recovery_codes:
                return _recovery_codes_page(
                    request,
                    codes=result.new_recovery_codes,
                    continue_url=_safe_next(request),
                    reason="rotated",
                )
            return HttpResponseRedirect(_safe_next(request))
    return render(request, template, context, status=_status(form))


@require_capability(PUBLIC)
@throttle.limited_by(throttle.SIGN_IN)
@require_http_methods(GET_POST)
@never_cache
def verify(request):
    return _second_factor_step(
        request,
        method=services.Method.TOTP,
        form_class=TotpCodeForm,
        template="accounts/twofactor/verify.html",
    )


@require_capability(PUBLIC)
@throttle.limited_by(throttle.SIGN_IN)
@require_http_methods(GET_POST)
@never_cache
def verify_recovery(request):
    return _second_factor_step(
        request,
        method=services.Method.RECOVERY_CODE,
        form_class=RecoveryCodeForm,
        template="accounts/twofactor/verify_recovery.html",
    )


verify.allowed_when_cancelled = True
verify_recovery.allowed_when_cancelled = True
