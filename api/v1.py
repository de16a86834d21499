"""Version 1 of the API: the NinjaAPI object, its operations, and nothing else.

Every operation is declared with ``@gate.endpoint(<capability>)`` (the suite enumerates the
routers and fails on one that is not), reads through the selectors narrowed to the caller's
membership and writes through the services the pages call. No ``from __future__ import
annotations`` here: ninja reads these annotations through the gate's wrapper.
"""

from django.http import HttpRequest
from django.utils import timezone
from ninja import NinjaAPI, Path, Query, Router
from ninja.operation import Operation

from desk import selectors as desk_selectors
from desk.models import Ticket
from desk.services import tickets as ticket_services
from kernel import capabilities as caps
from rbac import selectors as rbac_selectors
from rbac.models import Membership
from shop import selectors as shop_selectors
from shop.models import Company
from shop.services import companies as company_services

from . import schemas
from .gate import BearerToken, endpoint, install_error_handlers
from .idempotency import idempotent
from .pagination import DEFAULT_LIMIT, MAX_LIMIT, page

# Ids are positive bigints: anything else is a 422 before any lookup.
ID = Path(..., ge=1, le=2**63 - 1)

ERRORS = {
    400: schemas.Problem,
    401: schemas.Problem,
    403: schemas.Problem,
    404: schemas.Problem,
    422: schemas.Problem,
    429: schemas.Problem,
}
ERRORS_WRITE = {**ERRORS, 409: schemas.Problem}

api = NinjaAPI(
    title="Shopsafe API",
    version="1",
    description=(
        "The workspace's data, for scripts and integrations. Authenticate with a personal "
        "API token: `Authorization: Bearer shs_...`. Errors are RFC 9457 problem documents."
    ),
    auth=BearerToken(),
    urls_namespace="api",
    docs_url=None,  # our own docs page (api.views.docs): Swagger UI needs inline script
    openapi_url="/openapi.json",
)
install_error_handlers(api)


def _caller(request: HttpRequest) -> Membership:
    return request.auth.membership  # type: ignore[attr-defined]


# --- Companies

companies = Router(tags=["companies"])


def _company(company: Company) -> dict:
    return {
        "id": company.pk,
        "name": company.name,
        "email": company.email,
        "phone": company.phone,
        "billing_address": company.billing_address,
        "site_address": company.site_address,
        "notes": company.notes,
        "created_at": company.created_at,
    }


@endpoint(
    companies.get,
    "/companies",
    caps.COMPANIES_VIEW,
    response={200: schemas.CompanyPage, **ERRORS},
    url_name="companies",
)
def company_list(
    request: HttpRequest,
    q: str = Query("", max_length=200, description="Words to find in names, emails, contacts"),
    sort: str = Query("", max_length=20, description="name, email, phone, created; - for desc"),
    cursor: str | None = Query(None, max_length=2000),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
):
    rows = shop_selectors.company_list(viewer=_caller(request), q=q, sort=sort)
    return page(rows, cursor=cursor, limit=limit, context={"q": q, "s": sort}, serialize=_company)


@endpoint(
    companies.get,
    "/companies/{company_id}",
    caps.COMPANIES_VIEW,
    response={200: schemas.Company, **ERRORS},
    url_name="company",
)
def company_detail(request: HttpRequest, company_id: int = ID):
    return _company(shop_selectors.company_get(viewer=_caller(request), pk=company_id))


@endpoint(
    companies.post,
    "/companies",
    caps.COMPANIES_CREATE,
    response={201: schemas.Company, **ERRORS_WRITE},
    url_name="company-create",
)
@idempotent
def company_create(request: HttpRequest, payload: schemas.CompanyIn):
    company = company_services.company_create(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=_caller(request),
        **payload.dict(),
    )
    return 201, _company(company)


@endpoint(
    companies.put,
    "/companies/{company_id}",
    caps.COMPANIES_EDIT,
    response={200: schemas.Company, **ERRORS},
    url_name="company-update",
)
def company_update(request: HttpRequest, payload: schemas.CompanyIn, company_id: int = ID):
    viewer = _caller(request)
    company = shop_selectors.company_get(viewer=viewer, pk=company_id)
    updated = company_services.company_update(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=viewer,
        company=company,
        **payload.dict(),
    )
    return _company(updated)


# --- Tickets (staff) and requests (the customer portal)

tickets = Router(tags=["tickets"])


def _ticket(ticket: Ticket, now=None) -> dict:
    state = desk_selectors.ticket_sla(ticket, now=now)
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


def _ticket_page(request, *, q, sort, status, priority, company_id, sla_state, cursor, limit):
    filters = desk_selectors.TicketFilters(
        status=status,
        priority=priority,
        company="" if company_id is None else str(company_id),
        sla_state=sla_state,
    )
    now = timezone.now()
    rows = desk_selectors.ticket_list(
        viewer=_caller(request), q=q, sort=sort, filters=filters, now=now
    )
    context = {
        "q": q,
        "s": sort,
        "st": status,
        "p": priority,
        "c": company_id,
        "sla": sla_state,
    }
    return page(
        rows,
        cursor=cursor,
        limit=limit,
        context=context,
        serialize=lambda ticket: _ticket(ticket, now),
    )


_STATUS = Query("", max_length=20, description="new, open, pending_customer, resolved, closed")
_PRIORITY = Query("", max_length=10, description="low, normal, high, urgent")
_SORT = Query("", max_length=20, description="number, subject, status, priority, created...")
_SLA = Query("", max_length=20, description="on_track, at_risk, breached, paused")


@endpoint(
    tickets.get,
    "/tickets",
    caps.TICKETS_VIEW,
    response={200: schemas.TicketPage, **ERRORS},
    url_name="tickets",
)
def ticket_list(
    request: HttpRequest,
    q: str = Query("", max_length=200),
    sort: str = _SORT,
    status: str = _STATUS,
    priority: str = _PRIORITY,
    company_id: int | None = Query(None, ge=1),
    sla_state: str = _SLA,
    cursor: str | None = Query(None, max_length=2000),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
):
    return _ticket_page(
        request,
        q=q,
        sort=sort,
        status=status,
        priority=priority,
        company_id=company_id,
        sla_state=sla_state,
        cursor=cursor,
        limit=limit,
    )


@endpoint(
    tickets.get,
    "/tickets/{ticket_id}",
    caps.TICKETS_VIEW,
    response={200: schemas.Ticket, **ERRORS},
    url_name="ticket",
)
def ticket_detail(request: HttpRequest, ticket_id: int = ID):
    return _ticket(desk_selectors.ticket_get(viewer=_caller(request), pk=ticket_id))


@endpoint(
    tickets.post,
    "/tickets",
    caps.TICKETS_CREATE,
    response={201: schemas.Ticket, **ERRORS_WRITE},
    url_name="ticket-create",
)
@idempotent
def ticket_create(request: HttpRequest, payload: schemas.TicketIn):
    viewer = _caller(request)
    # The company must be one the caller sees: the same 404 as a missing one.
    company = shop_selectors.company_get(viewer=viewer, pk=payload.company_id)
    ticket = ticket_services.ticket_create(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=viewer,
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
    viewer = _caller(request)
    ticket = desk_selectors.ticket_get(viewer=viewer, pk=ticket_id)
    return list(desk_selectors.message_list(viewer=viewer, ticket=ticket))


@endpoint(
    tickets.post,
    "/tickets/{ticket_id}/messages",
    caps.TICKETS_WORK,
    response={201: schemas.Message, **ERRORS_WRITE},
    url_name="ticket-reply",
)
@idempotent
def ticket_reply(request: HttpRequest, payload: schemas.MessageIn, ticket_id: int = ID):
    viewer = _caller(request)
    ticket = desk_selectors.ticket_get(viewer=viewer, pk=ticket_id)
    message = ticket_services.ticket_reply(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=viewer,
        ticket=ticket,
        body=payload.body,
        internal=payload.internal,
    )
    return 201, message


requests = Router(tags=["requests (customer portal)"])


@endpoint(
    requests.get,
    "/requests",
    caps.REQUESTS_VIEW,
    response={200: schemas.TicketPage, **ERRORS},
    url_name="requests",
)
def request_list(
    request: HttpRequest,
    q: str = Query("", max_length=200),
    sort: str = _SORT,
    status: str = _STATUS,
    cursor: str | None = Query(None, max_length=2000),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
):
    return _ticket_page(
        request,
        q=q,
        sort=sort,
        status=status,
        priority="",
        company_id=None,
        sla_state="",
        cursor=cursor,
        limit=limit,
    )


@endpoint(
    requests.get,
    "/requests/{ticket_id}",
    caps.REQUESTS_VIEW,
    response={200: schemas.Ticket, **ERRORS},
    url_name="request",
)
def request_detail(request: HttpRequest, ticket_id: int = ID):
    return _ticket(desk_selectors.ticket_get(viewer=_caller(request), pk=ticket_id))


@endpoint(
    requests.post,
    "/requests",
    caps.REQUESTS_CREATE,
    response={201: schemas.Ticket, **ERRORS_WRITE},
    url_name="request-create",
)
@idempotent
def request_create(request: HttpRequest, payload: schemas.RequestIn):
    viewer = _caller(request)
    ticket = ticket_services.ticket_create(
        tenant=request.tenant,  # type: ignore[attr-defined]
        actor=viewer,
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
    viewer = _caller(request)
    ticket = desk_selectors.ticket_get(viewer=viewer, pk=ticket_id)
    return list(desk_selectors.message_list(viewer=viewer, ticket=ticket))


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


@endpoint(
    members.get,
    "/members",
    caps.MEMBERS_VIEW,
    response={200: schemas.MemberPage, **ERRORS},
    url_name="members",
)
def member_list(
    request: HttpRequest,
    cursor: str | None = Query(None, max_length=2000),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
):
    rows = rbac_selectors.membership_list(viewer=_caller(request))
    return page(rows, cursor=cursor, limit=limit, context={}, serialize=_member)


@endpoint(
    members.get,
    "/members/{member_id}",
    caps.MEMBERS_VIEW,
    response={200: schemas.Member, **ERRORS},
    url_name="member",
)
def member_detail(request: HttpRequest, member_id: int = ID):
    return _member(rbac_selectors.membership_get(viewer=_caller(request), pk=member_id))


for router in (companies, tickets, requests, members):
    api.add_router("", router)


def operations() -> list[tuple[str, str, Operation]]:
    """Every operation of the API as (method, path, operation): what the sweeps walk."""
    found = []
    for _prefix, router in api._routers:  # ninja offers no public walk of its routers
        for route, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for method in operation.methods:
                    found.append((method, route, operation))
    return found
