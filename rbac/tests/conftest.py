"""Fixtures for the rbac tests; the two seeded workspaces come from the root conftest."""

from __future__ import annotations

import pytest

from rbac.models import Membership
from tenants.rls import platform_view


@pytest.fixture
def membership_of(db):
    """membership_of(tenant, role) -> the seeded Membership (customer roles: company One's)."""

    def get(tenant, role: str) -> Membership:
        # Whatever workspace context the last request left on the connection.
        with platform_view():
            return Membership.objects.select_related("user", "tenant").get(
                tenant=tenant, user__email=f"{role}@{tenant.slug}.example"
            )

    return get


@pytest.fixture
def events(acme, globex, in_tenant):
    """events(tenant, event_type) -> that workspace's audit events of that type written during
    this test (the seed's are left out), oldest first."""
    from audit.models import AuditEvent

    def head(tenant) -> int:
        with in_tenant(tenant):
            last = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True)
            return last.first() or 0

    heads = {acme.pk: head(acme), globex.pk: head(globex)}

    def get(tenant, event_type) -> list:
        with in_tenant(tenant):
            return list(
                AuditEvent.objects.filter(
                    event_type=int(event_type), sequence__gt=heads[tenant.pk]
                ).order_by("sequence")
            )

    return get
