"""The frame every shop write runs in, and the small helpers the entities share.

See the package docstring (``shop.services``) for the invariants these enforce.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Model, QuerySet

from kernel.capabilities import Capability, require
from kernel.text import record_check
from rbac.authz import current_member
from rbac.models import Membership
from tenants.models import Tenant
from tenants.writability import WORKSPACE_READ_ONLY_MESSAGE, require_writable

from ..models import Company, Contact, NumberSequence

NOT_VISIBLE = "You cannot act on a record you cannot see."
# The gate's words, so a refused task or command reads the same as a refused page.
WORKSPACE_READ_ONLY = WORKSPACE_READ_ONLY_MESSAGE  # the name the shop's tests and callers know

RecordT = TypeVar("RecordT", bound=Model)
# The records with a required ``name`` (companies and contacts).
NamedT = TypeVar("NamedT", Company, Contact)


# --- Shared checks -------------------------------------------------------------------------


def _authorize(*, tenant: Tenant, actor: Membership | None, capability: Capability) -> Membership:
    """The actor, as stored now, is an active member of ``tenant`` whose role allows it, and
    the connection is on the tenant's schema."""
    current = current_member(tenant, actor)
    # django-tenants sets schema_name on the connection at run time; the stubs do not know it.
    schema_name: str = connection.schema_name  # type: ignore[attr-defined]
    if schema_name != tenant.schema_name:
        # A programming error, not a user error: the caller forgot tenant_context().
        raise RuntimeError(
            f"shop service for {tenant.schema_name} called with schema {schema_name}"
        )
    require(current, capability)
    return current


@contextmanager
def _write(*, tenant: Tenant, actor: Membership | None, capability: Capability) -> Iterator[None]:
    """The frame of every shop write: the actor may (``_authorize``), one transaction is open,
    and the workspace takes writes, checked inside that transaction before the body writes
    anything. Audit events are recorded by the audit app as the body saves and deletes (in
    the same transaction); side effects go in ``transaction.on_commit`` inside the body."""
    _authorize(tenant=tenant, actor=actor, capability=capability)
    with transaction.atomic():
        require_writable(tenant)
        yield


def _require_visible(queryset: QuerySet[Any], obj: Model) -> None:
    """The same narrowing the pages use applies to writes (a task cannot skip it)."""
    if not queryset.filter(pk=obj.pk).exists():
        raise PermissionDenied(NOT_VISIBLE)


def _locked_visible(record: RecordT, visible: QuerySet[RecordT]) -> RecordT:
    """A fresh copy of ``record`` with its row locked (concurrent changes serialise), provided
    ``visible`` (the actor's selector) includes it. Call inside :func:`_write`."""
    # The default manager is ``objects`` on every shop model (none declares another).
    locked = type(record)._default_manager.select_for_update().get(pk=record.pk)
    _require_visible(visible, locked)
    return locked


def _set_trimmed(record: RecordT, **values: str | None) -> RecordT:
    """Assign text fields as typed, without surrounding whitespace (None counts as empty)."""
    for field, value in values.items():
        setattr(record, field, (value or "").strip())
    return record


def _save_named(record: NamedT, *, name_required: str, **text: str) -> NamedT:
    """Set ``record``'s text fields (trimmed), refuse a blank name with ``name_required``,
    validate the fields and save (inside :func:`_write`)."""
    _set_trimmed(record, **text)
    if not record.name:
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


_full_clean = record_check


def _next_number(kind: str, prefix: str) -> str:
    """The next document number of ``kind``; sequential, locked until the transaction ends."""
    sequence, _ = NumberSequence.objects.select_for_update().get_or_create(name=kind)
    sequence.last_value += 1
    sequence.save(update_fields=["last_value"])
    return f"{prefix}-{sequence.last_value:05d}"


# --- Side effects --------------------------------------------------------------------------


def _enqueue(task, *, tenant: Tenant, **kwargs) -> None:
    """Queue a tenant task (called after commit); the task sets its tenant itself."""
    task.delay(tenant_schema=tenant.schema_name, **kwargs)
