"""Desk records for the shared test workspaces (a SEED_HOOK of tests/seeding.py, after the
shop's): per customer company one asset and one request submitted by its customer, with a
public attachment, a staff reply with an internal attachment, and an internal note whose
text (``internal_marker``) must never reach a customer. The second company's request has
waited on the customer once (a stored SLA pause, so exports and imports carry one)."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from desk import services
from desk.services import Upload
from kernel.roles import Role
from rbac.models import Membership
from shop.tests.factories import TINY_PDF, TINY_PNG, upload_of


def internal_marker(slug: str, company_id: int) -> str:
    return f"INTERNAL-NOTE-{slug}-{company_id}"


def request_subject(slug: str, company_id: int) -> str:
    return f"Printer jams at {slug} company {company_id}"


def seed_desk_records(tenant, *, password: str) -> None:
    slug = tenant.slug
    expert = Membership.objects.select_related("user", "tenant").get(
        tenant=tenant, role=Role.EXPERT
    )
    owner = Membership.objects.select_related("user", "tenant").get(tenant=tenant, role=Role.OWNER)
    customers = Membership.objects.select_related("user", "tenant").filter(
        tenant=tenant, role=Role.CUSTOMER
    )
    with tenant_context(tenant):
        for index, customer in enumerate(customers.order_by("pk")):
            company_id = customer.company_id
            asset = services.asset_create(
                tenant=tenant,
                actor=owner,
                company_id=company_id,
                asset_type="Printer",
                name=f"Asset of {slug} company {company_id}",
                serial=f"SN-{slug}-{company_id}",
            )
            ticket = services.ticket_create(
                tenant=tenant,
                actor=customer,
                subject=request_subject(slug, company_id),
                description="It jams on every second page.",
                priority="normal",
                asset_ids=[asset.pk],
                uploads=[Upload(upload_of(TINY_PNG), f"jam-{slug}-{company_id}.png")],
            )
            services.ticket_reply(
                tenant=tenant,
                actor=expert,
                ticket=ticket,
                body=f"We are looking into it ({slug} company {company_id}).",
                uploads=[Upload(upload_of(TINY_PDF), f"public-{slug}-{company_id}.pdf")],
            )
            services.ticket_reply(
                tenant=tenant,
                actor=expert,
                ticket=ticket,
                body=internal_marker(slug, company_id),
                internal=True,
                uploads=[Upload(upload_of(TINY_PDF), f"internal-{slug}-{company_id}.pdf")],
            )
            if index == 1:
                for status in ("pending_customer", "open"):
                    services.ticket_change_status(
                        tenant=tenant, actor=expert, ticket=ticket, status=status
                    )
