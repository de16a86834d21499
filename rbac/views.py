"""Workspace settings pages for members, invitations, ownership and the roles matrix, and the
public page that accepts an invitation.

Invariant: every view declares its capability (the gate enforces it), looks rows up only
through ``rbac.selectors`` (so another workspace's membership or invitation id is the same 404
as a missing one), changes data only through ``rbac.services`` with POST and CSRF, and shows
action buttons only where the service would allow the action.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts import throttle
from accounts.models import User
from accounts.throttle import Throttled
from accounts.twofactor.action_codes import Action, action_code_confirm, action_code_request
from accounts.twofactor.selectors import users_with_2fa
from kernel.capabilities import (
    CAPABILITY_LABELS,
    CAPABILITY_ORDER,
    COMPANY_MEMBERS_MANAGE,
    MEMBERS_INVITE,
    MEMBERS_MANAGE,
    MEMBERS_VIEW,
    OWNERSHIP_TRANSFER,
    PUBLIC,
    ROLE_CAPABILITIES,
    SETTINGS_ROLES_VIEW,
)
from kernel.context import client_ip
from kernel.decorators import require_capability
from kernel.roles import Role
from kernel.views import GET_POST, add_service_error, flash_error

from . import passwords, selectors, services
from .forms import (
    InvitationExistingAccountForm,
    InvitationNewAccountForm,
    InviteForm,
    OwnershipTransferChooseForm,
    OwnershipTransferConfirmForm,
    RoleChangeForm,
    TemporaryPasswordForm,
)


def _member_rows(viewer, memberships) -> list[dict]:
    memberships = list(memberships)
    names = selectors.company_names(m.company_id for m in memberships)
    with_2fa = users_with_2fa(m.user_id for m in memberships)
    return [
        {
            "membership": m,
            "company_name": names.get(m.company_id, ""),
            "has_2fa": m.user_id in with_2fa,
            "manageable": services.membership_manageable_by(viewer, m),
            "is_you": m.pk == viewer.pk,
        }
        for m in memberships
    ]


def _invitation_rows(request, invitations) -> list[dict]:
    viewer = request.membership
    invitations = list(invitations)
    names = selectors.company_names(i.company_id for i in invitations)
    now = timezone.now()
    needed = COMPANY_MEMBERS_MANAGE if viewer.is_customer else MEMBERS_INVITE
    # The request's capabilities, not the role's: a support session holds fewer (support.gate),
    # and the Revoke button must not be shown where the gate would refuse it.
    held: frozenset[str] = getattr(request, "capabilities", frozenset())
    grantable = set(services.roles_grantable_by(viewer)) if needed in held else set()
    return [
        {
            "invitation": i,
            "company_name": names.get(i.company_id, ""),
            "expired": i.expires_at <= now,
            "revocable": i.role in grantable,
        }
        for i in invitations
    ]


# --- Members (staff) -----------------------------------------------------------------------


@require_capability(MEMBERS_VIEW)
@require_GET
def member_list(request):
    viewer = request.membership
    can_invite = MEMBERS_INVITE in request.capabilities and bool(
        services.roles_grantable_by(viewer)
    )
    return render(
        request,
        "rbac/member_list.html",
        {
            "rows": _member_rows(viewer, selectors.membership_list(viewer=viewer)),
            "invitations": _invitation_rows(request, selectors.invitation_list(viewer=viewer)),
            "can_invite": can_invite,
            "revoke_url_name": "rbac:invitation-revoke",
        },
    )


@require_capability(MEMBERS_VIEW)
def member_detail(request, pk: int):
    viewer = request.membership
    # Look up first: another workspace's id answers 404 to every method, like a missing one.
    membership = selectors.membership_get(viewer=viewer, pk=pk)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    row = _member_rows(viewer, [membership])[0]
    may_set_password = passwords.password_temporary_refusal(viewer, membership) is None
    return render(
        request,
        "rbac/member_detail.html",
        {
            **row,
            "capabilities": _capability_labels(membership.role),
            "may_set_password": may_set_password,
        },
    )


def _capability_labels(role: str) -> list[tuple[str, str]]:
    held = ROLE_CAPABILITIES.get(role, frozenset())
    return [(c, CAPABILITY_LABELS[c]) for c in CAPABILITY_ORDER if c in held]


@require_capability(MEMBERS_INVITE)
@require_http_methods(GET_POST)
def member_invite(request):
    viewer = request.membership
    form = InviteForm(
        request.POST or None,
        roles=services.roles_grantable_by(viewer),
        companies=selectors.company_choices(viewer=viewer),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            issued = services.membership_invite(
                tenant=request.tenant,
                actor=viewer,
                email=data["email"],
                role=data["role"],
                company_id=data.get("company"),
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Invitation sent to {issued.invitation.email}.")
            return redirect("rbac:member-list")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "rbac/member_invite.html",
        {"form": form, "cancel_url_name": "rbac:member-list", "for_company": False},
        status=status,
    )


def _revoke(request, invitation, *, done_url_name: str):
    """Revoke an invitation the viewer's selector found (POST only; the lookup comes first so
    another workspace's or company's invitation is the same 404 as a missing one)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        services.invitation_revoke(
            tenant=request.tenant, actor=request.membership, invitation=invitation
        )
    except (ValidationError, PermissionDenied) as error:
        flash_error(request, error)
    else:
        messages.success(request, f"The invitation to {invitation.email} was revoked.")
    return redirect(done_url_name)


@require_capability(MEMBERS_INVITE)
def invitation_revoke(request, pk: int):
    invitation = selectors.invitation_get(viewer=request.membership, pk=pk)
    return _revoke(request, invitation, done_url_name="rbac:member-list")


@require_capability(MEMBERS_MANAGE)
@require_http_methods(GET_POST)
def member_role(request, pk: int):
    viewer = request.membership
    membership = selectors.membership_get(viewer=viewer, pk=pk)
    refusal = services.membership_manage_refusal(viewer, membership)
    if refusal is not None:
        messages.error(request, refusal)
        return redirect("rbac:member-detail", pk=membership.pk)
    form = RoleChangeForm(
        request.POST or None,
        roles=services.roles_grantable_by(viewer),
        companies=selectors.company_choices(viewer=viewer),
        initial={"role": membership.role, "company": membership.company_id},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_change_role(
                tenant=request.tenant,
                actor=viewer,
                membership=membership,
                role=form.cleaned_data["role"],
                company_id=form.cleaned_data.get("company"),
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"{membership.user} is now {membership.get_role_display()}.")
            return redirect("rbac:member-detail", pk=membership.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "rbac/member_role.html",
        {"form": form, "membership": membership},
        status=status,
    )


@require_capability(MEMBERS_MANAGE)
@require_http_methods(GET_POST)
def member_remove(request, pk: int):
    membership = selectors.membership_get(viewer=request.membership, pk=pk)
    return _remove(
        request,
        membership=membership,
        back_url=reverse("rbac:member-detail", args=[membership.pk]),
        done_url=reverse("rbac:member-list"),
    )


def _remove(request, *, membership, back_url: str, done_url: str) -> HttpResponse:
    viewer = request.membership
    refusal = services.membership_manage_refusal(viewer, membership)
    if refusal == services.CANNOT_CHANGE_OWN_ROLE:
        refusal = services.CANNOT_REMOVE_YOURSELF
    if refusal is None and request.method == "POST":
        try:
            services.membership_remove(tenant=request.tenant, actor=viewer, membership=membership)
        except ValidationError as error:
            refusal = " ".join(error.messages)
        else:
            messages.success(request, f"{membership.user} no longer has access.")
            return redirect(done_url)
    if refusal is not None:
        messages.error(request, refusal)
        return redirect(back_url)
    return render(
        request, "rbac/member_remove.html", {"membership": membership, "cancel_url": back_url}
    )


@require_capability(MEMBERS_MANAGE)
@require_http_methods(GET_POST)
@never_cache
def member_temporary_password(request, pk: int):
    """Give a member a temporary password to hand over in person or by phone. A generated
    one is shown on the answer to the POST and nowhere else (no redirect, no message, never
    cached); a typed one is not echoed back."""
    viewer = request.membership
    membership = selectors.membership_get(viewer=viewer, pk=pk)
    refusal = passwords.password_temporary_refusal(viewer, membership)
    if refusal is not None:
        messages.error(request, refusal)
        return redirect("rbac:member-detail", pk=membership.pk)
    form = TemporaryPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        typed = form.cleaned_data["mode"] == TemporaryPasswordForm.TYPE
        try:
            given = passwords.password_temporary_set(
                tenant=request.tenant,
                actor=viewer,
                membership=membership,
                password=form.cleaned_data["password"] if typed else None,
            )
        except ValidationError as error:
            if not hasattr(error, "error_dict"):  # a rule about the member, not the input
                flash_error(request, error)
                return redirect("rbac:member-detail", pk=membership.pk)
            add_service_error(form, error)
        else:
            return render(
                request,
                "rbac/member_temporary_password_done.html",
                {"membership": membership, "given": given},
            )
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "rbac/member_temporary_password.html",
        {"form": form, "membership": membership},
        status=status,
    )


# --- Ownership -----------------------------------------------------------------------------


@require_capability(OWNERSHIP_TRANSFER)
@require_GET
def ownership_transfer(request):
    """Step 1: choose the new owner. Step 2 (confirm) re-authenticates before anything
    changes."""
    candidates = services.ownership_transfer_candidates(
        tenant=request.tenant, actor=request.membership
    )
    form = OwnershipTransferChooseForm(candidates=candidates)
    return render(
        request, "rbac/ownership_transfer.html", {"form": form, "has_candidates": bool(candidates)}
    )


@require_capability(OWNERSHIP_TRANSFER)
@require_http_methods(GET_POST)
def ownership_confirm(request):
    viewer = request.membership
    candidates = list(services.ownership_transfer_candidates(tenant=request.tenant, actor=viewer))
    data = request.POST if request.method == "POST" else None
    form = OwnershipTransferConfirmForm(
        data,
        candidates=candidates,
        user=request.user,
        initial={"member": request.GET.get("member")},
    )
    chosen = _chosen_candidate(request, candidates)
    if chosen is None and request.method == "GET":
        messages.error(request, services.TRANSFER_TARGET_INVALID)
        return redirect("rbac:ownership-transfer")
    if request.method == "POST" and request.POST.get("step") == "send":
        return _ownership_code_send(request, chosen)
    status = 400 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        try:
            if chosen is None:
                raise ValidationError({"member": services.TRANSFER_TARGET_INVALID})
            confirmation = action_code_confirm(
                actor=viewer,
                tenant=request.tenant,
                action=Action.OWNERSHIP_TRANSFER,
                target=chosen,
                code=form.cleaned_data["code"],
            )
            services.ownership_transfer(
                tenant=request.tenant,
                actor=viewer,
                new_owner=chosen,
                keep_session_key=request.session.session_key,
                confirmation=confirmation,
            )
        except Throttled as error:
            return throttle.refusal_page(
                request,
                error,
                template="rbac/ownership_confirm.html",
                context={"form": form, "chosen": chosen},
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"{chosen.user} is now the owner. You are an admin.")
            return redirect("rbac:member-list")
    return render(
        request,
        "rbac/ownership_confirm.html",
        {"form": form, "chosen": chosen},
        status=status,
    )


def _ownership_code_send(request, chosen) -> HttpResponse:
    """Email the owner a one-time code bound to handing the workspace to ``chosen``."""
    if chosen is None:
        messages.error(request, services.TRANSFER_TARGET_INVALID)
        return redirect("rbac:ownership-transfer")
    try:
        sent = action_code_request(
            actor=request.membership,
            tenant=request.tenant,
            action=Action.OWNERSHIP_TRANSFER,
            target=chosen,
        )
    except Throttled as error:
        messages.error(request, error.message)
    else:
        messages.info(
            request,
            f"We emailed a 6-digit code to {sent.email_hint}. It expires in {sent.minutes} "
            "minutes and works once, for this transfer only.",
        )
    return redirect(f"{reverse('rbac:ownership-confirm')}?member={chosen.pk}")


def _chosen_candidate(request, candidates):
    raw = request.POST.get("member") if request.method == "POST" else request.GET.get("member")
    try:
        pk = int(raw)
    except (TypeError, ValueError):
        return None
    return next((m for m in candidates if m.pk == pk), None)


# --- Roles & permissions -------------------------------------------------------------------


@require_capability(SETTINGS_ROLES_VIEW)
@require_GET
def roles(request):
    """The matrix exactly as enforced: generated from ROLE_CAPABILITIES, not a copy."""
    role_list = list(Role)
    rows = [
        {
            "capability": capability,
            "label": CAPABILITY_LABELS[capability],
            "cells": [capability in ROLE_CAPABILITIES[role] for role in role_list],
        }
        for capability in CAPABILITY_ORDER
    ]
    return render(
        request,
        "rbac/roles.html",
        {"roles": role_list, "rows": rows, "your_role": request.membership.role},
    )


# --- A company administrator's own people ----------------------------------------------------


@require_capability(COMPANY_MEMBERS_MANAGE)
@require_GET
def company_people(request):
    viewer = request.membership
    return render(
        request,
        "rbac/company_people.html",
        {
            "rows": _member_rows(viewer, selectors.company_membership_list(viewer=viewer)),
            "invitations": _invitation_rows(
                request, selectors.company_invitation_list(viewer=viewer)
            ),
            "company_name": selectors.company_names([viewer.company_id]).get(viewer.company_id),
            "revoke_url_name": "rbac:company-invitation-revoke",
        },
    )


@require_capability(COMPANY_MEMBERS_MANAGE)
@require_http_methods(GET_POST)
def company_people_invite(request):
    viewer = request.membership
    form = InviteForm(
        request.POST or None,
        roles=services.roles_grantable_by(viewer),
        companies=[],
        show_company=False,
    )
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.membership_invite(
                tenant=request.tenant,
                actor=viewer,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Invitation sent to {issued.invitation.email}.")
            return redirect("rbac:company-people")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "rbac/member_invite.html",
        {"form": form, "cancel_url_name": "rbac:company-people", "for_company": True},
        status=status,
    )


@require_capability(COMPANY_MEMBERS_MANAGE)
@require_http_methods(GET_POST)
def company_person_remove(request, pk: int):
    people = reverse("rbac:company-people")
    return _remove(
        request,
        membership=selectors.company_membership_get(viewer=request.membership, pk=pk),
        back_url=people,
        done_url=people,
    )


@require_capability(COMPANY_MEMBERS_MANAGE)
def company_invitation_revoke(request, pk: int):
    invitation = selectors.company_invitation_get(viewer=request.membership, pk=pk)
    return _revoke(request, invitation, done_url_name="rbac:company-people")


# --- Accepting an invitation (public, on the workspace host) --------------------------------


@require_capability(PUBLIC)
@throttle.limited_by(services.INVITATION_ACCEPT, throttle.SIGN_IN)
@require_http_methods(GET_POST)
@never_cache
def invitation_accept(request, token: str):
    try:
        throttle.limit(services.INVITATION_ACCEPT, ip=client_ip(request), link=token)
    except Throttled as error:
        return throttle.refusal_page(request, error)
    found = selectors.invitation_for_token(tenant=request.tenant, token=token)
    try:
        invitation = services.invitation_check(tenant=request.tenant, invitation=found)
    except services.InvitationUnusable as error:
        return _unusable(request, error)
    has_account = User.objects.filter(email=invitation.email).exists()
    form_class = InvitationExistingAccountForm if has_account else InvitationNewAccountForm
    form = form_class(request.POST or None)
    status = 400 if request.method == "POST" else 200
    refused: Throttled | None = None
    if request.method == "POST" and form.is_valid():
        try:
            accepted = services.invitation_accept(
                request=request,
                invitation=invitation,
                password=form.cleaned_data["password"],
                full_name=form.cleaned_data.get("full_name", ""),
            )
        except services.InvitationUnusable as error:
            return _unusable(request, error)
        except Throttled as error:
            refused = error
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Welcome to {request.tenant.name}.")
            if accepted.second_factor_pending:
                return redirect("accounts:two-factor-verify")
            return redirect("/")
    company_name = ""
    if invitation.company_id is not None:
        company_name = selectors.company_names([invitation.company_id]).get(
            invitation.company_id, ""
        )
    context = {
        "form": form,
        "invitation": invitation,
        "has_account": has_account,
        "company_name": company_name,
        "role_capabilities": _capability_labels(invitation.role),
    }
    if refused is not None:
        return throttle.refusal_page(
            request, refused, template="rbac/invitation_accept.html", context=context
        )
    return render(request, "rbac/invitation_accept.html", context, status=status)


def _unusable(request, error: services.InvitationUnusable) -> HttpResponse:
    return render(
        request,
        "rbac/invitation_unusable.html",
        {"message": error.messages[0]},
        status=error.status,
    )
