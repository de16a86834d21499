"""Every write to the shop's data.

Invariants: each function is named ``<entity>_<action>``, takes keyword-only arguments
including ``tenant`` (the workspace whose schema must be active) and ``actor`` (the acting
rbac Membership of that workspace), and writes inside :func:`_write`: it re-checks the
actor's capability with ``kernel.capabilities.require``, opens one ``transaction.atomic`` block
and refuses a workspace that is not ACTIVE (a cancelled one is read-only) before anything is
written, so a task or command that skips the gate is refused too. Inside, the service locks
and re-checks the object's visibility with the selectors (:func:`_locked_visible`),
validates the business rules (raising ``ValidationError`` with the message constants defined
next to each function), writes, and schedules side effects with ``transaction.on_commit``. A
rule that fails leaves nothing written.

Audit events for these writes are added by the audit app in this module (one place).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import IO, TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Model, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from accounts.twofactor.action_codes import Action, ConfirmedAction, action_confirmation_check
from kernel import capabilities as caps
from kernel.capabilities import require
from kernel.roles import STAFF_ROLES
from rbac.authz import current_member
from rbac.models import Membership
from tenants.models import Tenant
from tenants.writability import WORKSPACE_READ_ONLY_MESSAGE, require_writable

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

NOT_VISIBLE = "You cannot act on a record you cannot see."
# The gate's words, so a refused task or command reads the same as a refused page.
WORKSPACE_READ_ONLY = WORKSPACE_READ_ONLY_MESSAGE  # the name the shop's tests and callers know

RecordT = TypeVar("RecordT", bound=Model)


# --- Shared checks -------------------------------------------------------------------------


def _authorize(*, tenant: Tenant, actor: Membership | None, capability: str) -> Membership:
    """The actor, as stored now, is an active member of ``tenant`` whose role allows it, and
    the connection is on the tenant's schema."""
    current = current_member(tenant, actor)
    if connection.schema_name != tenant.schema_name:
        # A programming error, not a user error: the caller forgot tenant_context().
        raise RuntimeError(
            f"shop service for {tenant.schema_name} called with schema {connection.schema_name}"
        )
    require(current, capability)
    return current


@contextmanager
def _write(*, tenant: Tenant, actor: Membership | None, capability: str) -> Iterator[None]:
    """The frame of every shop write: the actor may (``_authorize``), one transaction is open,
    and the workspace takes writes, checked inside that transaction before the body writes
    anything. Audit events are recorded by the audit app as the body saves and deletes (in
    the same transaction); side effects go in ``transaction.on_commit`` inside the body."""
    _authorize(tenant=tenant, actor=actor, capability=capability)
    with transaction.atomic():
        require_writable(tenant)
        yield


def _require_visible(queryset, obj: Model) -> None:
    """The same narrowing the pages use applies to writes (a task cannot skip it)."""
    if not queryset.filter(pk=obj.pk).exists():
        raise PermissionDenied(NOT_VISIBLE)


def _locked_visible(record: RecordT, visible: QuerySet[RecordT]) -> RecordT:
    """A fresh copy of ``record`` with its row locked (concurrent changes serialise), provided
    ``visible`` (the actor's selector) includes it. Call inside :func:`_write`."""
    locked = type(record).objects.select_for_update().get(pk=record.pk)
    _require_visible(visible, locked)
    return locked


def _set_trimmed(record: RecordT, **values: str | None) -> RecordT:
    """Assign text fields as typed, without surrounding whitespace (None counts as empty)."""
    for field, value in values.items():
        setattr(record, field, (value or "").strip())
    return record


def _save_named(record: RecordT, *, name_required: str, **text: str) -> RecordT:
    """Set ``record``'s text fields (trimmed), refuse a blank name with ``name_required``,
    validate the fields and save (inside :func:`_write`)."""
    _set_trimmed(record, **text)
    if not record.name:  # companies and contacts both have one
        raise ValidationError({"name": name_required})
    _full_clean(record)
    record.save()
    return record


def _insert_unique(record: Model, *, taken: str) -> None:
    """Insert ``record`` in a savepoint; a unique constraint that a concurrent request won
    becomes the rule's own message ``taken`` instead of a server error."""
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError as error:
        raise ValidationError(taken) from error


def _full_clean(obj: Model, *, exclude: Sequence[str] = ()) -> None:
    """Field-level validation (lengths, formats, digits) so bad input never reaches the DB."""
    obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)


def _next_number(kind: str, prefix: str) -> str:
    """The next document number of ``kind``; sequential, locked until the transaction ends."""
    sequence, _ = NumberSequence.objects.select_for_update().get_or_create(name=kind)
    sequence.last_value += 1
    sequence.save(update_fields=["last_value"])
    return f"{prefix}-{sequence.last_value:05d}"


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
    with _write(tenant=tenant, actor=actor, capability=caps.COMPANIES_CREATE):
        return _save_named(
            Company(),
            name_required=COMPANY_NAME_REQUIRED,
            name=name,
            email=email,
            phone=phone,
            billing_address=billing_address,
            site_address=site_address,
            notes=notes,
        )


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
    with _write(tenant=tenant, actor=actor, capability=caps.COMPANIES_EDIT):
        return _save_named(
            _locked_visible(company, selectors.company_list(viewer=actor)),
            name_required=COMPANY_NAME_REQUIRED,
            name=name,
            email=email,
            phone=phone,
            billing_address=billing_address,
            site_address=site_address,
            notes=notes,
        )


def company_delete(*, tenant: Tenant, actor: Membership, company: Company) -> None:
    with _write(tenant=tenant, actor=actor, capability=caps.COMPANIES_DELETE):
        company = _locked_visible(company, selectors.company_list(viewer=actor))
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

    with _write(tenant=tenant, actor=actor, capability=caps.COMPANIES_DELETE):
        action_confirmation_check(
            confirmation,
            actor=actor,
            tenant=tenant,
            action=Action.COMPANY_DELETE_WITH_RECORDS,
            target=company,
        )
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
    with _write(tenant=tenant, actor=actor, capability=caps.COMPANIES_EDIT):
        _require_visible(selectors.company_list(viewer=actor), company)
        return _save_named(
            Contact(company=company),
            name_required=CONTACT_NAME_REQUIRED,
            name=name,
            email=email,
            phone=phone,
            role_title=role_title,
        )


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
    with _write(tenant=tenant, actor=actor, capability=caps.COMPANIES_EDIT):
        return _save_named(
            _locked_visible(contact, selectors.contact_list(viewer=actor)),
            name_required=CONTACT_NAME_REQUIRED,
            name=name,
            email=email,
            phone=phone,
            role_title=role_title,
        )


def contact_delete(*, tenant: Tenant, actor: Membership, contact: Contact) -> None:
    with _write(tenant=tenant, actor=actor, capability=caps.COMPANIES_EDIT):
        _locked_visible(contact, selectors.contact_list(viewer=actor)).delete()


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
    from .tasks import send_quote_sent_email

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
    capability = caps.QUOTES_RESPOND if actor and actor.is_customer else caps.QUOTES_SEND
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
    with _write(tenant=tenant, actor=actor, capability=caps.ORDERS_CREATE):
        quote = _locked_visible(quote, selectors.quote_list(viewer=actor))
        if quote.status != Quote.Status.ACCEPTED:
            raise ValidationError(ORDER_QUOTE_NOT_ACCEPTED)
        if Order.objects.filter(quote=quote).exists():
            raise ValidationError(ORDER_ALREADY_EXISTS)
        order = _order_set(
            Order(quote=quote, company_id=quote.company_id),
            tenant=tenant,
            assignee=assignee,
            due_date=due_date,
            site_address=quote.company.site_address if site_address is None else site_address,
            notes=notes,
        )
        order.number = _next_number("order", "O")
        # A concurrent request may have won the one-to-one race since the check above.
        _insert_unique(order, taken=ORDER_ALREADY_EXISTS)
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
    with _write(tenant=tenant, actor=actor, capability=caps.ORDERS_EDIT):
        order = _locked_visible(order, selectors.order_list(viewer=actor))
        if not order.is_open:
            raise ValidationError(ORDER_CLOSED)
        order = _order_set(
            order,
            tenant=tenant,
            assignee=assignee,
            due_date=due_date,
            site_address=site_address,
            notes=notes,
        )
        order.save()
    return order


def _order_set(
    order: Order,
    *,
    tenant: Tenant,
    assignee: User | None,
    due_date: date | None,
    site_address: str | None,
    notes: str | None,
) -> Order:
    """Set and validate what the order form edits; the caller saves."""
    _validate_assignee(tenant, assignee)
    order.assignee = assignee
    order.due_date = due_date
    _set_trimmed(order, site_address=site_address, notes=notes)
    _full_clean(order, exclude=["quote", "company", "number", "assignee"])
    return order


def order_change_status(*, tenant: Tenant, actor: Membership, order: Order, status: str) -> Order:
    with _write(tenant=tenant, actor=actor, capability=caps.ORDERS_EDIT):
        if status not in Order.Status.values:
            raise ValidationError(ORDER_STATUS_UNKNOWN)
        order = _locked_visible(order, selectors.order_list(viewer=actor))
        if status not in ORDER_STATUS_TRANSITIONS[order.status]:
            raise ValidationError(ORDER_STATUS_CHANGE_NOT_ALLOWED)
        order.status = status
        order.save(update_fields=["status", "updated_at"])
    return order


def order_delete(*, tenant: Tenant, actor: Membership, order: Order) -> None:
    with _write(tenant=tenant, actor=actor, capability=caps.ORDERS_DELETE):
        order = _locked_visible(order, selectors.order_list(viewer=actor))
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
    # Refused before the upload is read and its bytes stored, not only when the row is
    # written; _write below checks again inside the transaction, where it counts.
    require_writable(tenant)
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
        with _write(tenant=tenant, actor=actor, capability=caps.FILES_UPLOAD):
            stored.save()
    except BaseException:
        storage.delete(stored.storage_key)
        raise
    return stored


def file_delete(*, tenant: Tenant, actor: Membership, stored_file: StoredFile) -> None:
    """Delete the row now and the stored object once the deletion has committed."""
    with _write(tenant=tenant, actor=actor, capability=caps.FILES_DELETE):
        stored_file = _locked_visible(stored_file, selectors.file_list(viewer=actor))
        key = stored_file.storage_key
        stored_file.delete()
        transaction.on_commit(lambda: storage.delete(key))


def file_record_download(*, tenant: Tenant, actor: Membership, stored_file: StoredFile) -> None:
    """Checks a download again before bytes are handed out (and is where it gets audited).

    Not a ``_write``: downloading is reading, which a cancelled (read-only) workspace still
    allows; the audit event it records is not a change to the workspace's data."""
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
