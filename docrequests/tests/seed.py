"""Document requests for the shared test workspaces (a SEED_HOOK of tests/seeding.py, after
the shop's): per customer company one request with two items, one of them answered by the
client, so the isolation and matrix sweeps have a request, an item and an upload to reach
for in every workspace."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from accounts.models import RateLimitCounter
from docrequests import services
from kernel.roles import Role
from rbac.models import Membership
from shop.tests.factories import TINY_PDF, upload_of


def request_title(slug: str, company_id: int) -> str:
    return f"Documents of {slug} company {company_id}"


def seed_docrequest_records(tenant, *, password: str) -> None:
    owner = Membership.objects.select_related("user", "tenant").get(tenant=tenant, role=Role.OWNER)
    customers = Membership.objects.filter(tenant=tenant, role=Role.CUSTOMER).order_by("pk")
    with tenant_context(tenant):
        for customer in customers:
            address = f"client-{customer.company_id}@{tenant.slug}.example"
            issued = services.document_request_create(
                tenant=tenant,
                actor=owner,
                company_id=customer.company_id,
                recipients=[address],
                title=request_title(tenant.slug, customer.company_id),
                items=[
                    services.ItemSpec("Signed contract", accepted_types=("pdf",)),
                    services.ItemSpec("Passport", required=False),
                ],
                lifetime_days=30,
            )
            first = issued.document_request.items.first()
            services.item_upload(
                tenant=tenant,
                document_request=issued.document_request,
                item=first,
                email=address,
                upload=services.FileIn(upload_of(TINY_PDF), f"contract-{tenant.slug}.pdf"),
                ip="192.0.2.10",
            )
    # The seed's uploads went through the limiter; tests of the limiter's own table start
    # from the counters their own requests make.
    RateLimitCounter.objects.filter(rule__startswith="docrequest_").delete()
