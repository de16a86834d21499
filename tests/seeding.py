"""Test data shared by the whole suite: workspaces and one member per role."""

from __future__ import annotations

from django.db import connection

from accounts.models import User
from api.tests.seed import seed_api_tokens
from audit.events import Event
from audit.services import audit_event_record
from desk.tests.seed import seed_desk_records
from docrequests.tests.seed import seed_docrequest_records
from exports.tests.seed import seed_export_jobs
from kernel.roles import CUSTOMER_ROLES, Role
from rbac.models import Membership
from rbac.tests.seed import seed_invitations
from shop.tests.seed import seed_shop_records
from support.tests.seed import seed_support_grants
from tenants.models import Tenant
from tenants.services import tenant_provision

SEED_HOOKS: list = []
SEED_HOOKS.append(seed_shop_records)  # companies, customer members, quotes... per workspace
SEED_HOOKS.append(seed_desk_records)  # assets, requests, replies and internal notes
SEED_HOOKS.append(seed_docrequest_records)  # a document request with an upload per company
SEED_HOOKS.append(seed_api_tokens)  # one API token of the owner's
SEED_HOOKS.append(seed_export_jobs)  # one finished export per workspace (after the records)
SEED_HOOKS.append(seed_invitations)  # open invitations (staff and company) per workspace
SEED_HOOKS.append(seed_support_grants)  # one support grant that has already run out


def seed_workspaces(slugs, *, password: str) -> None:
    for slug in slugs:
        tenant = tenant_provision(slug=slug, name=f"{slug.capitalize()} Signs")
        for role in Role:
            if role in CUSTOMER_ROLES:
                continue  # bound to a company; the shop seed hook creates these
            user = User.objects.create_user(
                email=f"{role.value}@{slug}.example",
                password=password,
                full_name=f"{slug.capitalize()} {role.label}",
            )
            Membership.objects.create(user=user, tenant=tenant, role=role)
            # What membership_add will record; seeds bypass services, so say it here.
            audit_event_record(
                event_type=Event.MEMBER_ADDED,
                stream=tenant,
                actor=None,
                target=user,
                data={"role": role.value},
            )
        for hook in SEED_HOOKS:
            hook(tenant, password=password)
        connection.set_schema_to_public()
    assert Tenant.objects.filter(slug__in=slugs).count() == len(slugs)
