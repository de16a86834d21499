"""The API's request and response bodies (pydantic, via ninja): the OpenAPI document's
components. Lengths mirror the models', so the document tells clients what the services
will refuse; the services still check everything."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from desk import selectors as desk_selectors
from shop import selectors as shop_selectors

from .pagination import ListQuery, sort_field

Priority = Literal["low", "normal", "high", "urgent"]
_PAGES: dict[type, type] = {}


def page_of(item: type) -> type:
    """The page schema of a list of ``item`` (one class per item, named ``<Item>Page``)."""
    if item not in _PAGES:
        _PAGES[item] = type(
            f"{item.__name__}Page",
            (Schema,),
            {
                "__module__": __name__,
                "__annotations__": {"items": list[item], "next_cursor": str | None},  # type: ignore[valid-type]
                "__doc__": f"One page of {item.__name__} records; next_cursor is null on the last.",
            },
        )
    return _PAGES[item]


def _search() -> Any:
    return Field("", max_length=200, description="Words to find")


class ProblemField(Schema):
    field: str
    message: str


class Problem(Schema):
    """An RFC 9457 problem document (``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ProblemField] | None = None


class Company(Schema):
    id: int
    name: str
    email: str
    phone: str
    billing_address: str
    site_address: str
    notes: str
    created_at: datetime


class CompanyIn(Schema):
    name: str = Field(max_length=200)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=40)
    billing_address: str = Field("", max_length=1000)
    site_address: str = Field("", max_length=1000)
    notes: str = Field("", max_length=10000)


class CompanyQuery(ListQuery):
    q: str = _search()
    sort: str = sort_field(shop_selectors.COMPANY_SORTS)


class Sla(Schema):
    """Both targets' states: on_track, at_risk, breached, paused, met."""

    first_response: str
    resolution: str
    overall: str
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None


class Ticket(Schema):
    id: int
    number: str
    subject: str
    description: str
    status: str
    priority: str
    category: str
    company_id: int
    requester_name: str
    assignee_id: int | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    sla: Sla


class RequestQuery(ListQuery):
    q: str = _search()
    sort: str = sort_field(desk_selectors.TICKET_SORTS)
    status: str = Field("", max_length=20, description="new, open, pending_customer, resolved...")


class TicketQuery(RequestQuery):
    priority: str = Field("", max_length=10, description="low, normal, high, urgent")
    company_id: int | None = Field(None, ge=1, le=2**63 - 1)
    sla_state: str = Field("", max_length=20, description="on_track, at_risk, breached, paused")


class TicketIn(Schema):
    """A ticket opened by staff on behalf of a company's contact."""

    company_id: int
    subject: str = Field(max_length=200)
    description: str = Field(max_length=20000)
    priority: Priority = "normal"
    category: str = Field("", max_length=80)
    requester_name: str = Field(max_length=150)
    requester_email: str = Field("", max_length=254)


class TicketPatch(Schema):
    """Change what the ticket page changes; fields left out stay as they are. ``status``
    follows the page's status machine (the current status is no change); ``assignee_id``
    null unassigns. All of it happens, or none of it."""

    subject: str | None = Field(None, max_length=200)
    priority: Priority | None = None
    category: str | None = Field(None, max_length=80)
    tags: list[str] | None = Field(None, max_length=10)
    status: str | None = Field(None, max_length=20, description="open, pending_customer...")
    assignee_id: int | None = Field(None, ge=1, le=2**63 - 1)


class RequestIn(Schema):
    """A request a customer submits for their own company."""

    subject: str = Field(max_length=200)
    description: str = Field(max_length=20000)
    priority: Priority = "normal"
    category: str = Field("", max_length=80)


class Message(Schema):
    id: int
    kind: str
    author_name: str
    from_customer: bool
    body: str
    created_at: datetime


class MessageIn(Schema):
    body: str = Field(max_length=20000)
    internal: bool = False


class RequestReplyIn(Schema):
    body: str = Field(max_length=20000)


class Member(Schema):
    id: int
    email: str
    full_name: str
    role: str
    company_id: int | None
    created_at: datetime


MEMBER_SORTS = {
    "email": ["user__email"],
    "name": ["user__full_name"],
    "role": ["role"],
    "created": ["created_at"],
}


class MemberQuery(ListQuery):
    sort: str = sort_field(MEMBER_SORTS)
    role: str = Field("", max_length=30)


# --- Contacts

CONTACT_SORTS = {"name": ["name"], "email": ["email"], "company": ["company__name"]}


class Contact(Schema):
    id: int
    company_id: int
    name: str
    email: str
    phone: str
    role_title: str


class ContactIn(Schema):
    company_id: int = Field(ge=1, le=2**63 - 1)
    name: str = Field(max_length=150)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=40)
    role_title: str = Field("", max_length=100)


class ContactPatch(Schema):
    """Fields left out stay as they are; the company never changes."""

    name: str | None = Field(None, max_length=150)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=40)
    role_title: str | None = Field(None, max_length=100)


class ContactQuery(ListQuery):
    q: str = _search()
    sort: str = sort_field(CONTACT_SORTS)
    company_id: int | None = Field(None, ge=1, le=2**63 - 1)


# --- Quotes, orders, invoices

Money = Decimal


class QuoteLine(Schema):
    position: int
    description: str
    quantity: Money
    unit_price: Money
    amount: Money


class Quote(Schema):
    id: int
    number: str
    title: str
    status: str
    company_id: int
    tax_rate: Money
    valid_until: date | None
    notes: str
    subtotal: Money
    tax_amount: Money
    total: Money
    created_at: datetime
    sent_at: datetime | None
    responded_at: datetime | None
    lines: list[QuoteLine]


class QuoteLineIn(Schema):
    description: str = Field(max_length=500)
    quantity: Decimal = Field(max_digits=9, decimal_places=2)
    unit_price: Decimal = Field(max_digits=10, decimal_places=2)


class QuoteIn(Schema):
    company_id: int = Field(ge=1, le=2**63 - 1)
    title: str = Field(max_length=200)
    tax_rate: Decimal = Field(Decimal("0"), max_digits=5, decimal_places=2)
    valid_until: date | None = None
    notes: str = Field("", max_length=10000)
    lines: list[QuoteLineIn] = Field([], max_length=200)


class StatusQuery(ListQuery):
    q: str = _search()
    status: str = Field("", max_length=20)


class QuoteQuery(StatusQuery):
    sort: str = sort_field(shop_selectors.QUOTE_SORTS)


class Order(Schema):
    id: int
    number: str
    status: str
    quote_id: int
    company_id: int
    assignee_id: int | None
    site_address: str
    due_date: date | None
    notes: str
    created_at: datetime


class OrderIn(Schema):
    quote_id: int = Field(ge=1, le=2**63 - 1)
    due_date: date | None = None
    site_address: str | None = Field(None, max_length=1000)
    notes: str = Field("", max_length=10000)


class TicketMergeIn(Schema):
    into_id: int = Field(ge=1, le=2**63 - 1, description="The ticket this one merges into.")


class SlaOverrideIn(Schema):
    target: str = Field(max_length=20, description="first_response or resolution")
    kind: str = Field(max_length=10, description="extend or waive")
    new_due_at: datetime | None = Field(None, description="The later due time (extend only).")
    reason: str = Field(max_length=2000, description="Why: recorded, never shown to customers.")


class OrderStatusIn(Schema):
    status: str = Field(max_length=20, description="scheduled, in_progress, done, cancelled")


class OrderQuery(StatusQuery):
    sort: str = sort_field(shop_selectors.ORDER_SORTS)


class Invoice(Schema):
    id: int
    number: str
    status: str
    order_id: int
    company_id: int
    issue_date: date
    due_date: date
    subtotal: Money
    tax_rate: Money
    tax_amount: Money
    total: Money
    notes: str
    paid_at: datetime | None
    voided_at: datetime | None
    created_at: datetime


class InvoiceIn(Schema):
    order_id: int = Field(ge=1, le=2**63 - 1)
    issue_date: date
    due_date: date
    notes: str = Field("", max_length=10000)


class InvoiceQuery(StatusQuery):
    sort: str = sort_field(shop_selectors.INVOICE_SORTS)


# --- Files


class File(Schema):
    id: int
    company_id: int
    quote_id: int | None
    order_id: int | None
    kind: str
    original_filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


class FileQuery(ListQuery):
    q: str = _search()
    sort: str = sort_field(shop_selectors.FILE_SORTS)
    kind: str = Field("", max_length=20, description="proof, artwork or document")


class Link(Schema):
    """A short-lived link to the bytes: follow it (with the same token) before expires_at."""

    url: str
    expires_at: datetime


# --- Assets


class Asset(Schema):
    id: int
    company_id: int
    asset_type: str
    name: str
    serial: str
    location: str
    notes: str
    status: str
    created_at: datetime


AssetStatus = Literal["active", "maintenance", "retired"]


class AssetIn(Schema):
    company_id: int = Field(ge=1, le=2**63 - 1)
    asset_type: str = Field(max_length=80)
    name: str = Field(max_length=200)
    serial: str = Field("", max_length=100)
    location: str = Field("", max_length=200)
    notes: str = Field("", max_length=10000)
    status: AssetStatus = "active"


class AssetPatch(Schema):
    """Fields left out stay as they are; the company never changes."""

    asset_type: str | None = Field(None, max_length=80)
    name: str | None = Field(None, max_length=200)
    serial: str | None = Field(None, max_length=100)
    location: str | None = Field(None, max_length=200)
    notes: str | None = Field(None, max_length=10000)
    status: AssetStatus | None = None


class AssetQuery(ListQuery):
    q: str = _search()
    sort: str = sort_field(desk_selectors.ASSET_SORTS)
    status: str = Field("", max_length=20)
    company_id: int | None = Field(None, ge=1, le=2**63 - 1)


# --- Audit events


class AuditEvent(Schema):
    id: int
    sequence: int
    event_type: int
    event_name: str
    outcome: str
    timestamp: datetime
    actor_kind: str
    actor_name: str
    actor_email: str
    on_behalf_of_email: str
    remote_addr: str
    target_type: str
    target_id: str
    target_label: str
    data: dict[str, Any] | None


class AuditQuery(ListQuery):
    actor: str = Field("", max_length=254, description="Part of the actor's name or email")
    event_type: int | None = Field(None, ge=0, le=2**31 - 1)
    target: str = Field("", max_length=200)
    # Bounded so the default window (date_to minus AUDIT_DEFAULT_DAYS) stays a date.
    date_from: date | None = Field(None, ge=date(1970, 1, 1), le=date(9000, 12, 31))
    date_to: date | None = Field(None, ge=date(1970, 1, 1), le=date(9000, 12, 31))


# --- Export jobs


class ExportJob(Schema):
    id: int
    status: str
    progress_done: int
    progress_total: int
    record_count: int
    file_count: int
    archive_size: int | None
    error_message: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None


class DownloadQuery(Schema):
    link: str = Field(max_length=500, description="The link token a /link call returned")
