"""Test data shared by the whole suite: workspaces and one member per role."""

from __future__ import annotations

from django.db import connection

from accounts.models import User
from rbac.models import Membership
from rbac.roles import CUSTOMER_ROLES, Role
from tenants.models import Tenant
from tenants.services import tenant_provision

SEED_HOOKS: list = []


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
        for hook in SEED_HOOKS:
            hook(tenant, password=password)
        connection.set_schema_to_public()
    assert Tenant.objects.filter(slug__in=slugs).count() == len(slugs)
