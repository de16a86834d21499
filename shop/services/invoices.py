"""Invoices, created from an order with the amounts frozen from its quote."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone

from kernel import capabilities as caps
from rbac.models import Membership
from tenants.models import Tenant

from .. import selectors
from ..models import Invoice, Order
from ._common import (
    _full_clean,
    _insert_unique,
    _locked_visible,
    _next_number,
    _set_trimmed,
    _write,
)

INVOICE_ORDER_CANCELLED = "A cancelled order cannot be invoiced."
INVOICE_ALREADY_EXISTS = "This order already has an invoice. Void it first to issue a new one."
INVOICE_DUE_BEFORE_ISSUE = "The due date cannot be before the issue date."
INVOICE_NOT_OPEN = "Only open invoices can be changed, paid or voided."
INVOICE_PAID_NOT_DELETABLE = "Paid invoices cannot be deleted."


def invoice_create_from_order(
    *,
    tenant: Tenant,
    actor: Membership,
    order: Order,
    issue_date: date,
    due_date: date,
    notes: str = "",
) -> Invoice:
    """Bill an order; the amounts are copied from its quote and frozen on the invoice."""
    with _write(tenant=tenant, actor=actor, capability=caps.INVOICES_CREATE):
        order = _locked_visible(order, selectors.order_list(viewer=actor))
        if order.status == Order.Status.CANCELLED:
            raise ValidationError(INVOICE_ORDER_CANCELLED)
        if order.invoices.exclude(status=Invoice.Status.VOID).exists():
            raise ValidationError(INVOICE_ALREADY_EXISTS)
        quote = order.quote
        totals = quote.computed_totals()
        invoice = Invoice(
            order=order,
            company_id=order.company_id,
            subtotal=totals.subtotal,
            tax_rate=quote.tax_rate,
            tax_amount=totals.tax_amount,
            total=totals.total,
        )
        _invoice_set(invoice, issue_date=issue_date, due_date=due_date, notes=notes)
        invoice.number = _next_number("invoice", "INV")
        # The partial unique index refuses a concurrent invoice of the same order.
        _insert_unique(invoice, taken=INVOICE_ALREADY_EXISTS)
    return invoice


def invoice_update(
    *,
    tenant: Tenant,
    actor: Membership,
    invoice: Invoice,
    issue_date: date,
    due_date: date,
    notes: str = "",
) -> Invoice:
    with _write(tenant=tenant, actor=actor, capability=caps.INVOICES_EDIT):
        invoice = _locked_open_invoice(invoice, actor)
        _invoice_set(invoice, issue_date=issue_date, due_date=due_date, notes=notes)
        invoice.save()
    return invoice


def _invoice_set(invoice: Invoice, *, issue_date: date, due_date: date, notes: str | None) -> None:
    """Set and validate what the invoice form edits; the caller saves."""
    if due_date < issue_date:
        raise ValidationError({"due_date": INVOICE_DUE_BEFORE_ISSUE})
    invoice.issue_date = issue_date
    invoice.due_date = due_date
    _set_trimmed(invoice, notes=notes)
    _full_clean(invoice, exclude=["order", "company", "number"])


def _locked_open_invoice(invoice: Invoice, actor: Membership) -> Invoice:
    """The invoice locked and visible to ``actor``, if it is still open (inside ``_write``)."""
    invoice = _locked_visible(invoice, selectors.invoice_list(viewer=actor))
    if invoice.status != Invoice.Status.OPEN:
        raise ValidationError(INVOICE_NOT_OPEN)
    return invoice


def invoice_mark_paid(*, tenant: Tenant, actor: Membership, invoice: Invoice) -> Invoice:
    with _write(tenant=tenant, actor=actor, capability=caps.INVOICES_EDIT):
        invoice = _locked_open_invoice(invoice, actor)
        invoice.status = Invoice.Status.PAID
        invoice.paid_at = timezone.now()
        invoice.save(update_fields=["status", "paid_at", "updated_at"])
    return invoice


def invoice_void(*, tenant: Tenant, actor: Membership, invoice: Invoice) -> Invoice:
    with _write(tenant=tenant, actor=actor, capability=caps.INVOICES_VOID):
        invoice = _locked_open_invoice(invoice, actor)
        invoice.status = Invoice.Status.VOID
        invoice.voided_at = timezone.now()
        invoice.save(update_fields=["status", "voided_at", "updated_at"])
    return invoice


def invoice_delete(*, tenant: Tenant, actor: Membership, invoice: Invoice) -> None:
    with _write(tenant=tenant, actor=actor, capability=caps.INVOICES_DELETE):
        invoice = _locked_visible(invoice, selectors.invoice_list(viewer=actor))
        if invoice.status == Invoice.Status.PAID:
            raise ValidationError(INVOICE_PAID_NOT_DELETABLE)
        invoice.delete()
