"""What may be written to a workspace in each lifecycle state: the one rule that the gate,
every service and every template read.

Invariant: only an ACTIVE workspace takes writes. A CANCELLED one is read-only (owners can
still export, and the pages marked ``allowed_when_cancelled`` may still post); ARCHIVED and
PURGING workspaces are closed: nobody reaches them through the gate at all. The states
themselves are ``Tenant.State``; the transitions between them are the lifecycle's
(workspace.lifecycle).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import connection

from .models import Tenant

WORKSPACE_READ_ONLY_MESSAGE = (
    "This workspace has been cancelled and is read-only. Owners can still export its data."
)

# The rule itself: which states are served, read-only, or closed.
OPEN_STATES = frozenset({Tenant.State.ACTIVE, Tenant.State.CANCELLED})
READ_ONLY_STATES = frozenset({Tenant.State.CANCELLED})
CLOSED_STATES = frozenset({Tenant.State.ARCHIVED, Tenant.State.PURGING})


def takes_writes(state: str) -> bool:
    return state == Tenant.State.ACTIVE


def require_writable(tenant: Tenant) -> None:
    """Refuse (PermissionDenied) unless ``tenant`` takes writes, read from the database: the
    object in hand may be the cached host lookup's copy, older than a cancellation; a row that
    is gone counts as closed. Call inside the transaction that writes.

    The row is read FOR SHARE: writes do not wait for each other, but a cancellation or a
    purge (which lock the row FOR UPDATE) waits until the writes in flight have committed,
    and every write after it sees the new state. No write can slip in between the
    lifecycle's check and its commit."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT state FROM {connection.ops.quote_name(Tenant._meta.db_table)} "  # noqa: S608 - the table name is our model's, quoted
            "WHERE id = %s FOR SHARE",
            [tenant.pk],
        )
        row = cursor.fetchone()
    if row is None or not takes_writes(row[0]):
        raise PermissionDenied(WORKSPACE_READ_ONLY_MESSAGE)
