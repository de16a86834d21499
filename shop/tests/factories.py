"""Test data builders for the shop. They go through the services, like the pages do.

Call them inside ``in_tenant(tenant)``; ``actor`` defaults to the workspace owner.
"""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from kernel.samples import pdf_bytes, png_bytes
from rbac.models import Membership
from shop import services
from shop.models import Company, Invoice, Order, Quote, StoredFile
from shop.services import LineInput
from tenants.rls import platform_view

TINY_PDF = pdf_bytes("Test proof")
TINY_PNG = png_bytes()
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 240
HTML_BYTES = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def upload_of(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def uploaded_file(name: str, data: bytes, content_type: str) -> SimpleUploadedFile:
    """What a browser sends: a name and a content type we must not trust."""
    return SimpleUploadedFile(name, data, content_type=content_type)


def membership(tenant, role: str = "owner") -> Membership:
    """The seeded member of ``tenant`` with ``role`` (customer roles: company One's)."""
    email = f"{role}@{tenant.slug}.example"
    with platform_view():  # any workspace's member, whatever the current context
        return Membership.objects.select_related("user", "tenant").get(
            tenant=tenant, user__email=email
        )


def _actor(tenant, actor):
    return {"tenant": tenant, "actor": actor or membership(tenant)}


def line(description: str = "Vinyl banner 3x6 ft", quantity="2", unit_price="145.00") -> LineInput:
    return LineInput(description, Decimal(quantity), Decimal(unit_price))


def make_company(tenant, *, actor=None, name: str = "Bright Lights Bakery", **fields) -> Company:
    return services.company_create(**_actor(tenant, actor), name=name, **fields)


def make_quote(
    tenant,
    *,
    company: Company,
    actor=None,
    status: str = Quote.Status.DRAFT,
    lines=None,
    tax_rate: str = "10",
    title: str = "Storefront sign",
) -> Quote:
    """A quote in ``status``, moved there through the real services."""
    quote = services.quote_create(
        **_actor(tenant, actor),
        company=company,
        title=title,
        tax_rate=Decimal(tax_rate),
        valid_until=timezone.localdate() + timedelta(days=30),
        lines=[line()] if lines is None else lines,
    )
    if status != Quote.Status.DRAFT:
        services.quote_send(**_actor(tenant, None), quote=quote)
    if status == Quote.Status.ACCEPTED:
        services.quote_accept(**_actor(tenant, None), quote=quote)
    if status == Quote.Status.DECLINED:
        services.quote_decline(**_actor(tenant, None), quote=quote)
    quote.refresh_from_db()
    return quote


def make_order(tenant, *, company: Company, assignee=None, status: str = "scheduled") -> Order:
    quote = make_quote(tenant, company=company, status=Quote.Status.ACCEPTED)
    order = services.order_create_from_quote(**_actor(tenant, None), quote=quote, assignee=assignee)
    path = {
        "scheduled": [],
        "in_progress": ["in_progress"],
        "done": ["in_progress", "done"],
        "cancelled": ["cancelled"],
    }[status]
    for step in path:
        order = services.order_change_status(**_actor(tenant, None), order=order, status=step)
    return order


def make_invoice(tenant, *, order: Order, days_until_due: int = 30) -> Invoice:
    today = timezone.localdate()
    issue = min(today, today + timedelta(days=days_until_due))
    return services.invoice_create_from_order(
        **_actor(tenant, None),
        order=order,
        issue_date=issue,
        due_date=today + timedelta(days=days_until_due),
    )


def make_file(
    tenant,
    *,
    company: Company,
    actor=None,
    data: bytes = TINY_PDF,
    filename: str = "proof.pdf",
    quote: Quote | None = None,
    order: Order | None = None,
    kind: str = StoredFile.Kind.PROOF,
) -> StoredFile:
    return services.file_upload(
        **_actor(tenant, actor),
        company=company,
        upload=upload_of(data),
        filename=filename,
        kind=kind,
        quote=quote,
        order=order,
    )
