"""Demo records: a few hundred believable rows, deterministic, and a second run adds nothing."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from accounts.models import User
from kernel.roles import STAFF_ROLES
from rbac.models import Membership
from shop import demo
from shop.demo import seed_demo_records
from shop.models import Company, Contact, Invoice, Order, Quote, QuoteLine, StoredFile
from tenants.services import tenant_provision

pytestmark = pytest.mark.django_db


def _fresh_workspace(slug: str):
    tenant = tenant_provision(slug=slug, name="Demo Signs")
    staff = {}
    for role in STAFF_ROLES:
        user = User.objects.create_user(
            f"{role.value}@{slug}.example", "x" * 16, full_name=role.label
        )
        Membership.objects.create(user=user, tenant=tenant, role=role)
        staff[role.value] = user
    return tenant, staff


def _fingerprint() -> list[tuple]:
    return list(
        Quote.objects.order_by("number").values_list("number", "company__name", "status", "total")
    )


def test_demo_seeds_consistent_records_once(monkeypatch):
    # The real demo makes 36 companies (a few hundred records); a quarter of that proves the
    # same properties in a quarter of the time.
    monkeypatch.setattr(demo, "COMPANY_COUNT", 9)
    tenant, staff = _fresh_workspace("demo-check")
    with tenant_context(tenant):
        counts = seed_demo_records(tenant=tenant, staff_users=staff)
        assert counts["companies"] == Company.objects.count() == 9
        assert counts["contacts"] == Contact.objects.count()
        assert counts["quotes"] == Quote.objects.count()
        assert counts["orders"] == Order.objects.count()
        assert counts["invoices"] == Invoice.objects.count()
        assert counts["files"] == StoredFile.objects.count()
        assert sum(counts.values()) - counts["quote_lines"] >= 50
        assert set(Quote.objects.values_list("status", flat=True)) == {
            "draft",
            "sent",
            "accepted",
            "declined",
        }
        assert set(Invoice.objects.values_list("status", flat=True)) == {"open", "paid", "void"}
        assert QuoteLine.objects.filter(quote__isnull=False).count() == counts["quote_lines"]
        for quote in Quote.objects.prefetch_related("lines")[:20]:
            assert 1 <= quote.lines.count() <= 6
            assert quote.computed_totals().total == quote.total
        assignees = set(Order.objects.exclude(assignee=None).values_list("assignee", flat=True))
        assert assignees == {staff["installer"].pk}
        first = _fingerprint()

        assert seed_demo_records(tenant=tenant, staff_users=staff) == {"companies": 0}
        assert _fingerprint() == first
