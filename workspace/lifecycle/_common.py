"""What every part of the lifecycle shares: the locked Tenant row, its audit events, the host
cache, and the connection put back where the caller had it."""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.db import connection, transaction
from django_tenants.utils import schema_exists

from audit.events import Event
from audit.models import AuditEvent, Outcome
from audit.services import Target, audit_event_record_both
from kernel.context import ActorKind
from tenants.models import Domain, Tenant
from tenants.schedule import lifecycle_dates
from tenants.selectors import tenant_host_cache_forget

logger = logging.getLogger("workspace.lifecycle")

LIFECYCLE_FIELDS = [
    "state",
    "billing_status",
    "cancelled_at",
    "archived_at",
    "purge_requested_at",
    "lifecycle_notices",
]


def host_cache_forget_on_commit(tenant: Tenant) -> None:
    hostnames = list(Domain.objects.filter(tenant_id=tenant.pk).values_list("domain", flat=True))

    def forget() -> None:
        for hostname in hostnames:
            tenant_host_cache_forget(hostname)

    forget()
    transaction.on_commit(forget)


def dates_data(tenant: Tenant) -> dict[str, str | None]:
    dates = lifecycle_dates(tenant)
    return {
        "archive_at": dates.archive_at.isoformat() if dates.archive_at else None,
        "purge_at": dates.purge_at.isoformat() if dates.purge_at else None,
    }


def audit_both(
    tenant: Tenant,
    event_type: Event,
    *,
    changes: dict | None = None,
    data: dict | None = None,
    actor: Any = None,
    actor_kind: str | None = None,
    workspace_stream: bool = True,
    outcome: str = Outcome.SUCCESS,
) -> AuditEvent:
    """A lifecycle event about ``tenant`` in the workspace's stream (while its schema exists)
    and the platform's (audit.services.audit_event_record_both); the system acts unless an
    actor is named."""
    return audit_event_record_both(
        workspace=tenant,
        event_type=event_type,
        target=Target("tenants.tenant", str(tenant.pk), tenant.slug),
        outcome=outcome,
        changes=changes,
        data=data,
        actor=actor,
        actor_kind=actor_kind or (ActorKind.USER if actor is not None else ActorKind.SYSTEM),
        workspace_stream=workspace_stream and schema_exists(tenant.schema_name),
    )


def to_public() -> None:
    # django-tenants adds this to the connection at run time; django-stubs cannot see it.
    connection.set_schema_to_public()  # type: ignore[attr-defined]


def keeps_connection_tenant(service):
    """The owner and support services lock the Tenant row on the public schema; put the
    connection back on the caller's tenant afterwards, so the rest of the request (its page,
    its audit events) still runs in the workspace it came from."""

    @functools.wraps(service)
    def wrapper(*args, **kwargs):
        previous = getattr(connection, "tenant", None)
        try:
            return service(*args, **kwargs)
        finally:
            if previous is not None and not getattr(previous, "is_public", True):
                connection.set_tenant(previous)  # type: ignore[attr-defined]
            else:
                to_public()

    return wrapper


def locked(tenant_id: int) -> Tenant:
    """The Tenant row, locked until the caller's transaction ends (on the public schema)."""
    to_public()
    return Tenant.objects.select_for_update().get(pk=tenant_id)


def sync(target: Tenant, source: Tenant) -> None:
    """Copy the lifecycle fields of the saved row onto the caller's instance."""
    for name in [*LIFECYCLE_FIELDS, "purge_counts"]:
        setattr(target, name, getattr(source, name))
