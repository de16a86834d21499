"""The frame every desk write runs in (the same frame as the shop's: authorise, one
transaction, a workspace that takes writes), and the helpers the entities share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Model, QuerySet

from kernel.capabilities import Capability
from kernel.text import record_check
from rbac.authz import authorize
from rbac.models import Membership
from tenants.models import Tenant
from tenants.writability import require_writable

NOT_VISIBLE = "You cannot act on a record you cannot see."

RecordT = TypeVar("RecordT", bound=Model)


def _authorize(*, tenant: Tenant, actor: Membership | None, capability: Capability) -> Membership:
    """The actor, as stored now, is an active member of ``tenant`` whose role allows it, and
    the connection is on the tenant's schema."""
    schema_name: str = connection.schema_name  # type: ignore[attr-defined]
    if schema_name != tenant.schema_name:
        raise RuntimeError(
            f"desk service for {tenant.schema_name} called with schema {schema_name}"
        )
    return authorize(tenant, actor, capability)


@contextmanager
def _write(
    *, tenant: Tenant, actor: Membership | None, capability: Capability
) -> Iterator[Membership]:
    """The frame of every desk write: the actor may (``_authorize``), one transaction
    is open, and the workspace takes
    writes, checked inside it before anything is written. The body writes, records its audit
    events (``audit.services``; Ticket, Asset and SlaPolicy row changes also through
    django-auditlog, ``audit/registry.py``) and schedules side effects with on_commit."""
    current = _authorize(tenant=tenant, actor=actor, capability=capability)
    with transaction.atomic():
        require_writable(tenant)
        yield current


def _require_visible(queryset: QuerySet[Any], obj: Model) -> None:
    if not queryset.filter(pk=obj.pk).exists():
        raise PermissionDenied(NOT_VISIBLE)


def _locked_visible(record: RecordT, visible: QuerySet[RecordT]) -> RecordT:
    """A fresh copy of ``record`` with its row locked, provided ``visible`` includes it."""
    locked = type(record)._default_manager.select_for_update().get(pk=record.pk)
    _require_visible(visible, locked)
    return locked


# Text PostgreSQL can store, within every text field's limit, then Django's field validation.
_full_clean = record_check
