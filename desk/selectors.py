"""Every read of the desk's data that depends on who is looking.

Invariant: each function takes the ``viewer`` (the rbac Membership of the active workspace)
and returns what that viewer may see:

- customer roles (``requests:view`` / ``company_assets:view``) see only their own company's
  tickets and assets, only public replies (never an internal note) and only attachments
  that are not internal; never an SLA override's reason nor the ticket's history;
- staff roles holding ``tickets:view`` / ``assets:view`` see the whole workspace;
- anyone else, and a viewer that is missing, inactive or of another workspace, sees nothing.

``*_get`` lookups raise the same ``Http404`` for a missing object and a forbidden one. Search
terms, filters and sort keys from the request are matched against whitelists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.db.models import Count, Model, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from audit.models import AuditEvent
from kernel.capabilities import (
    ASSETS_VIEW,
    COMPANY_ASSETS_VIEW,
    REQUESTS_VIEW,
    TICKETS_VIEW,
    Capability,
    capabilities_for,
)
from kernel.listing import clean_search, clean_sort
from rbac.companies import company_names
from rbac.models import Membership

from . import sla
from .models import Asset, Priority, SlaOverride, SlaPolicy, Ticket, TicketAttachment, TicketMessage

MAX_SEARCH_TERMS = 5
NOT_FOUND = "No such record."
RecordT = TypeVar("RecordT", bound=Model)
_NO_COMPANY = 0


def _sees_anything(viewer: Membership | None) -> TypeGuard[Membership]:
    if viewer is None or not viewer.is_active:
        return False
    return viewer.tenant.schema_name == connection.schema_name  # type: ignore[attr-defined]


def _holds(viewer: Membership, capability: Capability) -> bool:
    return capability in capabilities_for(viewer)


def is_portal_viewer(viewer: Membership | None) -> bool:
    return viewer is not None and viewer.is_customer


def _own_company_id(viewer: Membership) -> int:
    return _NO_COMPANY if viewer.company_id is None else viewer.company_id


def _get(queryset: QuerySet[RecordT], pk: object) -> RecordT:
    try:
        return queryset.get(pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404(NOT_FOUND) from None


def _search(queryset: QuerySet, q: str | None, fields: Sequence[str]) -> QuerySet:
    for term in clean_search(q).split()[:MAX_SEARCH_TERMS]:
        condition = Q()
        for field in fields:
            condition |= Q(**{f"{field}__icontains": term})
        queryset = queryset.filter(condition)
    return queryset


def _sort(queryset: QuerySet, sort: str | None, options: dict[str, Sequence[str]], default):
    sort = clean_sort(sort, options)
    if not sort:
        return queryset.order_by(*default, "-pk")
    descending = sort.startswith("-")
    fields = options[sort.removeprefix("-")]
    ordering = [f"-{f}" if descending else f for f in fields]
    return queryset.order_by(*ordering, "-pk" if descending else "pk")


# --- Tickets -------------------------------------------------------------------------------

TICKET_SORTS: dict[str, Sequence[str]] = {
    "number": ["number"],
    "subject": ["subject"],
    "status": ["status"],
    "priority": ["priority"],
    "created": ["created_at"],
    "updated": ["updated_at"],
    "due": ["sla_due_at"],
}
SLA_FILTERS = (
    (sla.ON_TRACK, "On track"),
    (sla.AT_RISK, "At risk"),
    (sla.BREACHED, "Breached"),
    (sla.PAUSED, "Paused"),
)
VIEW_MINE = "mine"
VIEW_BREACHING = "breaching"
VIEW_UNASSIGNED = "unassigned"
SAVED_VIEWS = (
    (VIEW_MINE, "Mine"),
    (VIEW_BREACHING, "Breaching or at risk"),
    (VIEW_UNASSIGNED, "Unassigned and open"),
)
OPEN_STATUSES = (Ticket.Status.NEW, Ticket.Status.OPEN, Ticket.Status.PENDING_CUSTOMER)


def tickets_visible(viewer: Membership | None) -> QuerySet[Ticket]:
    """Every ticket ``viewer`` may see, unfiltered."""
    tickets = Ticket.objects.all()
    if not _sees_anything(viewer):
        return tickets.none()
    if viewer.is_customer:
        if not _holds(viewer, REQUESTS_VIEW):
            return tickets.none()
        return tickets.filter(company_id=_own_company_id(viewer))
    if not _holds(viewer, TICKETS_VIEW):
        return tickets.none()
    return tickets


def sla_state_q(state: str, now: datetime) -> Q | None:
    """The SLA state of a ticket's running clock as a condition on indexed columns."""
    if state == sla.BREACHED:
        return Q(sla_breached=True) | Q(sla_due_at__lt=now)
    if state == sla.AT_RISK:
        return Q(sla_breached=False, sla_risk_at__lte=now, sla_due_at__gte=now)
    if state == sla.ON_TRACK:
        return Q(sla_breached=False, sla_risk_at__gt=now)
    if state == sla.PAUSED:
        return Q(sla_breached=False, sla_paused_at__isnull=False)
    return None


@dataclass(frozen=True)
class TicketFilters:
    status: str = ""
    priority: str = ""
    assignee: str = ""
    company: str = ""
    sla_state: str = ""
    tag: str = ""
    view: str = ""

    @classmethod
    def from_query(cls, query: Any) -> TicketFilters:
        return cls(**{name: str(query.get(name, ""))[:100] for name in cls.__dataclass_fields__})


def ticket_list(
    *,
    viewer: Membership | None,
    q: str = "",
    sort: str = "",
    filters: TicketFilters | None = None,
    now: datetime | None = None,
) -> QuerySet[Ticket]:
    tickets = tickets_visible(viewer)
    filters = filters or TicketFilters()
    now = now or timezone.now()
    if filters.status in Ticket.Status.values:
        tickets = tickets.filter(status=filters.status)
    elif filters.status == "active":
        tickets = tickets.filter(status__in=OPEN_STATUSES)
    if filters.priority in Priority.values:
        tickets = tickets.filter(priority=filters.priority)
    if viewer is not None and not viewer.is_customer:
        if filters.assignee == "none":
            tickets = tickets.filter(assignee__isnull=True)
        elif filters.assignee.isdigit():
            tickets = tickets.filter(assignee_id=int(filters.assignee))
        if filters.company.isdigit():
            tickets = tickets.filter(company_id=int(filters.company))
        condition = sla_state_q(filters.sla_state, now)
        if condition is not None:
            tickets = tickets.filter(condition)
        if filters.tag:
            tickets = tickets.filter(tags__contains=[filters.tag.strip().lower()])
        if filters.view == VIEW_MINE:
            tickets = tickets.filter(assignee_id=viewer.user_id, status__in=OPEN_STATUSES)
        elif filters.view == VIEW_BREACHING:
            tickets = tickets.filter(status__in=OPEN_STATUSES).filter(
                Q(sla_breached=True) | Q(sla_risk_at__lte=now)
            )
        elif filters.view == VIEW_UNASSIGNED:
            tickets = tickets.filter(assignee__isnull=True, status__in=OPEN_STATUSES)
    search = ["number", "subject", "requester_name"]
    if viewer is not None and not viewer.is_customer:
        search += ["requester_email", "description"]
    tickets = _search(tickets, q, search)
    return _sort(tickets, sort, TICKET_SORTS, ["-created_at"]).select_related("assignee")


def ticket_get(*, viewer: Membership | None, pk: object) -> Ticket:
    return _get(tickets_visible(viewer), pk)


def message_list(*, viewer: Membership | None, ticket: Ticket) -> QuerySet[TicketMessage]:
    """The conversation as ``viewer`` may read it: customers never get an internal note."""
    messages = TicketMessage.objects.filter(ticket__in=tickets_visible(viewer), ticket=ticket)
    if viewer is None or viewer.is_customer:
        messages = messages.filter(kind=TicketMessage.Kind.REPLY)
    return messages.prefetch_related("attachments")


def attachments_visible(viewer: Membership | None) -> QuerySet[TicketAttachment]:
    attachments = TicketAttachment.objects.filter(ticket__in=tickets_visible(viewer))
    if viewer is None or viewer.is_customer:
        attachments = attachments.filter(internal=False)
    return attachments


def attachment_get(*, viewer: Membership | None, pk: object) -> TicketAttachment:
    return _get(attachments_visible(viewer), pk)


def override_list(*, viewer: Membership | None, ticket: Ticket) -> QuerySet[SlaOverride]:
    """Overrides with their reasons: staff only."""
    if viewer is None or viewer.is_customer:
        return SlaOverride.objects.none()
    return SlaOverride.objects.filter(ticket__in=tickets_visible(viewer), ticket=ticket)


def ticket_history(*, viewer: Membership | None, ticket: Ticket) -> QuerySet[AuditEvent]:
    """Every audit event about the ticket (staff only): who did what, when."""
    if viewer is None or viewer.is_customer or not tickets_visible(viewer).filter(pk=ticket.pk):
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(target_type="desk.ticket", target_id=str(ticket.pk)).order_by(
        "sequence"
    )


def company_choices(viewer: Membership | None) -> list[tuple[int, str]]:
    """The customer companies a staff viewer may open tickets or assets for."""
    from rbac.companies import company_choices as choices

    if not _sees_anything(viewer) or viewer.is_customer:
        return []
    return choices(viewer=viewer)


def company_name_map(ids) -> dict[int, str]:
    return company_names(ids)


# --- SLA -----------------------------------------------------------------------------------


def sla_policy() -> SlaPolicy:
    """The workspace's policy (the defaults, unsaved, when none was saved yet)."""
    return SlaPolicy.objects.order_by("pk").first() or SlaPolicy()


def calendar_of(policy: SlaPolicy) -> sla.Calendar:
    from datetime import date

    return sla.Calendar(
        time_zone=policy.time_zone,
        business_days=frozenset(int(day) for day in policy.business_days),
        day_start=policy.day_start,
        day_end=policy.day_end,
        holidays=frozenset(date.fromisoformat(day) for day in policy.holidays),
    )


@dataclass(frozen=True)
class TicketSla:
    first_response: str
    resolution: str

    @property
    def overall(self) -> str:
        return sla.overall_state(self.first_response, self.resolution)

    @property
    def label(self) -> str:
        return sla.STATE_LABELS[self.overall]


def ticket_sla(ticket: Ticket, *, now: datetime | None = None) -> TicketSla:
    """Both targets' states (desk.sla.state) from the stored clocks."""
    now = now or timezone.now()
    stopped = ticket.resolved_at or ticket.closed_at
    return TicketSla(
        first_response=sla.state(
            now=now,
            due_at=ticket.first_response_due_at,
            risk_at=ticket.first_response_risk_at,
            met_at=ticket.first_responded_at,
            paused_at=ticket.sla_paused_at,
        ),
        resolution=sla.state(
            now=now,
            due_at=ticket.resolution_due_at,
            risk_at=ticket.resolution_risk_at,
            met_at=stopped,
            paused_at=ticket.sla_paused_at,
        ),
    )


# --- Assets --------------------------------------------------------------------------------

ASSET_SORTS: dict[str, Sequence[str]] = {
    "name": ["name"],
    "type": ["asset_type"],
    "serial": ["serial"],
    "status": ["status"],
    "location": ["location"],
}


def assets_visible(viewer: Membership | None) -> QuerySet[Asset]:
    assets = Asset.objects.all()
    if not _sees_anything(viewer):
        return assets.none()
    if viewer.is_customer:
        if not _holds(viewer, COMPANY_ASSETS_VIEW):
            return assets.none()
        return assets.filter(company_id=_own_company_id(viewer))
    if not _holds(viewer, ASSETS_VIEW):
        return assets.none()
    return assets


def asset_list(
    *,
    viewer: Membership | None,
    q: str = "",
    sort: str = "",
    status: str = "",
    company: str = "",
) -> QuerySet[Asset]:
    assets = assets_visible(viewer)
    if status in Asset.Status.values:
        assets = assets.filter(status=status)
    if company.isdigit() and viewer is not None and not viewer.is_customer:
        assets = assets.filter(company_id=int(company))
    assets = _search(assets, q, ["name", "asset_type", "serial", "location"])
    return _sort(assets, sort, ASSET_SORTS, ["name"])


def asset_get(*, viewer: Membership | None, pk: object) -> Asset:
    return _get(assets_visible(viewer), pk)


# --- Dashboard -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    by_status: list[tuple[str, int]]
    by_priority: list[tuple[str, int]]
    sla_states: list[tuple[str, int]]
    by_assignee: list[tuple[str, int]]
    first_response_hours: list[tuple[str, float]]
    resolution_hours: list[tuple[str, float]]


def dashboard(*, viewer: Membership | None, now: datetime | None = None) -> Dashboard:
    """Counts for the staff dashboard (one grouped query each)."""
    from datetime import timedelta

    from django.db.models import Avg, DurationField, ExpressionWrapper, F
    from django.db.models.functions import TruncDate

    now = now or timezone.now()
    tickets = tickets_visible(viewer)
    open_tickets = tickets.filter(status__in=OPEN_STATUSES)
    since = now - timedelta(days=30)
    # Open tickets, and the last 30 days' resolved and closed ones: a desk's whole history
    # would make this chart read every ticket (bench/bench_desk.py), and says less.
    status_counts = dict(open_tickets.values_list("status").annotate(n=Count("pk")))
    status_counts[Ticket.Status.RESOLVED] = tickets.filter(resolved_at__gte=since).count()
    status_counts[Ticket.Status.CLOSED] = tickets.filter(closed_at__gte=since).count()
    priority_counts = dict(open_tickets.values_list("priority").annotate(n=Count("pk")))
    states = []
    for state, label in SLA_FILTERS:
        condition = sla_state_q(state, now)
        assert condition is not None  # noqa: S101 - every listed filter has a condition
        states.append((label, open_tickets.filter(condition).count()))
    load = (
        open_tickets.filter(assignee__isnull=False)
        .values_list("assignee__full_name", "assignee__email")
        .annotate(n=Count("pk"))
        .order_by("-n")[:10]
    )

    def daily_hours(met_field: str) -> list[tuple[str, float]]:
        rows = (
            tickets.filter(**{f"{met_field}__gte": since})
            .annotate(day=TruncDate(met_field))
            .values("day")
            .annotate(
                took=Avg(
                    ExpressionWrapper(F(met_field) - F("created_at"), output_field=DurationField())
                )
            )
            .order_by("day")
        )
        return [(row["day"].isoformat(), row["took"].total_seconds() / 3600) for row in rows]

    return Dashboard(
        by_status=[(label, status_counts.get(value, 0)) for value, label in Ticket.Status.choices],
        by_priority=[(label, priority_counts.get(value, 0)) for value, label in Priority.choices],
        sla_states=states,
        by_assignee=[(name or email, n) for name, email, n in load],
        first_response_hours=daily_hours("first_responded_at"),
        resolution_hours=daily_hours("resolved_at"),
    )


# --- The portal export (a customer's own company's data) -----------------------------------


def portal_export_tickets(viewer: Membership | None) -> QuerySet[Ticket]:
    """The tickets a customer's export holds, with exactly what the portal shows of each:
    public replies only (never an internal note), attachments that are not internal, and the
    linked assets of their own company. Nothing for anyone but a portal viewer."""
    from django.db.models import Prefetch

    if not is_portal_viewer(viewer):
        return Ticket.objects.none()
    return (
        tickets_visible(viewer)
        .order_by("created_at", "pk")
        .select_related("merged_into")
        .prefetch_related(
            Prefetch(
                "messages",
                queryset=TicketMessage.objects.filter(kind=TicketMessage.Kind.REPLY).order_by(
                    "created_at", "pk"
                ),
            ),
            Prefetch(
                "attachments",
                queryset=TicketAttachment.objects.filter(internal=False).order_by(
                    "created_at", "pk"
                ),
            ),
            Prefetch("assets", queryset=assets_visible(viewer).order_by("pk")),
        )
    )


def portal_export_audit_events(viewer: Membership | None) -> QuerySet[AuditEvent]:
    """The viewer's own events in this workspace's stream (what they did, as audited)."""
    if not is_portal_viewer(viewer) or not _sees_anything(viewer):
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(actor_id=viewer.user_id).order_by("sequence")
