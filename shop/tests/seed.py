"""Shop records for the shared test workspaces (a SEED_HOOK of tests/seeding.py).

Per workspace: two customer companies with a draft, a sent and an accepted quote each, an
order and an invoice from the accepted quote, files (one on the draft quote, which customers
must never see), customer members bound to each company, and a MARKER company whose
strings cross-tenant tests look for in another workspace's responses.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import User
from kernel.roles import Role
from rbac.models import Membership
from shop import services
from shop.services import LineInput
from shop.tests.factories import TINY_PDF, TINY_PNG, upload_of


def company_one_name(slug: str) -> str:
    return f"{slug.capitalize()} Customer One"


def company_two_name(slug: str) -> str:
    return f"{slug.capitalize()} Customer Two"


def marker_company_name(slug: str) -> str:
    return f"MARKER-{slug}-COMPANY"


def marker_contact_email(slug: str) -> str:
    return f"marker-contact@{slug}-marker.example"


def marker_file_name(slug: str) -> str:
    return f"marker-{slug}-artwork.pdf"


def seed_shop_records(tenant, *, password: str) -> None:
    slug = tenant.slug
    owner = Membership.objects.select_related("user", "tenant").get(tenant=tenant, role=Role.OWNER)
    installer = User.objects.get(email=f"installer@{slug}.example")
    actor = {"tenant": tenant, "actor": owner}
    today = timezone.localdate()
    with tenant_context(tenant):
        one = services.company_create(
            **actor,
            name=company_one_name(slug),
            email=f"office@one.{slug}.example",
            site_address="1 First Street",
        )
        two = services.company_create(
            **actor,
            name=company_two_name(slug),
            email=f"office@two.{slug}.example",
            site_address="2 Second Avenue",
        )
        for company, assignee, label in ((one, installer, "One"), (two, None, "Two")):
            lines = [
                LineInput(f"{label} storefront sign", Decimal("1"), Decimal("1200.00")),
                LineInput(f"{label} installation", Decimal("3.5"), Decimal("85.00")),
            ]
            draft = services.quote_create(
                **actor, company=company, title=f"{label} draft quote", lines=lines
            )
            sent = services.quote_create(
                **actor,
                company=company,
                title=f"{label} sent quote",
                tax_rate=Decimal("8.25"),
                valid_until=today + timedelta(days=30),
                lines=lines,
            )
            services.quote_send(**actor, quote=sent)
            accepted = services.quote_create(
                **actor, company=company, title=f"{label} accepted quote", lines=lines
            )
            services.quote_send(**actor, quote=accepted)
            services.quote_accept(**actor, quote=accepted)
            order = services.order_create_from_quote(
                **actor, quote=accepted, assignee=assignee, due_date=today + timedelta(days=14)
            )
            services.invoice_create_from_order(
                **actor, order=order, issue_date=today, due_date=today + timedelta(days=30)
            )
            services.file_upload(
                **actor,
                company=company,
                order=order,
                kind="proof",
                upload=upload_of(TINY_PDF),
                filename=f"{label} order proof.pdf",
            )
            services.file_upload(
                **actor,
                company=company,
                quote=draft,
                kind="artwork",
                upload=upload_of(TINY_PNG),
                filename=f"{label} draft artwork.png",
            )
        marker = services.company_create(**actor, name=marker_company_name(slug))
        services.contact_create(
            **actor, company=marker, name="Marker Contact", email=marker_contact_email(slug)
        )
        services.file_upload(
            **actor,
            company=marker,
            kind="artwork",
            upload=upload_of(TINY_PDF),
            filename=marker_file_name(slug),
        )
    for role, email, company in (
        (Role.CUSTOMER, f"customer@{slug}.example", one),
        (Role.COMPANY_ADMIN, f"company_admin@{slug}.example", one),
        (Role.CUSTOMER, f"customer2@{slug}.example", two),
    ):
        user = User.objects.create_user(
            email=email, password=password, full_name=f"{company.name} {role.label}"
        )
        Membership.objects.create(user=user, tenant=tenant, role=role, company_id=company.pk)
