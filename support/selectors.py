"""Support reads.

Invariant: the console sees billing-level aggregates only (counts, sizes, dates, the owner's
billing contact). Nothing here returns a business record, a file name or a member's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.db.models.functions import Least
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import UserSession
from kernel.roles import Role
from rbac.models import Membership
from shop.models import Company, Contact, Invoice, Order, Quote, StoredFile
from tenants.models import Tenant
from tenants.schedule import LifecycleDates, lifecycle_dates

from .models import ImpersonationSession, SupportAccessGrant
from .services import (
    SESSION_ABSOLUTE,
    grant_live,
    support_access_disabled,
)


@dataclass(frozen=True)
class WorkspaceSummary:
    tenant: Tenant
    plan: str
    billing_status: str
    state: str
    # When a workspace on its way out is archived and deleted (both None while active).
    lifecycle_dates: LifecycleDates
    # Support may bring it back to active from the console (workspace.lifecycle).
    restorable: bool
    member_count: int
    owner_billing_contact: str
    # None while the workspace is being deleted: its schema is not read (it may be gone, or
    # locked by the purge task).
    record_counts: dict | None
    storage_bytes: int | None
    last_active_at: datetime | None
    support_disabled: bool
    live_grant: SupportAccessGrant | None


# The states the restore (workspace.lifecycle.workspace_restore) accepts; it refuses the
# others itself.
RESTORABLE_STATES = frozenset({Tenant.State.CANCELLED, Tenant.State.ARCHIVED})


def console_workspaces() -> list[Tenant]:
    return list(Tenant.objects.exclude(schema_name="public").order_by("name"))


def console_workspace_get(slug: str) -> Tenant:
    from django.http import Http404

    tenant = Tenant.objects.exclude(schema_name="public").filter(slug=slug).first()
    if tenant is None:
        raise Http404("no such workspace")
    return tenant


def workspace_summary(tenant: Tenant) -> WorkspaceSummary:
    counts: dict | None = None
    storage: int | None = None
    if tenant.state != Tenant.State.PURGING:
        with tenant_context(tenant):
            counts = {
                "companies": Company.objects.count(),
                "contacts": Contact.objects.count(),
                "quotes": Quote.objects.count(),
                "orders": Order.objects.count(),
                "invoices": Invoice.objects.count(),
                "files": StoredFile.objects.count(),
            }
            storage = StoredFile.objects.aggregate(total=Sum("size"))["total"] or 0
    owner = (
        Membership.objects.filter(tenant=tenant, role=Role.OWNER, is_active=True)
        .select_related("user")
        .order_by("created_at")
        .first()
    )
    last_active = UserSession.objects.filter(tenant=tenant).aggregate(last=Max("last_seen_at"))[
        "last"
    ]
    return WorkspaceSummary(
        tenant=tenant,
        plan=tenant.plan,
        billing_status=tenant.get_billing_status_display(),
        state=tenant.get_state_display(),
        lifecycle_dates=lifecycle_dates(tenant),
        restorable=tenant.state in RESTORABLE_STATES,
        member_count=Membership.objects.filter(tenant=tenant, is_active=True).count(),
        owner_billing_contact=owner.user.email if owner else "",
        record_counts=counts,
        storage_bytes=storage,
        last_active_at=last_active,
        support_disabled=support_access_disabled(tenant),
        live_grant=grant_live(tenant),
    )


def impersonation_targets(tenant: Tenant) -> list[tuple[int, str]]:
    """(membership id, label) of members an agent may act as: role and member number only,
    except the owner's billing contact."""
    rows = []
    for membership in (
        Membership.objects.filter(tenant=tenant, is_active=True, user__is_active=True)
        .exclude(user__is_support_agent=True)
        .select_related("user")
        .order_by("role", "pk")
    ):
        label = f"{membership.get_role_display()} · member #{membership.pk}"
        if membership.role == Role.OWNER:
            label += f" ({membership.user.email})"
        rows.append((membership.pk, label))
    return rows


def agent_live_session(agent) -> ImpersonationSession | None:
    from .services import impersonation_end_reason

    now = timezone.now()
    for session in ImpersonationSession.objects.filter(
        agent=agent, ended_at__isnull=True, started_at__gt=now - SESSION_ABSOLUTE
    ).select_related("tenant", "grant", "acting_as"):
        if impersonation_end_reason(session, now) is None:
            return session
    return None


def workspace_support_until_query(tenant: Tenant, now: datetime) -> QuerySet:
    """The banner's one query: at most one row whose ``until`` is when the latest live support
    session in ``tenant`` ends at the latest (its absolute limit or its grant's end). The gate
    runs it inside its one lookup of a signed-in request (``workspace.gate_lookup``)."""
    return (
        ImpersonationSession.objects.filter(
            SupportAccessGrant.live_q(now, through="grant__"),
            tenant=tenant,
            ended_at__isnull=True,
            started_at__gt=now - SESSION_ABSOLUTE,
        )
        .order_by()
        .values("tenant")
        .annotate(until=Max(Least(F("started_at") + SESSION_ABSOLUTE, F("grant__ends_at"))))
        .values("until")
    )


# The query's shape never changes: compiled once per process with these stand-ins, which
# workspace_support_until_sql swaps for the real values (a test holds the two to each other).
_STAND_IN_NOW = datetime(2000, 1, 1, tzinfo=UTC)
_STAND_IN_TENANT = -1


@lru_cache(maxsize=1)
def _support_until_compiled() -> tuple[str, tuple]:
    query = workspace_support_until_query(Tenant(pk=_STAND_IN_TENANT), _STAND_IN_NOW).query
    sql, params = query.sql_with_params()
    return sql, tuple(params)


def workspace_support_until_sql(tenant: Tenant, now: datetime) -> tuple[str, list]:
    """``workspace_support_until_query(tenant, now)`` as SQL and parameters, without building
    and compiling the query again (the gate embeds it in its lookup on every request)."""
    sql, params = _support_until_compiled()
    values = {
        _STAND_IN_NOW: now,
        _STAND_IN_NOW - SESSION_ABSOLUTE: now - SESSION_ABSOLUTE,
        _STAND_IN_TENANT: tenant.pk,
    }
    return sql, [values.get(param, param) for param in params]


def workspace_support_active_until(tenant: Tenant) -> datetime | None:
    """When the latest live support session in ``tenant`` ends at the latest, or None
    (``support.services.impersonation_ends_at`` of each live session, computed in the
    query)."""
    rows = list(workspace_support_until_query(tenant, timezone.now()))
    return rows[0]["until"] if rows else None


def workspace_grants(tenant: Tenant):
    return SupportAccessGrant.objects.filter(tenant=tenant).select_related(
        "granted_by", "revoked_by"
    )[:50]


@dataclass(frozen=True)
class SupportActivity:
    """Support access to one workspace since a moment: what the owner's grants allowed and what
    agents did under them (the "Verify it yourself" page; the Support access page lists them)."""

    grants: int
    grants_live: int
    sessions: int
    write_sessions: int
    agents: int
    last_session_started_at: datetime | None
    access_disabled: bool


def workspace_support_activity(tenant: Tenant, *, since: datetime) -> SupportActivity:
    """Grants that overlapped ``since``..now and impersonation sessions started since then: two
    aggregate queries whatever their number."""
    now = timezone.now()
    grants = SupportAccessGrant.objects.filter(tenant=tenant, ends_at__gte=since).aggregate(
        total=Count("pk"), live=Count("pk", filter=SupportAccessGrant.live_q(now))
    )
    sessions = ImpersonationSession.objects.filter(tenant=tenant, started_at__gte=since).aggregate(
        total=Count("pk"),
        write=Count("pk", filter=Q(write=True)),
        agents=Count("agent", distinct=True),
        last=Max("started_at"),
    )
    return SupportActivity(
        grants=grants["total"],
        grants_live=grants["live"],
        sessions=sessions["total"],
        write_sessions=sessions["write"],
        agents=sessions["agents"],
        last_session_started_at=sessions["last"],
        access_disabled=support_access_disabled(tenant),
    )
