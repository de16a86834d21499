"""What the workspace's context processors give the page, as constants: the bare side's one
context processor (``bench.settings_bare``). The objects are never saved."""

from __future__ import annotations

from django.conf import settings

from accounts.models import User
from kernel.capabilities import capabilities_for
from kernel.roles import Role
from rbac.models import Membership
from tenants.models import Tenant

TENANT = Tenant(slug="bench", name="Bench Signs", schema_name="ws_bench")
USER = User(email="owner@bench.example", full_name="Bench Owner")
MEMBERSHIP = Membership(user=USER, tenant=TENANT, role=Role.OWNER)
CAPABILITIES = capabilities_for(MEMBERSHIP)


def workspace(request) -> dict:
    return {
        "workspace": TENANT,
        "lifecycle": None,
        "membership": MEMBERSHIP,
        "caps": CAPABILITIES,
        "app_domain": settings.APP_DOMAIN,
        "support_active_until": None,
    }
