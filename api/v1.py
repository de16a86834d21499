"""Version 1 of the API: the NinjaAPI object, its operations, and nothing else.

Every operation is declared with ``@gate.endpoint(<capability>)`` (directly, or through the
list and detail builders of ``api.routes``; the suite enumerates the routers and fails on one
that does not), reads through the selectors narrowed to the caller's membership and writes
through the services the pages call. No ``from __future__ import annotations`` here: ninja
reads these annotations through the gate's wrapper.
"""

from datetime import timedelta
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponseBase
from django.urls import reverse
from django.utils import timezone
from ninja import File, Form, NinjaAPI, Query, Router
from ninja.files import UploadedFile
from ninja.operation import Operation

from audit import selectors as audit_selectors
from audit.events import EVENT_INFO, Event
from audit.models import AuditEvent
from desk import selectors as desk_selectors
from desk.models import Ticket
from desk.services import assets as asset_services
from desk.services import sla_policies as sla_services
from desk.services import tickets as ticket_services
from exports import selectors as export_selectors
from exports import services as export_services
from exports.models import ExportJob
from kernel import capabilities as caps
from kernel import storage
from rbac import selectors as rbac_selectors
from rbac.models import Membership
from shop import selectors as shop_selectors
from shop.models import StoredFile
from shop.services import companies as company_services
from shop.services import files as file_services
from shop.services import invoices as invoice_services
from shop.services import orders as order_services
from shop.services import quotes as quote_services

from . import routes, schemas
from .gate import BearerToken, endpoint, install_error_handlers, problem
from .idempotency import idempotent
from .pagination import ordered
from .routes import ERRORS, ERRORS_WRITE, ID, caller, detail_route, list_route, object_route

api = NinjaAPI(
    title="Shopsafe API",
    version="1",
    description=(
        "The workspace's data, for scripts and integrations. Authenticate with a personal "
        "API token: `Authorization: Bearer shs_...`. Errors are RFC 9457 problem documents. "
        "Lists are keyset-paginated: pass a page's `next_cursor` as `cursor` with the same "
        "filters and sort."
    ),
    auth=BearerToken(),
    urls_namespace="api",
    docs_url=None,  # our own docs page (api.views.docs): Swagger UI needs inline script
    openapi_url="/openapi.json",
)
install_error_handlers(api)


def _tenant(request: HttpRequest) -> Any:
    return request.tenant  # type: ignore[attr-defined]


def _writer(request: HttpRequest) -> dict[str, Any]:
    """The ``tenant`` and ``actor`` every service takes."""
    return {"tenant": _tenant(request), "actor": caller(request)}


def _same(record: Any) -> Any:
    return record  # the schema reads the model's attributes


def _given(payload: Any, record: Any) -> dict[str, Any]:
    """A PATCH body merged onto the record: each field given (and not null) replaces the
    record's, every other keeps its current value, so the service sees the whole form."""
    return {
        field: getattr(record, field)
        if getattr(payload, field) is None
        else getattr(payload, field)
        for field in type(payload).model_fields
    }


# --- Companies and contacts

companies = Router(tags=["companies"])

list_route(
    companies.get,
    "/companies",
    caps.COMPANIES_VIEW,
    item=schemas.Company,
    query=schemas.CompanyQuery,
    sorts=shop_selectors.COMPANY_SORTS,
    select=lambda viewer, f: shop_selectors.company_list(viewer=viewer, q=f.q, sort=f.sort),
    serialize=_same,
    url_name="companies",
)
detail_route(
    companies.get,
    "/companies/{company_id}",
    caps.COMPANIES_VIEW,
    item=schemas.Company,
    get=lambda viewer, pk: shop_selectors.company_get(viewer=viewer, pk=pk),
    serialize=_same,
    url_name="company",
)


@endpoint(
    companies.post,
    "/companies",
    caps.COMPANIES_CREATE,
    response={201: schemas.Company, **ERRORS_WRITE},
    url_name="company-create",
)
@idempotent
def company_create(request: HttpRequest, payload: schemas.CompanyIn):
    return 201, company_services.company_create(**_writer(request), **payload.dict())


@endpoint(
    companies.put,
    "/companies/{company_id}",
    caps.COMPANIES_EDIT,
    response={200: schemas.Company, **ERRORS},
    url_name="company-update",
)
def company_update(request: HttpRequest, payload: schemas.CompanyIn, company_id: int = ID):
    company = shop_selectors.company_get(viewer=caller(request), pk=company_id)
    return company_services.company_update(**_writer(request), company=company, **payload.dict())


object_route(
    companies.delete,
    "/companies/{company_id}",
    caps.COMPANIES_DELETE,
    get=lambda viewer, pk: shop_selectors.company_get(viewer=viewer, pk=pk),
    act=lambda request, company: company_services.company_delete(
        **_writer(request), company=company
    ),
    url_name="company-delete",
    description="Delete a company without records, as the company page does; one with "
    "quotes, orders, invoices, files, tickets or assets, or with customer members, is refused "
    "with the page's message.",
)


def _contacts(viewer: Membership, f: schemas.ContactQuery):
    contacts = shop_selectors.contact_list(viewer=viewer)
    if f.company_id is not None:
        contacts = contacts.filter(company_id=f.company_id)
    for term in f.q.split()[:5]:
        contacts = contacts.filter(name__icontains=term) | contacts.filter(email__icontains=term)
    return ordered(contacts, f.sort, schemas.CONTACT_SORTS, ["name", "pk"])


list_route(
    companies.get,
    "/contacts",
    caps.COMPANIES_VIEW,
    item=schemas.Contact,
    query=schemas.ContactQuery,
    select=_contacts,
    serialize=_same,
    url_name="contacts",
)
detail_route(
    companies.get,
    "/contacts/{contact_id}",
    caps.COMPANIES_VIEW,
    item=schemas.Contact,
    get=lambda viewer, pk: shop_selectors.contact_get(viewer=viewer, pk=pk),
    serialize=_same,
    url_name="contact",
)


@endpoint(
    companies.post,
    "/contacts",
    caps.COMPANIES_EDIT,
    response={201: schemas.Contact, **ERRORS_WRITE},
    url_name="contact-create",
)
@idempotent
def contact_create(request: HttpRequest, payload: schemas.ContactIn):
    data = payload.dict()
    company = shop_selectors.company_get(viewer=caller(request), pk=data.pop("company_id"))
    return 201, company_services.contact_create(**_writer(request), company=company, **data)


object_route(
    companies.patch,
    "/contacts/{contact_id}",
    caps.COMPANIES_EDIT,
    item=schemas.Contact,
    payload=schemas.ContactPatch,
    get=lambda viewer, pk: shop_selectors.contact_get(viewer=viewer, pk=pk),
    act=lambda request, contact, payload: company_services.contact_update(
        **_writer(request), contact=contact, **_given(payload, contact)
    ),
    url_name="contact-update",
)
object_route(
    companies.delete,
    "/contacts/{contact_id}",
    caps.COMPANIES_EDIT,
    get=lambda viewer, pk: shop_selectors.contact_get(viewer=viewer, pk=pk),
    act=lambda request, contact: company_services.contact_delete(
        **_writer(request), contact=contact
    ),
    url_name="contact-delete",
)


# --- Quotes (with their lines), orders, invoices

sales = Router(tags=["quotes, orders and invoices"])


def _lines(payload: schemas.QuoteIn) -> list[quote_services.LineInput]:
    return [
        quote_services.LineInput(
            description=line.description, quantity=line.quantity, unit_price=line.unit_price
        )
        for line in payload.lines
    ]


list_route(
    sales.get,
    "/quotes",
    caps.QUOTES_VIEW,
    item=schemas.Quote,
    query=schemas.QuoteQuery,
    sorts=shop_selectors.QUOTE_SORTS,
    select=lambda viewer, f: shop_selectors.quote_list(
        viewer=viewer, q=f.q, sort=f.sort, status=f.status
    ).prefetch_related("lines"),
    serialize=_same,
    url_name="quotes",
)
detail_route(
    sales.get,
    "/quotes/{quote_id}",
    caps.QUOTES_VIEW,
    item=schemas.Quote,
    get=lambda viewer, pk: shop_selectors.quote_get(viewer=viewer, pk=pk),
    serialize=_same,
    url_name="quote",
)


@endpoint(
    sales.post,
    "/quotes",
    caps.QUOTES_CREATE,
    response={201: schemas.Quote, **ERRORS_WRITE},
    url_name="quote-create",
)
@idempotent
def quote_create(request: HttpRequest, payload: schemas.QuoteIn):
    company = shop_selectors.company_get(viewer=caller(request), pk=payload.company_id)
    quote = quote_services.quote_create(
        **_writer(request),
        company=company,
        title=payload.title,
        tax_rate=payload.tax_rate,
        valid_until=payload.valid_until,
        notes=payload.notes,
        lines=_lines(payload),
    )
    return 201, quote


@endpoint(
    sales.put,
    "/quotes/{quote_id}",
    caps.QUOTES_EDIT,
    response={200: schemas.Quote, **ERRORS_WRITE},
    url_name="quote-update",
)
def quote_update(request: HttpRequest, payload: schemas.QuoteIn, quote_id: int = ID):
    """Replace a draft quote's header and lines, as its edit page does (a sent quote is no
    longer editable)."""
    viewer = caller(request)
    quote = shop_selectors.quote_get(viewer=viewer, pk=quote_id)
    company = shop_selectors.company_get(viewer=viewer, pk=payload.company_id)
    return quote_services.quote_update(
        **_writer(request),
        quote=quote,
        company=company,
        title=payload.title,
        tax_rate=payload.tax_rate,
        valid_until=payload.valid_until,
        notes=payload.notes,
        lines=_lines(payload),
    )


def _quote_action(path: str, capability: caps.Capability, name: str, action: Any) -> None:
    """``POST /quotes/{quote_id}/<verb>``: a lifecycle step through its service."""

    def view(request: HttpRequest, quote_id: int = ID):
        quote = shop_selectors.quote_get(viewer=caller(request), pk=quote_id)
        return action(**_writer(request), quote=quote)

    view.__name__ = name
    endpoint(
        sales.post,
        path,
        capability,
        response={200: schemas.Quote, **ERRORS_WRITE},
        url_name=name.replace("_", "-"),
    )(view)


_quote_action("/quotes/{quote_id}/send", caps.QUOTES_SEND, "quote_send", quote_services.quote_send)
_quote_action(
    "/quotes/{quote_id}/accept", caps.QUOTES_RESPOND, "quote_accept", quote_services.quote_accept
)
_quote_action(
    "/quotes/{quote_id}/decline", caps.QUOTES_RESPOND, "quote_decline", quote_services.quote_decline
)
# Staff record the customer's answer given by phone, email or in person (the quote page's
# "Record acceptance" and "Record decline"): the same steps, held by those who send quotes.
_quote_action(
    "/quotes/{quote_id}/record-acceptance",
    caps.QUOTES_SEND,
    "quote_record_acceptance",
    quote_services.quote_accept,
)
_quote_action(
    "/quotes/{quote_id}/record-decline",
    caps.QUOTES_SEND,
    "quote_record_decline",
    quote_services.quote_decline,
)
object_route(
    sales.delete,
    "/quotes/{quote_id}",
    caps.QUOTES_DELETE,
    get=lambda viewer, pk: shop_selectors.quote_get(viewer=viewer, pk=pk),
    act=lambda request, quote: quote_services.quote_delete(**_writer(request), quote=quote),
    url_name="quote-delete",
    description="Delete a quote, with the quote page's rules.",
)

list_route(
    sales.get,
    "/orders",
    caps.ORDERS_VIEW,
    item=schemas.Order,
    query=schemas.OrderQuery,
    sorts=shop_selectors.ORDER_SORTS,
    select=lambda viewer, f: shop_selectors.order_list(
        viewer=viewer, q=f.q, sort=f.sort, status=f.status
    ),
    serialize=_same,
    url_name="orders",
)
detail_route(
    sales.get,
    "/orders/{order_id}",
    caps.ORDERS_VIEW,
    item=schemas.Order,
    get=lambda viewer, pk: shop_selectors.order_get(viewer=viewer, pk=pk),
    serialize=_same,
    url_name="order",
)


@endpoint(
    sales.post,
    "/orders",
    caps.ORDERS_CREATE,
    response={201: schemas.Order, **ERRORS_WRITE},
    url_name="order-create",
)
@idempotent
def order_create(request: HttpRequest, payload: schemas.OrderIn):
    """Turn an accepted quote into an order."""
    quote = shop_selectors.quote_get(viewer=caller(request), pk=payload.quote_id)
    order = order_services.order_create_from_quote(
        **_writer(request),
        quote=quote,
        due_date=payload.due_date,
        site_address=payload.site_address,
        notes=payload.notes,
    )
    return 201, order


object_route(
    sales.post,
    "/orders/{order_id}/status",
    caps.ORDERS_EDIT,
    item=schemas.Order,
    payload=schemas.OrderStatusIn,
    get=lambda viewer, pk: shop_selectors.order_get(viewer=viewer, pk=pk),
    act=lambda request, order, payload: order_services.order_change_status(
        **_writer(request), order=order, status=payload.status
    ),
    url_name="order-status",
    description="Move the order along its statuses, as the order page's buttons do: "
    "scheduled -> in_progress -> done, back to scheduled, or cancelled before it is done.",
)
object_route(
    sales.delete,
    "/orders/{order_id}",
    caps.ORDERS_DELETE,
    get=lambda viewer, pk: shop_selectors.order_get(viewer=viewer, pk=pk),
    act=lambda request, order: order_services.order_delete(**_writer(request), order=order),
    url_name="order-delete",
    description="Delete an order, with the order page's rules.",
)

list_route(
    sales.get,
    "/invoices",
    caps.INVOICES_VIEW,
    item=schemas.Invoice,
    query=schemas.InvoiceQuery,
    sorts=shop_selectors.INVOICE_SORTS,
    select=lambda viewer, f: shop_selectors.invoice_list(
        viewer=viewer, q=f.q, sort=f.sort, status=f.status
    ),
    serialize=_same,
    url_name="invoices",
)
detail_route(
    sales.get,
    "/invoices/{invoice_id}",
    caps.INVOICES_VIEW,
    item=schemas.Invoice,
    get=lambda viewer, pk: shop_selectors.invoice_get(viewer=viewer, pk=pk),
    serialize=_same,
    url_name="invoice",
)


@endpoint(
    sales.post,
    "/invoices",
    caps.INVOICES_CREATE,
    response={201: schemas.Invoice, **ERRORS_WRITE},
    url_name="invoice-create",
)
@idempotent
def invoice_create(request: HttpRequest, payload: schemas.InvoiceIn):
    """Issue an invoice for an order."""
    order = shop_selectors.order_get(viewer=caller(request), pk=payload.order_id)
    invoice = invoice_services.invoice_create_from_order(
        **_writer(request),
        order=order,
        issue_date=payload.issue_date,
        due_date=payload.due_date,
        notes=payload.notes,
    )
    return 201, invoice


_INVOICE_ACTIONS: tuple[tuple[str, caps.Capability, Any, str], ...] = (
    ("pay", caps.INVOICES_EDIT, invoice_services.invoice_mark_paid, "Record an open invoice paid."),
    ("void", caps.INVOICES_VOID, invoice_services.invoice_void, "Void an open invoice."),
)
for _verb, _capability, _action, _text in _INVOICE_ACTIONS:
    object_route(
        sales.post,
        f"/invoices/{{invoice_id}}/{_verb}",
        _capability,
        item=schemas.Invoice,
        get=lambda viewer, pk: shop_selectors.invoice_get(viewer=viewer, pk=pk),
        act=lambda request, invoice, action=_action: action(**_writer(request), invoice=invoice),
        url_name=f"invoice-{_verb}",
        description=_text,
    )
object_route(
    sales.delete,
    "/invoices/{invoice_id}",
    caps.INVOICES_DELETE,
    get=lambda viewer, pk: shop_selectors.invoice_get(viewer=viewer, pk=pk),
    act=lambda request, invoice: invoice_services.invoice_delete(
        **_writer(request), invoice=invoice
    ),
    url_name="invoice-delete",
    description="Delete an invoice, with the invoice page's rules.",
)


# --- Files: upload, and downloads through a short-lived link

files = Router(tags=["files"])
FILE_LINK_SALT = "api.file-link"
FILE_LINK_INVALID = "This download link is not valid or has expired; ask for a new one."

list_route(
    files.get,
    "/files",
    caps.FILES_VIEW,
    item=schemas.File,
    query=schemas.FileQuery,
    sorts=shop_selectors.FILE_SORTS,
    select=lambda viewer, f: shop_selectors.file_list(
        viewer=viewer, q=f.q, sort=f.sort, kind=f.kind
    ),
    serialize=_same,
    url_name="files",
)
detail_route(
    files.get,
    "/files/{file_id}",
    caps.FILES_VIEW,
    item=schemas.File,
    get=lambda viewer, pk: shop_selectors.file_get(viewer=viewer, pk=pk),
    serialize=_same,
    url_name="file",
)
object_route(
    files.delete,
    "/files/{file_id}",
    caps.FILES_DELETE,
    get=lambda viewer, pk: shop_selectors.file_get(viewer=viewer, pk=pk),
    act=lambda request, stored: file_services.file_delete(**_writer(request), stored_file=stored),
    url_name="file-delete",
    description="Delete a file (its bytes once the deletion is committed).",
)


@endpoint(
    files.post,
    "/files",
    caps.FILES_UPLOAD,
    response={201: schemas.File, **ERRORS_WRITE, 413: schemas.Problem},
    url_name="file-upload",
)
@idempotent
def file_upload(
    request: HttpRequest,
    upload: File[UploadedFile],
    company_id: Form[int],
    kind: Form[str] = StoredFile.Kind.DOCUMENT,
    quote_id: Form[int | None] = None,
    order_id: Form[int | None] = None,
):
    """Upload a file (multipart/form-data). What it is comes from its bytes, not its name."""
    viewer = caller(request)
    if upload.file is None:
        raise ValidationError({"upload": file_services.FILE_REQUIRED})
    company = shop_selectors.company_get(viewer=viewer, pk=company_id)
    quote = None if quote_id is None else shop_selectors.quote_get(viewer=viewer, pk=quote_id)
    order = None if order_id is None else shop_selectors.order_get(viewer=viewer, pk=order_id)
    stored = file_services.file_upload(
        **_writer(request),
        company=company,
        upload=upload.file,
        filename=upload.name or "",
        kind=kind,
        quote=quote,
        order=order,
    )
    return 201, stored


@endpoint(
    files.get,
    "/files/{file_id}/download",
    caps.FILES_VIEW,
    response={200: schemas.Link, **ERRORS},
    url_name="file-download",
)
def file_download(request: HttpRequest, file_id: int = ID):
    """A link to the file's bytes, valid for at most 60 seconds: the presigned URL the pages
    redirect to on S3-compatible storage, else a signed link to ``/files/{id}/content`` (which
    also needs the token). Recorded as a download, as on the pages."""
    viewer = caller(request)
    stored = shop_selectors.file_get(viewer=viewer, pk=file_id)
    file_services.file_record_download(**_writer(request), stored_file=stored)
    expires_at = timezone.now() + timedelta(seconds=storage.signed_url_seconds())
    url = storage.signed_url(stored)
    if url is None:
        link = _file_signer(request).sign(f"{stored.pk}:{viewer.pk}")
        path = reverse("api:file-content", kwargs={"file_id": stored.pk})
        url = request.build_absolute_uri(f"{path}?link={link}")
    return {"url": url, "expires_at": expires_at}


def _file_signer(request: HttpRequest) -> signing.TimestampSigner:
    # Bound to this workspace: a link minted at acme is no link at globex.
    return signing.TimestampSigner(
        salt=f"{FILE_LINK_SALT}:{_tenant(request).schema_name}", algorithm="sha256"
    )


@endpoint(
    files.get,
    "/files/{file_id}/content",
    caps.FILES_VIEW,
    response={200: None, **ERRORS},
    url_name="file-content",
    openapi_extra={
        "responses": {
            200: {
                "description": "The file's bytes",
                "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            }
        }
    },
)
def file_content(
    request: HttpRequest, query: Query[schemas.DownloadQuery], file_id: int = ID
) -> HttpResponseBase:
    """The bytes, for a link ``/files/{id}/download`` gave this member less than a minute
    ago; anything else is the missing-object 404."""
    viewer = caller(request)
    stored = shop_selectors.file_get(viewer=viewer, pk=file_id)
    try:
        value = _file_signer(request).unsign(query.link, max_age=storage.signed_url_seconds())
    except signing.BadSignature:
        raise Http404(FILE_LINK_INVALID) from None
    if value != f"{stored.pk}:{viewer.pk}":
        raise Http404(FILE_LINK_INVALID)
    return storage.download_response(stored)


# --- Tickets (staff) and requests (the customer portal), with messages and SLA state

tickets = Router(tags=["tickets"])


def _ticket(ticket: Ticket) -> dict:
    state = desk_selectors.ticket_sla(ticket)
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "subject": ticket.subject,
        "description": ticket.description,
        "status": ticket.status,
        "priority": ticket.priority,
        "category": ticket.category,
        "company_id": ticket.company_id,
        "requester_name": ticket.requester_name,
        "assignee_id": ticket.assignee_id,
        "tags": list(ticket.tags or []),
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "sla": {
            "first_response": state.first_response,
            "resolution": state.resolution,
            "overall": state.overall,
            "first_response_due_at": ticket.first_response_due_at,
            "resolution_due_at": ticket.resolution_due_at,
        },
    }


def _tickets(viewer: Membership, f: schemas.RequestQuery):
    filters = desk_selectors.TicketFilters(
        status=f.status,
        priority=getattr(f, "priority", ""),
        company="" if getattr(f, "company_id", None) is None else str(f.company_id),  # type: ignore[attr-defined]
        sla_state=getattr(f, "sla_state", ""),
    )
    return desk_selectors.ticket_list(viewer=viewer, q=f.q, sort=f.sort, filters=filters)


def _ticket_get(viewer: Membership, pk: int) -> Ticket:
    return desk_selectors.ticket_get(viewer=viewer, pk=pk)


def _messages(request: HttpRequest, ticket_id: int) -> list:
    viewer = caller(request)
    ticket = desk_selectors.ticket_get(viewer=viewer, pk=ticket_id)
    return list(desk_selectors.message_list(viewer=viewer, ticket=ticket))


list_route(
    tickets.get,
    "/tickets",
    caps.TICKETS_VIEW,
    item=schemas.Ticket,
    query=schemas.TicketQuery,
    sorts=desk_selectors.TICKET_SORTS,
    select=_tickets,
    serialize=_ticket,
    url_name="tickets",
)
detail_route(
    tickets.get,
    "/tickets/{ticket_id}",
    caps.TICKETS_VIEW,
    item=schemas.Ticket,
    get=_ticket_get,
    serialize=_ticket,
    url_name="ticket",
)


@endpoint(
    tickets.post,
    "/tickets",
    caps.TICKETS_CREATE,
    response={201: schemas.Ticket, **ERRORS_WRITE},
    url_name="ticket-create",
)
@idempotent
def ticket_create(request: HttpRequest, payload: schemas.TicketIn):
    # The company must be one the caller sees: the same 404 as a missing one.
    company = shop_selectors.company_get(viewer=caller(request), pk=payload.company_id)
    ticket = ticket_services.ticket_create(
        **_writer(request),
        subject=payload.subject,
        description=payload.description,
        priority=payload.priority,
        category=payload.category,
        company_id=company.pk,
        requester_name=payload.requester_name,
        requester_email=payload.requester_email,
    )
    return 201, _ticket(ticket)


@endpoint(
    tickets.get,
    "/tickets/{ticket_id}/messages",
    caps.TICKETS_VIEW,
    response={200: list[schemas.Message], **ERRORS},
    url_name="ticket-messages",
)
def ticket_messages(request: HttpRequest, ticket_id: int = ID):
    """The conversation, internal notes included (staff only)."""
    return _messages(request, ticket_id)


@endpoint(
    tickets.post,
    "/tickets/{ticket_id}/messages",
    caps.TICKETS_WORK,
    response={201: schemas.Message, **ERRORS_WRITE},
    url_name="ticket-reply",
)
@idempotent
def ticket_reply(request: HttpRequest, payload: schemas.MessageIn, ticket_id: int = ID):
    ticket = desk_selectors.ticket_get(viewer=caller(request), pk=ticket_id)
    message = ticket_services.ticket_reply(
        **_writer(request), ticket=ticket, body=payload.body, internal=payload.internal
    )
    return 201, message


def _ticket_patch(request: HttpRequest, ticket: Ticket, payload: schemas.TicketPatch) -> dict:
    """The ticket page's three forms in one transaction, each through its service: the
    fields (subject, priority, category, tags; watchers and linked assets kept), the assignee,
    then the status. Any refusal undoes all of it."""
    given = payload.model_fields_set
    fields = {"subject", "priority", "category", "tags"}
    with transaction.atomic():
        if given & fields:
            values = _given(payload, ticket)
            ticket = ticket_services.ticket_update(
                **_writer(request),
                ticket=ticket,
                **{field: values[field] for field in fields},
                watcher_ids=list(ticket.watchers.values_list("pk", flat=True)),
                asset_ids=list(ticket.assets.values_list("pk", flat=True)),
            )
        if "assignee_id" in given:
            ticket = ticket_services.ticket_assign(
                **_writer(request), ticket=ticket, assignee_id=payload.assignee_id
            )
        if payload.status is not None and payload.status != ticket.status:
            ticket = ticket_services.ticket_change_status(
                **_writer(request), ticket=ticket, status=payload.status
            )
    return _ticket(ticket)


object_route(
    tickets.patch,
    "/tickets/{ticket_id}",
    caps.TICKETS_WORK,
    item=schemas.Ticket,
    payload=schemas.TicketPatch,
    get=_ticket_get,
    act=_ticket_patch,
    url_name="ticket-update",
)


def _ticket_merge(request: HttpRequest, ticket: Ticket, payload: schemas.TicketMergeIn) -> dict:
    """The ticket page's merge: the target is looked up as the caller sees tickets (another
    workspace's or one the caller may not see is the missing-object 404)."""
    into = desk_selectors.ticket_get(viewer=caller(request), pk=payload.into_id)
    return _ticket(ticket_services.ticket_merge(**_writer(request), ticket=ticket, into=into))


object_route(
    tickets.post,
    "/tickets/{ticket_id}/merge",
    caps.TICKETS_WORK,
    item=schemas.Ticket,
    payload=schemas.TicketMergeIn,
    get=_ticket_get,
    act=_ticket_merge,
    url_name="ticket-merge",
    description="Merge this ticket into ``into_id`` (same company, not closed): its "
    "conversation and attachments move over and it is closed. Answers the target ticket.",
)


def _sla_override(request: HttpRequest, ticket: Ticket, payload: schemas.SlaOverrideIn) -> dict:
    override = sla_services.sla_override(
        **_writer(request),
        ticket=ticket,
        target=payload.target,
        kind=payload.kind,
        new_due_at=payload.new_due_at,
        reason=payload.reason,
    )
    return _ticket(override.ticket)


object_route(
    tickets.post,
    "/tickets/{ticket_id}/sla-override",
    caps.SLA_OVERRIDE,
    item=schemas.Ticket,
    payload=schemas.SlaOverrideIn,
    get=_ticket_get,
    act=_sla_override,
    url_name="ticket-sla-override",
    description="Extend one SLA target (first_response or resolution) to a later "
    "``new_due_at``, or waive it, with the mandatory reason, as the ticket page's override "
    "form does. Customers never see the reason.",
)


requests = Router(tags=["requests (customer portal)"])

list_route(
    requests.get,
    "/requests",
    caps.REQUESTS_VIEW,
    item=schemas.Ticket,
    query=schemas.RequestQuery,
    sorts=desk_selectors.TICKET_SORTS,
    select=_tickets,
    serialize=_ticket,
    url_name="requests",
)
detail_route(
    requests.get,
    "/requests/{ticket_id}",
    caps.REQUESTS_VIEW,
    item=schemas.Ticket,
    get=_ticket_get,
    serialize=_ticket,
    url_name="request",
)


@endpoint(
    requests.post,
    "/requests",
    caps.REQUESTS_CREATE,
    response={201: schemas.Ticket, **ERRORS_WRITE},
    url_name="request-create",
)
@idempotent
def request_create(request: HttpRequest, payload: schemas.RequestIn):
    viewer = caller(request)
    ticket = ticket_services.ticket_create(
        **_writer(request),
        subject=payload.subject,
        description=payload.description,
        priority=payload.priority,
        category=payload.category,
        company_id=viewer.company_id,
        requester=viewer,
    )
    return 201, _ticket(ticket)


@endpoint(
    requests.get,
    "/requests/{ticket_id}/messages",
    caps.REQUESTS_VIEW,
    response={200: list[schemas.Message], **ERRORS},
    url_name="request-messages",
)
def request_messages(request: HttpRequest, ticket_id: int = ID):
    """The conversation as the customer sees it: replies only, never an internal note."""
    return _messages(request, ticket_id)


@endpoint(
    requests.post,
    "/requests/{ticket_id}/messages",
    caps.REQUESTS_REPLY,
    response={201: schemas.Message, **ERRORS_WRITE},
    url_name="request-reply",
)
@idempotent
def request_reply(request: HttpRequest, payload: schemas.RequestReplyIn, ticket_id: int = ID):
    ticket = desk_selectors.ticket_get(viewer=caller(request), pk=ticket_id)
    message = ticket_services.request_reply(**_writer(request), ticket=ticket, body=payload.body)
    return 201, message


_REQUEST_ACTIONS: tuple[tuple[str, Any, str], ...] = (
    ("solved", ticket_services.request_confirm_solved, "Confirm a resolved request solved."),
    ("reopen", ticket_services.request_reopen, "Reopen a resolved request, within the window."),
)
for _verb, _action, _text in _REQUEST_ACTIONS:
    object_route(
        requests.post,
        f"/requests/{{ticket_id}}/{_verb}",
        caps.REQUESTS_REPLY,
        item=schemas.Ticket,
        get=_ticket_get,
        act=lambda request, ticket, action=_action: _ticket(
            action(**_writer(request), ticket=ticket)
        ),
        url_name=f"request-{_verb}",
        description=_text,
    )


# --- Assets (staff) and the company's own assets (the customer portal)

assets = Router(tags=["assets"])


def _assets(viewer: Membership, f: schemas.AssetQuery):
    company = "" if f.company_id is None else str(f.company_id)
    return desk_selectors.asset_list(
        viewer=viewer, q=f.q, sort=f.sort, status=f.status, company=company
    )


_ASSET_ROUTES: tuple[tuple[str, caps.Capability, str], ...] = (
    ("/assets", caps.ASSETS_VIEW, "asset"),
    ("/company-assets", caps.COMPANY_ASSETS_VIEW, "company-asset"),
)
for _path, _capability, _name in _ASSET_ROUTES:
    list_route(
        assets.get,
        _path,
        _capability,
        item=schemas.Asset,
        query=schemas.AssetQuery,
        sorts=desk_selectors.ASSET_SORTS,
        select=_assets,
        serialize=_same,
        url_name=f"{_name}s",
    )
    detail_route(
        assets.get,
        f"{_path}/{{asset_id}}",
        _capability,
        item=schemas.Asset,
        get=lambda viewer, pk: desk_selectors.asset_get(viewer=viewer, pk=pk),
        serialize=_same,
        url_name=_name,
    )


@endpoint(
    assets.post,
    "/assets",
    caps.ASSETS_EDIT,
    response={201: schemas.Asset, **ERRORS_WRITE},
    url_name="asset-create",
)
@idempotent
def asset_create(request: HttpRequest, payload: schemas.AssetIn):
    # The company must be one the caller sees: the same 404 as a missing one.
    data = payload.dict()
    company = shop_selectors.company_get(viewer=caller(request), pk=data.pop("company_id"))
    return 201, asset_services.asset_create(**_writer(request), company_id=company.pk, **data)


def _asset_get(viewer: Membership, pk: int) -> Any:
    return desk_selectors.asset_get(viewer=viewer, pk=pk)


object_route(
    assets.patch,
    "/assets/{asset_id}",
    caps.ASSETS_EDIT,
    item=schemas.Asset,
    payload=schemas.AssetPatch,
    get=_asset_get,
    act=lambda request, asset, payload: asset_services.asset_update(
        **_writer(request), asset=asset, **_given(payload, asset)
    ),
    url_name="asset-update",
)
object_route(
    assets.delete,
    "/assets/{asset_id}",
    caps.ASSETS_DELETE,
    get=_asset_get,
    act=lambda request, asset: asset_services.asset_delete(**_writer(request), asset=asset),
    url_name="asset-delete",
)


# --- Members (read)

members = Router(tags=["members"])


def _member(membership: Membership) -> dict:
    return {
        "id": membership.pk,
        "email": membership.user.email,
        "full_name": membership.user.full_name,
        "role": membership.role,
        "company_id": membership.company_id,
        "created_at": membership.created_at,
    }


def _members(viewer: Membership, f: schemas.MemberQuery):
    rows = rbac_selectors.membership_list(viewer=viewer)
    if f.role:
        rows = rows.filter(role=f.role)
    return ordered(rows, f.sort, schemas.MEMBER_SORTS, ["user__email", "pk"])


list_route(
    members.get,
    "/members",
    caps.MEMBERS_VIEW,
    item=schemas.Member,
    query=schemas.MemberQuery,
    select=_members,
    serialize=_member,
    url_name="members",
)
detail_route(
    members.get,
    "/members/{member_id}",
    caps.MEMBERS_VIEW,
    item=schemas.Member,
    get=lambda viewer, pk: rbac_selectors.membership_get(viewer=viewer, pk=pk),
    serialize=_member,
    url_name="member",
)


# --- Audit events (read)

audit = Router(tags=["audit events"])


def _event(event: AuditEvent) -> dict:
    try:
        name = EVENT_INFO[Event(event.event_type)].name
    except (ValueError, KeyError):
        name = ""
    return {
        "id": event.pk,
        "sequence": event.sequence,
        "event_type": event.event_type,
        "event_name": name,
        "outcome": event.outcome,
        "timestamp": event.timestamp,
        "actor_kind": event.actor_kind,
        "actor_name": event.actor_name,
        "actor_email": event.actor_email,
        "on_behalf_of_email": event.on_behalf_of_email,
        "remote_addr": event.remote_addr,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "data": event.additional_data,
    }


def _events(viewer: Membership, f: schemas.AuditQuery):
    filters = audit_selectors.AuditFilters(
        actor=f.actor,
        event_type=f.event_type,
        target=f.target,
        date_from=f.date_from,
        date_to=f.date_to,
    )
    return audit_selectors.audit_events_filtered(viewer=viewer, filters=filters)


list_route(
    audit.get,
    "/audit-events",
    caps.AUDIT_READ,
    item=schemas.AuditEvent,
    query=schemas.AuditQuery,
    select=_events,
    serialize=_event,
    url_name="audit-events",
)
detail_route(
    audit.get,
    "/audit-events/{event_id}",
    caps.AUDIT_READ,
    item=schemas.AuditEvent,
    get=lambda viewer, pk: audit_selectors.audit_event_get(viewer=viewer, event_id=pk),
    serialize=_event,
    url_name="audit-event",
)


# --- Export jobs: start, status, download link

exports = Router(tags=["exports"])
ARCHIVE_GONE = "This download link cannot be used: {reason}"


def _export(job: ExportJob) -> dict:
    progress = export_selectors.export_job_progress(job)
    return {
        "id": job.pk,
        "status": job.status,
        "progress_done": progress.done,
        "progress_total": progress.total,
        "record_count": job.record_count,
        "file_count": job.file_count,
        "archive_size": job.archive_size,
        "error_message": job.error_message,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "expires_at": job.expires_at,
    }


list_route(
    exports.get,
    "/exports",
    caps.EXPORTS_RUN,
    item=schemas.ExportJob,
    query=schemas.ListQuery,
    select=lambda viewer, f: export_selectors.export_jobs_visible(viewer=viewer),
    serialize=_export,
    url_name="exports",
)
detail_route(
    exports.get,
    "/exports/{export_id}",
    caps.EXPORTS_RUN,
    item=schemas.ExportJob,
    get=lambda viewer, pk: export_selectors.export_job_get(viewer=viewer, pk=pk),
    serialize=_export,
    url_name="export",
)


@endpoint(
    exports.post,
    "/exports",
    caps.EXPORTS_RUN,
    response={201: schemas.ExportJob, **ERRORS_WRITE},
    url_name="export-start",
)
@idempotent
def export_start(request: HttpRequest):
    """Start an export of the whole workspace (one at a time); poll it for its status."""
    return 201, _export(export_services.export_start(**_writer(request)))


@endpoint(
    exports.post,
    "/exports/{export_id}/link",
    caps.EXPORTS_RUN,
    response={200: schemas.Link, **ERRORS_WRITE},
    url_name="export-link",
)
def export_link(request: HttpRequest, export_id: int = ID):
    """A fresh single-use link to a ready archive (it replaces any earlier one), as the
    Download button makes: follow it with the same token before it expires."""
    job = export_selectors.export_job_get(viewer=caller(request), pk=export_id)
    token = export_services.export_link_issue(**_writer(request), job=job)
    job.refresh_from_db(fields=["download_expires_at"])
    path = reverse("api:export-download", kwargs={"export_id": job.pk})
    return {
        "url": request.build_absolute_uri(f"{path}?link={token}"),
        "expires_at": job.download_expires_at,
    }


@endpoint(
    exports.get,
    "/exports/{export_id}/download",
    caps.EXPORTS_RUN,
    response={200: None, **ERRORS, 410: schemas.Problem},
    url_name="export-download",
    openapi_extra={
        "responses": {
            200: {
                "description": "The archive",
                "content": {"application/zip": {"schema": {"type": "string"}}},
            }
        }
    },
)
def export_download(
    request: HttpRequest, query: Query[schemas.DownloadQuery], export_id: int = ID
) -> HttpResponseBase:
    """The archive, for a link ``/exports/{id}/link`` gave (used once, audited)."""
    job = export_selectors.export_job_get(viewer=caller(request), pk=export_id)
    try:
        job = export_services.export_download_redeem(**_writer(request), job=job, token=query.link)
    except export_services.LinkRefused as refusal:
        return problem(410, "Gone", ARCHIVE_GONE.format(reason=refusal))
    filename = f"{_tenant(request).slug}-{job.archive_filename}"
    return storage.download_response(_Archive(job.archive_key, filename))


class _Archive:
    """What ``kernel.storage.download_response`` needs to hand out an export archive."""

    content_type = "application/zip"

    def __init__(self, storage_key: str, download_filename: str):
        self.storage_key = storage_key
        self.download_filename = download_filename


for router in (companies, sales, files, tickets, requests, assets, members, audit, exports):
    api.add_router("", router)


def operations() -> list[tuple[str, str, Operation]]:
    """Every operation of the API as (method, path, operation): what the sweeps walk."""
    return routes.operations(api)
