"""The workspace's "require 2FA" switch and "sign everyone out", under /settings/two-factor/
(namespace "two-factor-workspace"). Every view needs settings:security; the rules are in
``workspace.two_factor``.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.twofactor.action_codes import Action
from accounts.twofactor.selectors import users_with_2fa
from accounts.twofactor.stepup import action_confirmation_step
from kernel.capabilities import SETTINGS_SECURITY
from kernel.decorators import require_capability
from rbac.models import Membership

from . import two_factor

GET_POST = ["GET", "POST"]

REQUIREMENT_ON = (
    "Two-factor authentication is now required. Members without it will set it up at their "
    "next sign-in."
)
REQUIREMENT_OFF = "Two-factor authentication is no longer required in this workspace."
REQUIREMENT_ALREADY = "Nothing changed: the setting already had that value."
SIGNED_OUT_EVERYONE = (
    "{count} session(s) ended. Everyone else signs in again, under the current requirement."
)


# --- The workspace's requirement (settings:security)


@require_capability(SETTINGS_SECURITY)
@require_http_methods(GET_POST)
def workspace_requirement(request):
    """Shows the switch and who has 2FA; POST turns the requirement on."""
    tenant = request.tenant
    if request.method == "POST":
        try:
            changed = two_factor.workspace_two_factor_require(
                tenant=tenant, actor=request.membership
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, REQUIREMENT_ON if changed else REQUIREMENT_ALREADY)
        return redirect("two-factor-workspace:settings")
    members = list(
        Membership.objects.filter(tenant=tenant, is_active=True).values_list("user_id", flat=True)
    )
    with_2fa = users_with_2fa(members)
    return render(
        request,
        "accounts/twofactor/workspace_requirement.html",
        {
            "required": tenant.require_2fa,
            "since": tenant.require_2fa_since,
            "actor_has_2fa": request.user.pk in with_2fa,
            "members_total": len(members),
            "members_with_2fa": len(with_2fa),
        },
    )


@require_capability(SETTINGS_SECURITY)
@require_http_methods(GET_POST)
def workspace_requirement_off(request):
    """Turning the requirement off is confirmed with an emailed code."""
    tenant = request.tenant
    if not tenant.require_2fa:
        messages.info(request, REQUIREMENT_ALREADY)
        return redirect("two-factor-workspace:settings")

    def perform(confirmation):
        two_factor.workspace_two_factor_unrequire(
            tenant=tenant, actor=request.membership, confirmation=confirmation
        )
        messages.success(request, REQUIREMENT_OFF)
        return redirect("two-factor-workspace:settings")

    return action_confirmation_step(
        request,
        action=Action.TWO_FACTOR_REQUIREMENT_OFF,
        target=tenant,
        title="Stop requiring two-factor authentication",
        consequences=[
            "Members without two-factor authentication can sign in with their password alone.",
            "Members who have set it up keep using it.",
            "Every owner is emailed about the change, and it is recorded in the audit log.",
        ],
        confirm_label="Stop requiring two-factor authentication",
        cancel_url=reverse("two-factor-workspace:settings"),
        perform=perform,
        irreversible=False,
    )


@require_capability(SETTINGS_SECURITY)
@require_http_methods(["POST"])
def workspace_sign_out_everyone(request):
    """Ends every session in this workspace except the caller's own."""
    ended = two_factor.workspace_sign_out_everyone(
        tenant=request.tenant,
        actor=request.membership,
        keep_session_key=request.session.session_key,
    )
    messages.success(request, SIGNED_OUT_EVERYONE.format(count=ended))
    return redirect("two-factor-workspace:settings")
