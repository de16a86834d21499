"""The keyed evidence a purge rests on: that the workspace's deletion was decided, and that the
purge was done.

Invariant: nothing here believes a row that SQL on a runtime connection can write. The runtime
role may UPDATE and DELETE ``tenants_tenant`` (so "the row says PURGING", "its archive date has
passed" and "the row is gone" prove nothing) and may INSERT into the platform audit stream (so
an event row alone proves nothing either). What it cannot do is compute a keyed link: an
event counts as evidence only when ``audit.chain.keyed_link_problem`` finds its HMAC link
under a configured chain key (which the database never holds) and its link to its
predecessor intact. The link covers the event's position (sequence, previous link), time,
type, target and data, so a forged, edited, moved or re-targeted copy does not verify; it does
not cover which stream a row sits in, so each rule below rests on the verified *content* only
(a verbatim copy of a genuine event says nothing its original did not).

- :func:`purge_authorization` - a workspace may be purged only when the newest lifecycle
  decision recorded about it (cancelled, restored, deletion requested, purged) is a genuine
  deletion decision that names its schema: the owner's "delete now", or the owner's
  cancellation whose purge date has come. Those are written only by the services that check
  the owner's authority and emailed code (``transitions``); the events the daily run writes
  from the row's dates (archived, purge started) are not decisions. Any newer decision row that
  does not verify blocks the purge (a forged row can delay a purge, never cause one).
- :func:`schema_drop_proof` - the owner side drops a schema only on a genuine receipt
  (WORKSPACE_PURGED) naming that schema's name *and* its oid (the same name given to a later
  workspace is another schema), whose own authorization, re-derived here from the events
  before it, holds.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django_tenants.utils import schema_context

from audit.chain import keyed_link_problem
from audit.events import Event
from audit.keys import chain_keys
from audit.models import AuditEvent
from audit.services import PLATFORM_STREAM

TENANT_TARGET = "tenants.tenant"
# What people decide about a workspace's life; the purge's receipt ends it.
DECISIONS = (
    Event.WORKSPACE_CANCELLED,
    Event.WORKSPACE_RESTORED,
    Event.WORKSPACE_DELETION_REQUESTED,
    Event.WORKSPACE_PURGED,
)

# Why a purge or a drop is refused (recorded in WORKSPACE_PURGE_FAILED, logged by the owner).
NO_DECISION = "no decision to delete this workspace is recorded"
DECISION_NOT_GENUINE = "the newest decision recorded about this workspace does not verify"
DECISION_NOT_A_DELETION = "the newest decision about this workspace is not to delete it"
DECISION_FOR_ANOTHER_SCHEMA = "the deletion decision names another schema"
PURGE_NOT_DUE = "the cancelled workspace's purge date has not come"
NO_RECEIPT = "no purge receipt names this schema"
RECEIPT_NOT_GENUINE = "the purge receipt naming this schema does not verify"
RECEIPT_FOR_ANOTHER_SCHEMA = "the purge receipt names an earlier schema of the same name"


class PurgeNotAuthorized(Exception):
    """No genuine decision allows this purge; ``reason`` is one of the constants above."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DropNotProven(Exception):
    """No genuine receipt proves this schema's purge; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def schema_oid(schema_name: str) -> int | None:
    """The schema's object id, or None when there is no such schema. It stays the same across
    a rename (a ready spare taken for a workspace) and differs for a new schema of the name."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [schema_name])
        row = cursor.fetchone()
    return int(row[0]) if row else None


def event_problem(event: AuditEvent) -> str | None:
    """Why this platform event is not genuine (``audit.chain.keyed_link_problem``), or None."""
    predecessor = AuditEvent.objects.filter(sequence=event.sequence - 1).first()
    return keyed_link_problem(event, predecessor, chain_keys())


def _purge_at(event: AuditEvent) -> datetime | None:
    try:
        return datetime.fromisoformat((event.additional_data or {})["purge_at"])
    except (KeyError, TypeError, ValueError):
        return None


def purge_authorization(
    *, tenant_id: int, schema_name: str, at: datetime, before: AuditEvent | None = None
) -> AuditEvent:
    """The genuine decision that allows purging workspace ``tenant_id`` (schema
    ``schema_name``) at ``at``, read from the platform stream; raises PurgeNotAuthorized.

    Without ``before`` (the purge itself), the newest decision row must verify: a newer row
    that does not (forged, or made under a key no longer configured) blocks, failing closed.
    With ``before`` (the owner side, re-deriving a genuine receipt's grounds), judge as of
    that receipt, passing over rows that do not verify: the receipt's writer already refused
    on any such row, so one inserted since (a copy of the receipt itself) cannot block a drop.
    """
    with schema_context(PLATFORM_STREAM):
        decisions = AuditEvent.objects.filter(
            target_type=TENANT_TARGET, target_id=str(tenant_id), event_type__in=DECISIONS
        )
        if before is not None:
            decisions = decisions.filter(timestamp__lte=before.timestamp).exclude(pk=before.pk)
        newest = None
        for decision in decisions.order_by("-timestamp", "-sequence"):
            if event_problem(decision) is None:
                newest = decision
                break
            if before is None:
                raise PurgeNotAuthorized(DECISION_NOT_GENUINE)
    if newest is None:
        raise PurgeNotAuthorized(NO_DECISION)
    if newest.event_type not in (Event.WORKSPACE_CANCELLED, Event.WORKSPACE_DELETION_REQUESTED):
        raise PurgeNotAuthorized(DECISION_NOT_A_DELETION)
    if (newest.additional_data or {}).get("schema") != schema_name:
        raise PurgeNotAuthorized(DECISION_FOR_ANOTHER_SCHEMA)
    if newest.event_type == Event.WORKSPACE_CANCELLED:
        purge_at = _purge_at(newest)
        if purge_at is None or purge_at > at:
            raise PurgeNotAuthorized(PURGE_NOT_DUE)
    return newest


def schema_drop_proof(*, schema_name: str, oid: int) -> AuditEvent:
    """The genuine purge receipt for the schema ``schema_name`` whose object id is ``oid``;
    raises DropNotProven with the reason of the newest receipt that failed."""
    with schema_context(PLATFORM_STREAM):
        receipts = list(
            AuditEvent.objects.filter(
                event_type=Event.WORKSPACE_PURGED, additional_data__schema=schema_name
            ).order_by("-sequence")
        )
        refusals: list[str] = []
        for receipt in receipts:
            if receipt.target_type != TENANT_TARGET or event_problem(receipt) is not None:
                refusals.append(RECEIPT_NOT_GENUINE)
                continue
            if (receipt.additional_data or {}).get("schema_oid") != oid:
                refusals.append(RECEIPT_FOR_ANOTHER_SCHEMA)
                continue
            try:
                purge_authorization(
                    tenant_id=int(receipt.target_id),
                    schema_name=schema_name,
                    at=receipt.timestamp,
                    before=receipt,
                )
            except PurgeNotAuthorized as refusal:
                refusals.append(refusal.reason)
                continue
            return receipt
    raise DropNotProven(refusals[0] if refusals else NO_RECEIPT)
