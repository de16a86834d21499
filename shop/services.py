"""Every write to the shop's data.

Invariants: each function is named ``<entity>_<action>``, takes keyword-only arguments
including ``tenant`` (the workspace whose schema must be active) and ``actor`` (the acting
rbac Membership of that workspace), re-checks the actor's capability with
``rbac.capabilities.require`` and the object's visibility with the selectors, validates the
business rules (raising ``ValidationError`` with the message constants defined next to each
function), writes inside one ``transaction.atomic`` block, and schedules side effects with
``transaction.on_commit``. A rule that fails leaves nothing written.

Audit events for these writes are added by the audit app in this module (one place).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import IO

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from accounts.twofactor.action_codes import Action, ConfirmedAction, action_confirmation_check
from rbac import capabilities as caps
from rbac.capabilities import require
from rbac.models import Membership
from rbac.roles import STAFF_ROLES
from tenants.models import Tenant

from . import selectors, storage
from .models import (
    Company,
    Contact,
    Invoice,
    NumberSequence,
    Order,
    Quote,
    QuoteLine,
    StoredFile,
)
from .money import compute_totals

ACTOR_NOT_IN_WORKSPACE = "You are not a member of this workspace."
NOT_VISIBLE = "You cannot act on a record you cannot see."


# --- Shared checks -------------------------------------------------------------------------


def _authorize(*, tenant: Tenant, actor: Membership | None, capability: str) -> Membership:
    """The actor belongs to ``tenant``, the tenant's schema is active, and the role allows it."""
    if actor is None or not actor.is_active or actor.tenant_id != tenant.pk:
        raise PermissionDenied(ACTOR_NOT_IN_WORKSPACE)
    if connection.schema_name != tenant.schema_name:
        # A programming error, not a user error: the caller forgot tenant_context().
        raise RuntimeError(
            f"shop service for {tenant.schema_name} called with schema {connection.schema_name}"
        )
    require(actor, capability)
    return actor


def _require_visible(queryset, obj: Model) -> None:
    """The same narrowing the pages use applies to writes (a task cannot skip it)."""
    if not queryset.filter(pk=obj.pk).exists():
        raise PermissionDenied(NOT_VISIBLE)


def _full_clean(obj: Model, *, exclude: Sequence[str] = ()) -> None:
    """Field-level validation (lengths, formats, digits) so bad input never reaches the DB."""
    obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)


def _next_number(kind: str, prefix: str) -> str:
    """The next document number of ``kind``; sequential, locked until the transaction ends."""
    sequence, _ = NumberSequence.objects.select_for_update().get_or_create(name=kind)
    sequence.last_value += 1
    sequence.save(update_fields=["last_value"])
    return f"{prefix}-{sequence.last_value:05d}"


def _locked(model: type[Model], obj: Model) -> Model:
    """A fresh copy of ``obj`` with its row locked, so concurrent changes serialise."""
    return model.objects.select_for_update().get(pk=obj.pk)


# --- Companies -----------------------------------------------------------------------------

COMPANY_NAME_REQUIRED = "Enter the company's name."
COMPANY_HAS_RECORDS = (
    "This company still has quotes, orders, invoices or files. Delete or move those first."
)
COMPANY_HAS_CUSTOMER_MEMBERS = (
    "People from this company can still sign in to the workspace. Remove their access first."
)


def company_create(
    *,
    tenant: Tenant,
    actor: Membership,
    name: str,
    email: str = "",
    phone: str = "",
    billing_address: str = "",
    site_address: str = "",
    notes: str = "",
) -> Company:
    _authorize(tenant=tenant, actor=actor, capability=caps.COMPANIES_CREATE)
    company = Company(
        name=name.strip(),
        email=email.strip(),
        phone=phone.strip(),
        billing_address=billing_address.strip(),
        site_address=site_address.strip(),
        notes=notes.strip(),
    )
    if not company.name:
        raise ValidationError({"name": COMPANY_NAME_REQUIRED})
    _full_clean(company)
    with transaction.atomic():
        company.save()
    return company


def company_update(
    *,
    tenant: Tenant,
    actor: Membership,
    company: Company,
    name: str,
    email: str = "",
    phone: str = "",
    billing_address: str = "",
    site_address: str = "",
    notes: str = "",
) -> Company:
    _authorize(tenant=tenant, actor=actor, capability=caps.COMPANIES_EDIT)
    with transaction.atomic():
        company = _locked(Company, company)
        _require_visible(selectors.company_list(viewer=actor), company)
        company.name = name.strip()
        company.email = email.strip()
        company.phone = phone.strip()
        company.billing_address = billing_address.strip()
        company.site_address = site_address.strip()
        company.notes = notes.strip()
        if not company.name:
            raise ValidationError({"name": COMPANY_NAME_REQUIRED})
        _full_clean(company)
        company.save()
    return company


def company_delete(*, tenant: Tenant, actor: Membership, company: Company) -> None:
    _authorize(tenant=tenant, actor=actor, capability=caps.COMPANIES_DELETE)
    with transaction.atomic():
        company = _locked(Company, company)
        _require_visible(selectors.company_list(viewer=actor), company)
        if (
            company.quotes.exists()
            or company.orders.exists()
            or company.invoices.exists()
            or company.files.exists()
        ):
            raise ValidationError(COMPANY_HAS_RECORDS)
        if Membership.objects.filter(tenant=tenant, company_id=company.pk).exists():
            raise ValidationError(COMPANY_HAS_CUSTOMER_MEMBERS)
        company.delete()


def company_delete_with_records_capabilities(records: selectors.CompanyRecords) -> frozenset[str]:
    """The capabilities deleting a company together with ``records`` needs.

    A role must hold the delete capability of every kind of record it would remove, not just
    ``companies:delete``: otherwise a role allowed to delete companies but not invoices could
    remove invoices by deleting their company. Only the kinds actually present count (a
    company without invoices needs no ``invoices:delete``). Contacts go with their company
    as in :func:`company_delete`. Taking away access of the company's people needs
    ``members:manage`` (and withdrawing open invitations ``members:invite``), which
    ``rbac.services`` checks again when it does it.
    """
    needed = {caps.COMPANIES_DELETE}
    for count, capability in (
        (records.quotes, caps.QUOTES_DELETE),
        (records.orders, caps.ORDERS_DELETE),
        (records.invoices, caps.INVOICES_DELETE),
        (records.files, caps.FILES_DELETE),
        (records.people, caps.MEMBERS_MANAGE),
        (records.invitations, caps.MEMBERS_INVITE),
    ):
        if count:
            needed.add(capability)
    return frozenset(needed)


def company_delete_with_records(
    *,
    tenant: Tenant,
    actor: Membership,
    company: Company,
    confirmation: ConfirmedAction | None,
) -> selectors.CompanyRecords:
    """Delete a company and everything of it, confirmed with an emailed code; return the counts.

    Removes, in one transaction: the company's files (rows now, stored bytes only after
    commit), invoices (paid ones too), orders, quotes with their lines, contacts, the
    memberships of its people (through ``rbac.services.membership_remove``: their sessions
    here end and each removal is audited), its open invitations (revoked through
    ``rbac.services.invitation_revoke``), and the company. Every row is deleted one by one so
    each writes its own audit event exactly as the single-record delete services do; one
    COMPANY_DELETED_WITH_RECORDS event then records the counts. The business rules of those
    services (an accepted quote or a paid invoice cannot be deleted on its own) do not apply:
    removing the whole company is the point, and the emailed code is the safeguard.

    Checks, before anything changes: the actor holds ``companies:delete``,
    ``confirmation`` was issued for exactly this member, workspace, action and company
    (``action_confirmation_check``), the company still exists (else the same 404 as a missing
    one) and the actor holds every capability of
    :func:`company_delete_with_records_capabilities`.
    """
    # Imported here like the other audit hooks; rbac.services reaches back into shop.
    from audit.events import Event
    from audit.services import audit_event_record, target_of
    from rbac import services as rbac_services

    _authorize(tenant=tenant, actor=actor, capability=caps.COMPANIES_DELETE)
    action_confirmation_check(
        confirmation,
        actor=actor,
        tenant=tenant,
        action=Action.COMPANY_DELETE_WITH_RECORDS,
        target=company,
    )
    with transaction.atomic():
        locked = Company.objects.select_for_update().filter(pk=company.pk).first()
        if locked is None:  # deleted since the page was opened
            raise Http404(selectors.NOT_FOUND)
        company = locked
        _require_visible(selectors.company_list(viewer=actor), company)
        records = selectors.company_records(viewer=actor, company=company)
        for capability in sorted(company_delete_with_records_capabilities(records)):
            require(actor, capability)
        about = target_of(company)  # before delete() clears the pk

        storage_keys = []
        for stored_file in StoredFile.objects.filter(company=company).order_by("pk"):
            storage_keys.append(stored_file.storage_key)
            stored_file.delete()
        for invoice in Invoice.objects.filter(company=company).order_by("pk"):
            invoice.delete()
        for order in Order.objects.filter(company=company).order_by("pk"):
            order.delete()
        for quote in Quote.objects.filter(company=company).order_by("pk"):
            quote.delete()  # its lines go with it, each with its own event
        for contact in Contact.objects.filter(company=company).order_by("pk"):
            contact.delete()
        for person in selectors.company_people(tenant=tenant, company=company):
            rbac_services.membership_remove(tenant=tenant, actor=actor, membership=person)
        for invitation in selectors.company_open_invitations(tenant=tenant, company=company):
            rbac_services.invitation_revoke(tenant=tenant, actor=actor, invitation=invitation)
        company.delete()
        audit_event_record(
            event_type=Event.COMPANY_DELETED_WITH_RECORDS,
            target=about,
            data={"counts": records.as_data()},
        )
        # Never before commit: a rollback must leave every remaining row's bytes in place.
        for key in storage_keys:
            transaction.on_commit(lambda key=key: storage.delete(key))
    return records


# --- Contacts ------------------------------------------------------------------------------

CONTACT_NAME_REQUIRED = "Enter the contact's name."


def contact_create(
    *,
    tenant: Tenant,
    actor: Membership,
    company: Company,
    name: str,
    email: str = "",
    phone: str = "",
    role_title: str = "",
) -> Contact:
    _authorize(tenant=tenant, actor=actor, capability=caps.COMPANIES_EDIT)
    _require_visible(selectors.company_list(viewer=actor), company)
    contact = Contact(
        company=company,
        name=name.strip(),
        email=email.strip(),
        phone=phone.strip(),
        role_title=role_title.strip(),
    )
    if not contact.name:
        raise ValidationError({"name": CONTACT_NAME_REQUIRED})
    _full_clean(contact)
    with transaction.atomic():
        contact.save()
    return contact


def contact_update(
    *,
    tenant: Tenant,
    actor: Membership,
    contact: Contact,
    name: str,
    email: str = "",
    phone: str = "",
    role_title: str = "",
) -> Contact:
    _authorize(tenant=tenant, actor=actor, capability=caps.COMPANIES_EDIT)
    with transaction.atomic():
        contact = _locked(Contact, contact)
        _require_visible(selectors.contact_list(viewer=actor), contact)
        contact.name = name.strip()
        contact.email = email.strip()
        contact.phone = phone.strip()
        contact.role_title = role_title.strip()
        if not contact.name:
            raise ValidationError({"name": CONTACT_NAME_REQUIRED})
        _full_clean(contact)
        contact.save()
    return contact


def contact_delete(*, tenant: Tenant, actor: Membership, contact: Contact) -> None:
    _authorize(tenant=tenant, actor=actor, capability=caps.COMPANIES_EDIT)
    with transaction.atomic():
        _require_visible(selectors.contact_list(viewer=actor), contact)
        contact.delete()


# --- Quotes --------------------------------------------------------------------------------

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
    _authorize(tenant=tenant, actor=actor, capability=caps.QUOTES_CREATE)
    _require_visible(selectors.company_list(viewer=actor), company)
    quote = Quote(
        company=company,
        title=(title or "").strip(),
        tax_rate=tax_rate,
        valid_until=valid_until,
        notes=(notes or "").strip(),
        created_by=actor.user,
    )
    rows = _quote_validate(quote, lines)
    with transaction.atomic():
        quote.number = _next_number("quote", "Q")
        quote.save()
        _quote_write_lines(quote, rows)
    return quote


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
    _authorize(tenant=tenant, actor=actor, capability=caps.QUOTES_EDIT)
    with transaction.atomic():
        quote = _locked(Quote, quote)
        _require_visible(selectors.quote_list(viewer=actor), quote)
        _require_visible(selectors.company_list(viewer=actor), company)
        if quote.status != Quote.Status.DRAFT:
            raise ValidationError(QUOTE_NOT_EDITABLE)
        quote.company = company
        quote.title = (title or "").strip()
        quote.tax_rate = tax_rate
        quote.valid_until = valid_until
        quote.notes = (notes or "").strip()
        rows = _quote_validate(quote, lines)
        quote.save()
        _quote_write_lines(quote, rows)
    return quote


def quote_delete(*, tenant: Tenant, actor: Membership, quote: Quote) -> None:
    _authorize(tenant=tenant, actor=actor, capability=caps.QUOTES_DELETE)
    with transaction.atomic():
        quote = _locked(Quote, quote)
        _require_visible(selectors.quote_list(viewer=actor), quote)
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
    from .tasks import send_quote_sent_email

    _authorize(tenant=tenant, actor=actor, capability=caps.QUOTES_SEND)
    with transaction.atomic():
        quote = _locked(Quote, quote)
        _require_visible(selectors.quote_list(viewer=actor), quote)
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
    capability = caps.QUOTES_RESPOND if actor and actor.is_customer else caps.QUOTES_SEND
    _authorize(tenant=tenant, actor=actor, capability=capability)
    with transaction.atomic():
        quote = _locked(Quote, quote)
        _require_visible(selectors.quote_list(viewer=actor), quote)
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


# --- Orders --------------------------------------------------------------------------------

ORDER_QUOTE_NOT_ACCEPTED = "An order can only be created from an accepted quote."
ORDER_ALREADY_EXISTS = "This quote already has an order."
ORDER_ASSIGNEE_NOT_STAFF = "The assignee must be a staff member of this workspace."
ORDER_CLOSED = "Orders that are done or cancelled can no longer be edited."
ORDER_STATUS_UNKNOWN = "That is not a known order status."
ORDER_STATUS_CHANGE_NOT_ALLOWED = "This order cannot move to that status from its current one."
ORDER_HAS_INVOICES = "This order has invoices. Delete or void them first."

_S = Order.Status
# The only status changes an order can make. Anything not listed is refused.
ORDER_STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    _S.SCHEDULED: frozenset({_S.IN_PROGRESS, _S.CANCELLED}),
    _S.IN_PROGRESS: frozenset({_S.DONE, _S.SCHEDULED, _S.CANCELLED}),
    _S.DONE: frozenset(),
    _S.CANCELLED: frozenset(),
}


def order_assignable_users(*, tenant: Tenant):
    """Users an order may be assigned to: active staff members of this workspace."""
    return User.objects.filter(
        memberships__tenant=tenant,
        memberships__is_active=True,
        memberships__role__in=[role.value for role in STAFF_ROLES],
        is_active=True,
    ).order_by("full_name", "email")


def _validate_assignee(tenant: Tenant, assignee: User | None) -> None:
    if (
        assignee is not None
        and not order_assignable_users(tenant=tenant).filter(pk=assignee.pk).exists()
    ):
        raise ValidationError({"assignee": ORDER_ASSIGNEE_NOT_STAFF})


def order_create_from_quote(
    *,
    tenant: Tenant,
    actor: Membership,
    quote: Quote,
    assignee: User | None = None,
    due_date: date | None = None,
    site_address: str | None = None,
    notes: str = "",
) -> Order:
    _authorize(tenant=tenant, actor=actor, capability=caps.ORDERS_CREATE)
    with transaction.atomic():
        quote = _locked(Quote, quote)
        _require_visible(selectors.quote_list(viewer=actor), quote)
        if quote.status != Quote.Status.ACCEPTED:
            raise ValidationError(ORDER_QUOTE_NOT_ACCEPTED)
        if Order.objects.filter(quote=quote).exists():
            raise ValidationError(ORDER_ALREADY_EXISTS)
        _validate_assignee(tenant, assignee)
        order = Order(
            quote=quote,
            company_id=quote.company_id,
            assignee=assignee,
            due_date=due_date,
            site_address=(
                quote.company.site_address if site_address is None else site_address
            ).strip(),
            notes=(notes or "").strip(),
        )
        _full_clean(order, exclude=["quote", "company", "number", "assignee"])
        order.number = _next_number("order", "O")
        try:
            with transaction.atomic():
                order.save()
        except IntegrityError as error:  # a concurrent request won the one-to-one race
            raise ValidationError(ORDER_ALREADY_EXISTS) from error
    return order


def order_update(
    *,
    tenant: Tenant,
    actor: Membership,
    order: Order,
    assignee: User | None,
    due_date: date | None,
    site_address: str,
    notes: str = "",
) -> Order:
    _authorize(tenant=tenant, actor=actor, capability=caps.ORDERS_EDIT)
    with transaction.atomic():
        order = _locked(Order, order)
        _require_visible(selectors.order_list(viewer=actor), order)
        if not order.is_open:
            raise ValidationError(ORDER_CLOSED)
        _validate_assignee(tenant, assignee)
        order.assignee = assignee
        order.due_date = due_date
        order.site_address = (site_address or "").strip()
        order.notes = (notes or "").strip()
        _full_clean(order, exclude=["quote", "company", "number", "assignee"])
        order.save()
    return order


def order_change_status(*, tenant: Tenant, actor: Membership, order: Order, status: str) -> Order:
    _authorize(tenant=tenant, actor=actor, capability=caps.ORDERS_EDIT)
    if status not in Order.Status.values:
        raise ValidationError(ORDER_STATUS_UNKNOWN)
    with transaction.atomic():
        order = _locked(Order, order)
        _require_visible(selectors.order_list(viewer=actor), order)
        if status not in ORDER_STATUS_TRANSITIONS[order.status]:
            raise ValidationError(ORDER_STATUS_CHANGE_NOT_ALLOWED)
        order.status = status
        order.save(update_fields=["status", "updated_at"])
    return order


def order_delete(*, tenant: Tenant, actor: Membership, order: Order) -> None:
    _authorize(tenant=tenant, actor=actor, capability=caps.ORDERS_DELETE)
    with transaction.atomic():
        order = _locked(Order, order)
        _require_visible(selectors.order_list(viewer=actor), order)
        if order.invoices.exists():
            raise ValidationError(ORDER_HAS_INVOICES)
        order.delete()


# --- Invoices ------------------------------------------------------------------------------

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
    _authorize(tenant=tenant, actor=actor, capability=caps.INVOICES_CREATE)
    with transaction.atomic():
        order = _locked(Order, order)
        _require_visible(selectors.order_list(viewer=actor), order)
        if order.status == Order.Status.CANCELLED:
            raise ValidationError(INVOICE_ORDER_CANCELLED)
        if order.invoices.exclude(status=Invoice.Status.VOID).exists():
            raise ValidationError(INVOICE_ALREADY_EXISTS)
        if due_date < issue_date:
            raise ValidationError({"due_date": INVOICE_DUE_BEFORE_ISSUE})
        quote = order.quote
        totals = quote.computed_totals()
        invoice = Invoice(
            order=order,
            company_id=order.company_id,
            issue_date=issue_date,
            due_date=due_date,
            notes=(notes or "").strip(),
            subtotal=totals.subtotal,
            tax_rate=quote.tax_rate,
            tax_amount=totals.tax_amount,
            total=totals.total,
        )
        _full_clean(invoice, exclude=["order", "company", "number"])
        invoice.number = _next_number("invoice", "INV")
        try:
            with transaction.atomic():
                invoice.save()
        except IntegrityError as error:  # the partial unique index: a concurrent invoice
            raise ValidationError(INVOICE_ALREADY_EXISTS) from error
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
    _authorize(tenant=tenant, actor=actor, capability=caps.INVOICES_EDIT)
    with transaction.atomic():
        invoice = _locked(Invoice, invoice)
        _require_visible(selectors.invoice_list(viewer=actor), invoice)
        if invoice.status != Invoice.Status.OPEN:
            raise ValidationError(INVOICE_NOT_OPEN)
        if due_date < issue_date:
            raise ValidationError({"due_date": INVOICE_DUE_BEFORE_ISSUE})
        invoice.issue_date = issue_date
        invoice.due_date = due_date
        invoice.notes = (notes or "").strip()
        _full_clean(invoice, exclude=["order", "company", "number"])
        invoice.save()
    return invoice


def invoice_mark_paid(*, tenant: Tenant, actor: Membership, invoice: Invoice) -> Invoice:
    _authorize(tenant=tenant, actor=actor, capability=caps.INVOICES_EDIT)
    with transaction.atomic():
        invoice = _locked(Invoice, invoice)
        _require_visible(selectors.invoice_list(viewer=actor), invoice)
        if invoice.status != Invoice.Status.OPEN:
            raise ValidationError(INVOICE_NOT_OPEN)
        invoice.status = Invoice.Status.PAID
        invoice.paid_at = timezone.now()
        invoice.save(update_fields=["status", "paid_at", "updated_at"])
    return invoice


def invoice_void(*, tenant: Tenant, actor: Membership, invoice: Invoice) -> Invoice:
    _authorize(tenant=tenant, actor=actor, capability=caps.INVOICES_VOID)
    with transaction.atomic():
        invoice = _locked(Invoice, invoice)
        _require_visible(selectors.invoice_list(viewer=actor), invoice)
        if invoice.status != Invoice.Status.OPEN:
            raise ValidationError(INVOICE_NOT_OPEN)
        invoice.status = Invoice.Status.VOID
        invoice.voided_at = timezone.now()
        invoice.save(update_fields=["status", "voided_at", "updated_at"])
    return invoice


def invoice_delete(*, tenant: Tenant, actor: Membership, invoice: Invoice) -> None:
    _authorize(tenant=tenant, actor=actor, capability=caps.INVOICES_DELETE)
    with transaction.atomic():
        invoice = _locked(Invoice, invoice)
        _require_visible(selectors.invoice_list(viewer=actor), invoice)
        if invoice.status == Invoice.Status.PAID:
            raise ValidationError(INVOICE_PAID_NOT_DELETABLE)
        invoice.delete()


# --- Files ---------------------------------------------------------------------------------

FILE_REQUIRED = "Choose a file to upload."
FILE_EMPTY = "The file is empty."
FILE_TOO_LARGE = "The file is too large. The limit is {limit}."
FILE_TYPE_NOT_ALLOWED = (
    "This kind of file is not allowed. Upload a " + storage.ALLOWED_TYPE_NAMES + " file."
)
FILE_QUOTE_OTHER_COMPANY = "That quote belongs to another company."
FILE_ORDER_OTHER_COMPANY = "That order belongs to another company."
FILE_KIND_UNKNOWN = "Choose whether this is a proof, artwork or a document."


def file_too_large_message() -> str:
    return FILE_TOO_LARGE.format(limit=human_size(settings.FILE_UPLOAD_MAX_BYTES))


def human_size(size: int) -> str:
    """``26214400`` -> ``"25 MB"``; ``1536`` -> ``"1.5 KB"``."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            return f"{round(size / factor, 1):g} {unit}"
    return f"{size} bytes"


def _clean_filename(name: str) -> str:
    # Keep only the last path component and drop control characters; this is shown to people
    # and used in Content-Disposition, never as a storage key.
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().strip(".")
    return (name or "file")[:200]


def file_upload(
    *,
    tenant: Tenant,
    actor: Membership,
    company: Company,
    upload: IO[bytes],
    filename: str,
    kind: str = StoredFile.Kind.DOCUMENT,
    quote: Quote | None = None,
    order: Order | None = None,
) -> StoredFile:
    """Store an upload privately after checking its size and what its bytes really are."""
    _authorize(tenant=tenant, actor=actor, capability=caps.FILES_UPLOAD)
    _require_visible(selectors.company_list(viewer=actor), company)
    if upload is None:
        raise ValidationError({"upload": FILE_REQUIRED})
    if kind not in StoredFile.Kind.values:
        raise ValidationError({"kind": FILE_KIND_UNKNOWN})
    if quote is not None:
        _require_visible(selectors.quote_list(viewer=actor), quote)
        if quote.company_id != company.pk:
            raise ValidationError({"quote": FILE_QUOTE_OTHER_COMPANY})
    if order is not None:
        _require_visible(selectors.order_list(viewer=actor), order)
        if order.company_id != company.pk:
            raise ValidationError({"order": FILE_ORDER_OTHER_COMPANY})
    upload.seek(0, 2)
    size = upload.tell()
    upload.seek(0)
    if size == 0:
        raise ValidationError({"upload": FILE_EMPTY})
    if size > settings.FILE_UPLOAD_MAX_BYTES:
        raise ValidationError({"upload": file_too_large_message()})
    sniffed = storage.sniff(upload)
    if sniffed is None:
        raise ValidationError({"upload": FILE_TYPE_NOT_ALLOWED})
    stored = StoredFile(
        company=company,
        quote=quote,
        order=order,
        kind=kind,
        original_filename=_clean_filename(filename),
        content_type=sniffed.content_type,
        extension=sniffed.extension,
        size=size,
        sha256=storage.sha256_of(upload),
        storage_key=storage.storage_key_for(tenant.schema_name),
        uploaded_by=actor.user,
    )
    _full_clean(stored, exclude=["company", "quote", "order", "uploaded_by"])
    # Bytes first, row second: if the row cannot be written, the object is removed again,
    # so no row ever points at missing bytes.
    storage.write(stored.storage_key, upload)
    try:
        with transaction.atomic():
            stored.save()
    except BaseException:
        storage.delete(stored.storage_key)
        raise
    return stored


def file_delete(*, tenant: Tenant, actor: Membership, stored_file: StoredFile) -> None:
    """Delete the row now and the stored object once the deletion has committed."""
    _authorize(tenant=tenant, actor=actor, capability=caps.FILES_DELETE)
    with transaction.atomic():
        stored_file = _locked(StoredFile, stored_file)
        _require_visible(selectors.file_list(viewer=actor), stored_file)
        key = stored_file.storage_key
        stored_file.delete()
        transaction.on_commit(lambda: storage.delete(key))


def file_record_download(*, tenant: Tenant, actor: Membership, stored_file: StoredFile) -> None:
    """Checks a download again before bytes are handed out (and is where it gets audited)."""
    # Imported here so the audit hook stays one self-contained hunk of this module.
    from audit.events import Event
    from audit.services import audit_event_record

    _authorize(tenant=tenant, actor=actor, capability=caps.FILES_VIEW)
    _require_visible(selectors.file_list(viewer=actor), stored_file)
    with transaction.atomic():
        audit_event_record(event_type=Event.FILE_DOWNLOADED, target=stored_file)


# --- Side effects --------------------------------------------------------------------------


def _enqueue(task, *, tenant: Tenant, **kwargs) -> None:
    """Queue a tenant task (called after commit); the task sets its tenant itself."""
    task.delay(tenant_schema=tenant.schema_name, **kwargs)
