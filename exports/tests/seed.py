"""One finished export per shared test workspace (a SEED_HOOK of tests/seeding.py), so the
cross-tenant sweeps have a real job, with a real archive, to aim at."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from exports import services
from kernel.roles import Role
from rbac.models import Membership


def seed_export_jobs(tenant, *, password: str) -> None:
    owner = Membership.objects.select_related("user", "tenant").get(tenant=tenant, role=Role.OWNER)
    with tenant_context(tenant):
        # Outside a transaction on_commit runs at once, and Celery is eager in tests.
        services.export_start(tenant=tenant, actor=owner)
