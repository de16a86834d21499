"""Member-management records for the shared test workspaces (a SEED_HOOK of tests/seeding.py).

Per workspace: one open staff invitation (from the owner) and one open invitation from the
company administrator for their own company, so every invitation URL has real rows to aim at.
"""

from __future__ import annotations

from kernel.roles import Role
from rbac import services
from rbac.models import Membership


def staff_invitee_email(slug: str) -> str:
    return f"invitee@{slug}.example"


def company_invitee_email(slug: str) -> str:
    return f"colleague@one.{slug}.example"


def seed_invitations(tenant, *, password: str) -> None:
    members = Membership.objects.select_related("user", "tenant").filter(tenant=tenant)
    owner = members.get(role=Role.OWNER)
    company_admin = members.get(role=Role.COMPANY_ADMIN)
    services.membership_invite(
        tenant=tenant, actor=owner, email=staff_invitee_email(tenant.slug), role=Role.EMPLOYEE
    )
    services.membership_invite(
        tenant=tenant,
        actor=company_admin,
        email=company_invitee_email(tenant.slug),
        role=Role.CUSTOMER,
    )
