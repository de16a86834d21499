"""The member's API tokens page (``/settings/api-tokens/``): list, create (shown once),
revoke. Owners and admins (``members:manage``) also see and revoke every member's tokens.

Creating a token in a workspace that requires two-factor authentication needs a recent second
factor: a session that signed in (with its second factor) within the recent window
(``accounts.twofactor.services.session_is_recent``), or a code from the app typed now. The
page declares ``profile:manage``, which an impersonating support agent never holds
(``support.gate``); the service refuses an agent too.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts import throttle
from accounts.twofactor.services import session_is_recent, totp_device_confirmed
from kernel.capabilities import MEMBERS_MANAGE, PROFILE_MANAGE, capabilities_for
from kernel.context import client_ip
from kernel.decorators import require_capability
from rbac.models import Membership

from .forms import TokenCreateForm
from .models import ApiToken
from .services import api_token_create, api_token_revoke, scopes_read_only

CODE_NEEDED = "Enter a current code from your authenticator app to create a token."
CODE_WRONG = "That code is not valid. Try the current one."
SET_UP_2FA = "This workspace requires two-factor authentication: set it up first."


def _visible_tokens(request):
    tokens = ApiToken.objects.all()
    if MEMBERS_MANAGE not in request.capabilities:
        tokens = tokens.filter(membership_id=request.membership.pk)
    return tokens


def _needs_code(request) -> bool:
    return bool(request.tenant.require_2fa) and not session_is_recent(request)


def _second_factor_check(request, code: str) -> None:
    """In a 2FA workspace outside the recent window: a valid TOTP code now, counted by the
    sign-in guessing defence like any other code."""
    user = request.user
    device = totp_device_confirmed(user)
    if device is None:
        raise ValidationError({"code": SET_UP_2FA})
    if not code:
        raise ValidationError({"code": CODE_NEEDED})
    ip = client_ip(request)
    throttle.sign_in_attempt_check(email=user.email, ip=ip)
    if not device.verify_token(code.strip()):
        throttle.sign_in_failure_record(email=user.email, ip=ip, factor=throttle.Factor.TOTP)
        raise ValidationError({"code": CODE_WRONG})


def _page(request, form, created=None, status=200):
    members = {
        m.pk: m for m in Membership.objects.select_related("user").filter(tenant=request.tenant)
    }
    rows = [
        {"token": token, "member": members.get(token.membership_id)}
        for token in _visible_tokens(request)
    ]
    return render(
        request,
        "api/tokens.html",
        {"form": form, "rows": rows, "created": created, "now": timezone.now()},
        status=status,
    )


@require_capability(PROFILE_MANAGE)
@require_http_methods(["GET", "POST"])
def token_list(request):
    held = capabilities_for(request.membership)
    ask_code = _needs_code(request)
    if request.method == "GET":
        return _page(request, TokenCreateForm(held=held, ask_code=ask_code))
    form = TokenCreateForm(request.POST, held=held, ask_code=ask_code)
    if not form.is_valid():
        return _page(request, form)
    data = form.cleaned_data
    scopes = list(data["scopes"])
    if data["read_only"]:
        scopes += scopes_read_only(request.membership)
    try:
        if ask_code:
            _second_factor_check(request, data.get("code", ""))
        created = api_token_create(
            tenant=request.tenant,
            owner=request.membership,
            name=data["name"],
            scopes=scopes,
            expires_at=timezone.now() + timedelta(days=data["expires_days"]),
            created_by=request.membership,
        )
    except throttle.Throttled as error:
        return throttle.refusal_page(request, error)
    except ValidationError as error:
        for field, errors in error.message_dict.items():
            target = field if field in form.fields else None
            for message in errors:
                form.add_error(target, message)
        return _page(request, form)
    fresh = TokenCreateForm(held=held, ask_code=_needs_code(request))
    return _page(request, fresh, created=created)


@require_capability(PROFILE_MANAGE)
@require_POST
def token_revoke(request, pk: int):
    token = _visible_tokens(request).filter(pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    try:
        api_token_revoke(tenant=request.tenant, actor=request.membership, token=token)
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    else:
        messages.success(request, f"Token “{token.name}” revoked.")
    return HttpResponseRedirect(reverse("api-tokens:list"))
