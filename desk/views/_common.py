"""What every desk page module shares on top of ``kernel.views``."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import QuerySet

from kernel.views import PAGE_SIZE, WorkspaceRequest
from rbac.models import Membership
from tenants.models import Tenant

from .. import selectors


class DeskRequest(WorkspaceRequest):
    tenant: Tenant
    membership: Membership


def paginate(request: DeskRequest, records: QuerySet):
    return Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))


def with_sla(page, *, now=None) -> list:
    """Each ticket of the page with its SLA state and company name attached."""
    tickets = list(page)
    names = selectors.company_name_map({t.company_id for t in tickets})
    for ticket in tickets:
        ticket.sla = selectors.ticket_sla(ticket, now=now)
        ticket.company_name = names.get(ticket.company_id, "—")
    return tickets
