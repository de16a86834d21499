"""Reads for the status page, the feed and the workspace banner.

The status page and feed show every incident's public text (title, impact, components,
updates), never which workspaces it affected. The banner reads, in a workspace's context,
the open incidents that affect all workspaces or this one; row-level security on
``IncidentWorkspace`` means the query could not see another workspace's row anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone

from .health import DEGRADED, DOWN, OPERATIONAL, STATE_LABELS, STATE_ORDER, health_current
from .models import Component, Impact, Incident, IncidentUpdate, IncidentWorkspace

HISTORY_DAYS = 90
# An open incident's impact on the components it names.
IMPACT_STATE = {Impact.DEGRADED: DEGRADED, Impact.PARTIAL: DEGRADED, Impact.MAJOR: DOWN}


@dataclass(frozen=True)
class ComponentStatus:
    key: str
    name: str
    state: str
    note: str

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]


def _with_updates(incidents):
    return incidents.prefetch_related(
        Prefetch("updates", queryset=IncidentUpdate.objects.order_by("-posted_at", "-pk"))
    )


def open_incidents() -> list[Incident]:
    return list(_with_updates(Incident.objects.filter(resolved_at__isnull=True)))


def incident_history(now: datetime | None = None) -> list[Incident]:
    """Incidents resolved within the last ``HISTORY_DAYS`` days, newest first."""
    since = (now or timezone.now()) - timedelta(days=HISTORY_DAYS)
    return list(
        _with_updates(Incident.objects.filter(resolved_at__isnull=False, resolved_at__gte=since))
    )


def feed_incidents(limit: int = 50) -> list[Incident]:
    return list(_with_updates(Incident.objects.all())[:limit])


def component_statuses(incidents: list[Incident]) -> list[ComponentStatus]:
    """Each component's state: the worse of its health checks and its open incidents."""
    checked = health_current()
    statuses = []
    for component in Component:
        state, note = checked.get(component.value, (OPERATIONAL, ""))
        for incident in incidents:
            if incident.is_open and component.value in incident.components:
                impact_state = IMPACT_STATE[Impact(incident.impact)]
                if STATE_ORDER[impact_state] > STATE_ORDER[state]:
                    state, note = impact_state, incident.title
        statuses.append(ComponentStatus(component.value, component.label, state, note))
    return statuses


def overall_state(statuses: list[ComponentStatus]) -> str:
    return max((status.state for status in statuses), key=STATE_ORDER.__getitem__)


def _workspace_open_query(tenant_id: int):
    """Open incidents affecting the workspace: all workspaces, or this one."""
    named = IncidentWorkspace.objects.filter(incident=OuterRef("pk"), tenant_id=tenant_id)
    return Incident.objects.filter(resolved_at__isnull=True).filter(
        Q(affects_all=True) | Q(Exists(named))
    )


def workspace_open_incidents(tenant) -> list[Incident]:
    """Open incidents affecting ``tenant``, each with its updates newest first; for the
    banner on every page of the workspace."""
    return list(_with_updates(_workspace_open_query(tenant.pk)))


_STAND_IN_TENANT = -7_000_001


@lru_cache(maxsize=1)
def _open_exists_compiled() -> tuple[str, tuple]:
    query = _workspace_open_query(_STAND_IN_TENANT).values("pk")[:1].query
    sql, params = query.sql_with_params()
    return f"SELECT EXISTS ({sql})", tuple(params)


def workspace_incident_open_sql(tenant) -> tuple[str, list]:
    """Whether ``workspace_open_incidents(tenant)`` has any, as SQL and parameters: the gate
    embeds it in its one lookup (workspace.gate_lookup), so a page of a workspace with no
    open incident costs no query for the banner."""
    sql, params = _open_exists_compiled()
    return sql, [tenant.pk if param == _STAND_IN_TENANT else param for param in params]
