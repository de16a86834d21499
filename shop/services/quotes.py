"""Quotes and their lines: drafting, sending, and the customer's answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from kernel import capabilities as caps
from kernel.capabilities import Capability
from rbac.models import Membership
from tenants.models import Tenant

from .. import selectors
from ..models import Company, Order, Quote, QuoteLine
from ..money import compute_totals
from ._common import (
    _enqueue,
    _full_clean,
    _locked_visible,
    _next_number,
    _require_visible,
    _set_trimmed,
    _write,
)

QUOTE_TITLE_REQUIRED = "Give the quote a title."
QUOTE_LINE_DESCRIPTION_REQUIRED = "Describe what this line is for."
QUOTE_LINE_QUANTITY_NOT_POSITIVE = "Quantity must be greater than zero."
QUOTE_LINE_UNIT_PRICE_NEGATIVE = "Unit price cannot be negative."
QUOTE_TAX_RATE_OUT_OF_RANGE = "Tax rate must be between 0 and 100 percent."
QUOTE_NOT_A_NUMBER = "Enter a number."
QUOTE_TOO_MANY_LINES = "A quote can have at most 200 lines."
QUOTE_NOT_EDITABLE = "Only draft quotes can be edited. This quote has already been sent."
QUOTE_NOT_DRAFT = "Only draft quotes can be sent."
QUOTE_HAS_NO_LINES = "Add at least one line before sending the quote."
QUOTE_VALID_UNTIL_PAST = "The “valid until” date is in the past. Change it before sending."
QUOTE_NOT_SENT = "Only quotes that have been sent and not yet answered can be accepted or declined."
QUOTE_EXPIRED = "This quote has expired. Ask the shop for an updated quote."
QUOTE_ACCEPTED_NOT_DELETABLE = "Accepted quotes cannot be deleted; they are the basis of an order."
QUOTE_COMPANY_NOT_YOURS = "This quote was not sent to your company."
MAX_QUOTE_LINES = 200


@dataclass(frozen=True)
class LineInput:
    """One quote line as entered (services validate it)."""

    description: str
    quantity: Decimal
    unit_price: Decimal


def validate_quantity(value: Decimal) -> None:
    """Shared by forms (error next to the field) and services (the rule itself)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError(QUOTE_NOT_A_NUMBER, code="invalid")
    if value <= 0:
        raise ValidationError(QUOTE_LINE_QUANTITY_NOT_POSITIVE, code="quantity_not_positive")


def validate_unit_price(value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError(QUOTE_NOT_A_NUMBER, code="invalid")
    if value < 0:
        raise ValidationError(QUOTE_LINE_UNIT_PRICE_NEGATIVE, code="unit_price_negative")


def validate_tax_rate(value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError(QUOTE_NOT_A_NUMBER, code="invalid")
    if not Decimal(0) <= value <= Decimal(100):
        raise ValidationError(QUOTE_TAX_RATE_OUT_OF_RANGE, code="tax_rate_out_of_range")


def _quote_validate(quote: Quote, lines: Sequence[LineInput]) -> list[QuoteLine]:
    """Validate the header and every line before anything is written."""
    if not quote.title:
        raise ValidationError({"title": QUOTE_TITLE_REQUIRED})
    try:
        validate_tax_rate(quote.tax_rate)
    except ValidationError as error:
        raise ValidationError({"tax_rate": error.messages}) from error
    if len(lines) > MAX_QUOTE_LINES:
        raise ValidationError(QUOTE_TOO_MANY_LINES)
    _full_clean(quote, exclude=["company", "created_by", "number"])
    built = []
    for position, line in enumerate(lines, start=1):
        description = (line.description or "").strip()
        if not description:
            raise ValidationError({"lines": QUOTE_LINE_DESCRIPTION_REQUIRED})
        validate_quantity(line.quantity)
        validate_unit_price(line.unit_price)
        row = QuoteLine(
            position=position,
            description=description,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
        _full_clean(row, exclude=["quote"])
        built.append(row)
    return built


def _quote_write_lines(quote: Quote, rows: list[QuoteLine]) -> None:
    """Replace the quote's lines and store the totals they add up to."""
    # One save() per row (not bulk_create) so the audit trail sees every line.
    quote.lines.all().delete()
    for row in rows:
        row.quote = quote
        row.save()
    totals = compute_totals(((row.quantity, row.unit_price) for row in rows), quote.tax_rate)
    quote.subtotal, quote.tax_amount, quote.total = totals.subtotal, totals.tax_amount, totals.total
    quote.save(update_fields=["subtotal", "tax_amount", "total", "updated_at"])


def quote_create(
    *,
    tenant: Tenant,
    actor: Membership,
    company: Company,
    title: str,
    tax_rate: Decimal = Decimal("0"),
    valid_until: date | None = None,
    notes: str = "",
    lines: Sequence[LineInput] = (),
) -> Quote:
    with _write(tenant=tenant, actor=actor, capability=caps.QUOTES_CREATE):
        _require_visible(selectors.company_list(viewer=actor), company)
        quote = Quote(created_by=actor.user)
        return _quote_save(
            quote,
            company=company,
            title=title,
            tax_rate=tax_rate,
            valid_until=valid_until,
            notes=notes,
            lines=lines,
        )


def quote_update(
    *,
    tenant: Tenant,
    actor: Membership,
    quote: Quote,
    company: Company,
    title: str,
    tax_rate: Decimal,
    valid_until: date | None = None,
    notes: str = "",
    lines: Sequence[LineInput] = (),
) -> Quote:
    with _write(tenant=tenant, actor=actor, capability=caps.QUOTES_EDIT):
        quote = _locked_visible(quote, selectors.quote_list(viewer=actor))
        _require_visible(selectors.company_list(viewer=actor), company)
        if quote.status != Quote.Status.DRAFT:
            raise ValidationError(QUOTE_NOT_EDITABLE)
        return _quote_save(
            quote,
            company=company,
            title=title,
            tax_rate=tax_rate,
            valid_until=valid_until,
            notes=notes,
            lines=lines,
        )


def _quote_save(
    quote: Quote,
    *,
    company: Company,
    title: str,
    tax_rate: Decimal,
    valid_until: date | None,
    notes: str,
    lines: Sequence[LineInput],
) -> Quote:
    """Set the header, validate it and every line, then save both (inside ``_write``). A new
    quote gets its number only once everything is valid."""
    quote.company = company
    quote.tax_rate = tax_rate
    quote.valid_until = valid_until
    _set_trimmed(quote, title=title, notes=notes)
    rows = _quote_validate(quote, lines)
    if quote.pk is None:
        quote.number = _next_number("quote", "Q")
    quote.save()
    _quote_write_lines(quote, rows)
    return quote


def quote_delete(*, tenant: Tenant, actor: Membership, quote: Quote) -> None:
    with _write(tenant=tenant, actor=actor, capability=caps.QUOTES_DELETE):
        quote = _locked_visible(quote, selectors.quote_list(viewer=actor))
        if quote.status == Quote.Status.ACCEPTED or Order.objects.filter(quote=quote).exists():
            raise ValidationError(QUOTE_ACCEPTED_NOT_DELETABLE)
        quote.delete()


def quote_send(
    *, tenant: Tenant, actor: Membership, quote: Quote, notify_customer: bool = True
) -> Quote:
    """Draft -> sent; the company's email address hears about it after commit.

    ``notify_customer=False`` records a quote handed over another way (and keeps demo
    seeding from emailing hundreds of made-up companies).
    """
    from ..tasks import send_quote_sent_email

    with _write(tenant=tenant, actor=actor, capability=caps.QUOTES_SEND):
        quote = _locked_visible(quote, selectors.quote_list(viewer=actor))
        if quote.status != Quote.Status.DRAFT:
            raise ValidationError(QUOTE_NOT_DRAFT)
        if not quote.lines.exists():
            raise ValidationError(QUOTE_HAS_NO_LINES)
        if quote.is_expired:
            raise ValidationError(QUOTE_VALID_UNTIL_PAST)
        quote.status = Quote.Status.SENT
        quote.sent_at = timezone.now()
        quote.save(update_fields=["status", "sent_at", "updated_at"])
        if notify_customer and quote.company.email:
            quote_id = quote.pk
            transaction.on_commit(
                lambda: _enqueue(send_quote_sent_email, tenant=tenant, quote_id=quote_id)
            )
    return quote


def _quote_respond(*, tenant: Tenant, actor: Membership, quote: Quote, status: str) -> Quote:
    # A customer answers for their own company (quotes:respond); staff record an answer the
    # customer gave by phone or email (quotes:send, the people who sent it).
    capability: Capability = (
        caps.QUOTES_RESPOND if actor and actor.is_customer else caps.QUOTES_SEND
    )
    with _write(tenant=tenant, actor=actor, capability=capability):
        quote = _locked_visible(quote, selectors.quote_list(viewer=actor))
        if actor.is_customer and quote.company_id != actor.company_id:
            raise PermissionDenied(QUOTE_COMPANY_NOT_YOURS)
        if quote.status != Quote.Status.SENT:
            raise ValidationError(QUOTE_NOT_SENT)
        if status == Quote.Status.ACCEPTED and quote.is_expired:
            raise ValidationError(QUOTE_EXPIRED)
        quote.status = status
        quote.responded_at = timezone.now()
        quote.save(update_fields=["status", "responded_at", "updated_at"])
    return quote


def quote_accept(*, tenant: Tenant, actor: Membership, quote: Quote) -> Quote:
    return _quote_respond(tenant=tenant, actor=actor, quote=quote, status=Quote.Status.ACCEPTED)


def quote_decline(*, tenant: Tenant, actor: Membership, quote: Quote) -> Quote:
    return _quote_respond(tenant=tenant, actor=actor, quote=quote, status=Quote.Status.DECLINED)
