"""The sign-up pages of the public host (APP_DOMAIN/signup/...): the form, the "check your
email" page, and the emailed link that creates the workspace and hands the new owner over to
the workspace's own host.

Views hold no business rules: the pages call ``workspace.signup``. The link's token moves
from the URL into the session at once, so it does not linger in the address bar, the history
or a Referer header (as the password reset link does).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts import throttle
from accounts.forms import SignUpConfirmForm, SignUpForm
from accounts.throttle import Throttled
from kernel.context import client_ip
from kernel.views import add_service_error
from tenants.selectors import workspace_url

from . import signup

TEMPLATE = "accounts/sign_up.html"
CONFIRM_TEMPLATE = "accounts/sign_up_confirm.html"
# Session keys (not secrets).
SIGN_UP_EMAIL_SESSION_KEY = "sign_up_email"
SIGN_UP_TOKEN_SESSION_KEY = "sign_up_token"  # noqa: S105


@throttle.limited_by(signup.SIGN_UP)
@require_http_methods(["GET", "POST"])
def sign_up(request):
    form = SignUpForm(request.POST or None)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            signup.sign_up_request(
                email=data["email"],
                password=data["password"],
                full_name=data["full_name"],
                workspace_name=data["workspace_name"],
                slug=data["slug"],
                ip=client_ip(request),
            )
        except Throttled as error:
            return throttle.refusal_page(request, error, template=TEMPLATE, context=context)
        except ValidationError as error:
            add_service_error(form, error)
        else:
            request.session[SIGN_UP_EMAIL_SESSION_KEY] = data["email"].strip().lower()
            return redirect("sign-up-sent")
    status = 400 if form.errors else 200
    return render(request, TEMPLATE, context, status=status)


@throttle.not_limited("a static page: it shows back the address the visitor typed")
@require_GET
def sign_up_sent(request):
    email = request.session.get(SIGN_UP_EMAIL_SESSION_KEY)
    if not email:
        return redirect("sign-up")
    return render(
        request, "accounts/sign_up_sent.html", {"message": signup.SIGN_UP_SENT.format(email=email)}
    )


@throttle.link_visit_limited
@require_GET
def sign_up_link(request, token: str):
    request.session[SIGN_UP_TOKEN_SESSION_KEY] = token
    return redirect("sign-up-confirm")


def _link_invalid(request) -> HttpResponse:
    return render(
        request,
        "accounts/sign_up_invalid.html",
        {"message": signup.SIGN_UP_LINK_INVALID},
        status=400,
    )


@throttle.limited_by(signup.SIGN_UP_CONFIRM, throttle.SIGN_IN)
@require_http_methods(["GET", "POST"])
@never_cache
def sign_up_confirm(request):
    token = request.session.get(SIGN_UP_TOKEN_SESSION_KEY, "")
    try:
        pending = signup.sign_up_request_get(token=token)
    except ValidationError:
        return _link_invalid(request)
    needs_password = signup.sign_up_needs_password(pending)
    form = SignUpConfirmForm(
        request.POST or None, needs_password=needs_password, initial={"slug": pending.slug}
    )
    context = {
        "form": form,
        "pending": pending,
        "needs_password": needs_password,
        "existing_message": signup.SIGN_UP_EXISTING_PASSWORD,
    }
    if request.method == "POST" and form.is_valid():
        try:
            result = signup.sign_up_confirm(
                token=token,
                slug=form.cleaned_data["slug"],
                password=form.cleaned_data.get("password", ""),
                ip=client_ip(request),
            )
        except Throttled as error:
            return throttle.refusal_page(request, error, template=CONFIRM_TEMPLATE, context=context)
        except ValidationError as error:
            if getattr(error, "code", None) == "invalid_link":
                return _link_invalid(request)
            add_service_error(form, error)
        else:
            request.session.pop(SIGN_UP_TOKEN_SESSION_KEY, None)
            return HttpResponseRedirect(
                workspace_url(result.tenant, f"/accounts/handoff/{result.handoff_token}/")
            )
    status = 400 if form.errors else 200
    return render(request, CONFIRM_TEMPLATE, context, status=status)
