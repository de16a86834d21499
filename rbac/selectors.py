"""Reads of memberships and invitations, narrowed to who is looking.

Invariant: every function takes the ``viewer`` (the Membership of the active workspace) and
returns only rows of the viewer's own workspace. Membership and Invitation live in the public
schema with global ids, so each query filters by ``tenant`` explicitly; ``*_get`` lookups
raise the same ``Http404`` for a missing row, a row of another workspace and a row the viewer
may not see.

- Staff with members:view see every member and open invitation of the workspace.
- A company administrator (company_members:manage) sees only the customer-role members and
  invitations of their own company.
- Anyone else sees nothing.
"""

from __future__ import annotations

import hashlib

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import Http404

from kernel.capabilities import COMPANY_MEMBERS_MANAGE, MEMBERS_VIEW, capabilities_for
from kernel.roles import CUSTOMER_ROLES, Role

from . import companies
from .models import Invitation, Membership

NOT_FOUND = "No such member or invitation."

_ROLE_ORDER = Case(
    *(When(role=role.value, then=Value(position)) for position, role in enumerate(Role)),
    output_field=IntegerField(),
)


def token_digest(token: str) -> str:
    """Invitation tokens are stored only as this digest."""
    return hashlib.sha256(token.encode()).hexdigest()


def _get(queryset: QuerySet, pk):
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404(NOT_FOUND) from None


# --- Members -------------------------------------------------------------------------------


def membership_list(*, viewer: Membership | None) -> QuerySet[Membership]:
    """Every member of the viewer's workspace, for staff who may see the team."""
    memberships = Membership.objects.select_related("user")
    if viewer is None or not viewer.is_active or MEMBERS_VIEW not in capabilities_for(viewer):
        return memberships.none()
    return memberships.filter(tenant_id=viewer.tenant_id).order_by(
        _ROLE_ORDER, "user__full_name", "user__email"
    )


def membership_get(*, viewer: Membership | None, pk) -> Membership:
    return _get(membership_list(viewer=viewer), pk)


def company_membership_list(*, viewer: Membership | None) -> QuerySet[Membership]:
    """The people of a company administrator's own company (customer roles only)."""
    memberships = Membership.objects.select_related("user")
    if (
        viewer is None
        or not viewer.is_active
        or not viewer.is_customer
        or COMPANY_MEMBERS_MANAGE not in capabilities_for(viewer)
    ):
        return memberships.none()
    return memberships.filter(
        tenant_id=viewer.tenant_id, role__in=CUSTOMER_ROLES, company_id=viewer.company_id
    ).order_by(_ROLE_ORDER, "user__full_name", "user__email")


def company_membership_get(*, viewer: Membership | None, pk) -> Membership:
    return _get(company_membership_list(viewer=viewer), pk)


# --- Invitations ---------------------------------------------------------------------------


def _open_invitations() -> QuerySet[Invitation]:
    return Invitation.objects.select_related("invited_by").filter(
        accepted_at__isnull=True, revoked_at__isnull=True
    )


def invitation_list(*, viewer: Membership | None) -> QuerySet[Invitation]:
    """Open (not accepted, not revoked) invitations of the workspace, expired ones included so
    they can be revoked and sent again."""
    if viewer is None or not viewer.is_active or MEMBERS_VIEW not in capabilities_for(viewer):
        return Invitation.objects.none()
    return _open_invitations().filter(tenant_id=viewer.tenant_id)


def invitation_get(*, viewer: Membership | None, pk) -> Invitation:
    return _get(invitation_list(viewer=viewer), pk)


def company_invitation_list(*, viewer: Membership | None) -> QuerySet[Invitation]:
    if (
        viewer is None
        or not viewer.is_active
        or not viewer.is_customer
        or COMPANY_MEMBERS_MANAGE not in capabilities_for(viewer)
    ):
        return Invitation.objects.none()
    return _open_invitations().filter(
        tenant_id=viewer.tenant_id, role__in=CUSTOMER_ROLES, company_id=viewer.company_id
    )


def company_invitation_get(*, viewer: Membership | None, pk) -> Invitation:
    return _get(company_invitation_list(viewer=viewer), pk)


def invitation_for_token(*, tenant, token: str) -> Invitation | None:
    """The invitation a link names, only on the workspace it was issued for."""
    if not token or len(token) > 200:
        return None
    return (
        Invitation.objects.select_related("tenant", "invited_by")
        .filter(tenant=tenant, token_digest=token_digest(token))
        .first()
    )


# --- Companies (names for display; the rows live in the workspace's own schema) -----------
# Declared by the business app that holds them (rbac.companies); re-exported for the views.
company_names = companies.company_names
company_choices = companies.company_choices
