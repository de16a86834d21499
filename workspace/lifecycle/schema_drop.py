"""The owner side of the purge: dropping a purged workspace's schema and its database role.

Invariant: this runs only where the OWNER role lives (the owner-queue worker through
``workspace.tasks.purged_schemas_drop_task``, and ``manage.py purged_schemas_drop``), on a
connection of its own (``tenants.roles.owner_run``): the runtime role can cause no DDL at
all. A schema is dropped only on proof (``proof.schema_drop_proof``): a genuine keyed receipt
(WORKSPACE_PURGED) naming that schema's name and object id, resting on a genuine deletion
decision. Never on a row the runtime role can write: not the Tenant row (PURGING, or gone),
not an audit row without a valid keyed link. The role's drop, the schema's drop and the
WORKSPACE_SCHEMA_DROPPED event in the platform stream commit together; a schema that is
already gone is nothing to do, so a repeated task or sweep does no harm. After the drop the
workspace's storage prefix is swept once more (a file an export wrote while the schema waited
could no longer be recorded anywhere).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.db import DatabaseError, connection, transaction

from audit.events import Event
from audit.services import PLATFORM_STREAM, Target, audit_event_record
from kernel.context import ActorKind, system_audit_context
from tenants.models import Tenant
from tenants.roles import owner_run, workspace_role_drop
from tenants.workspace_roles import workspace_role_name

from ._common import to_public
from .proof import TENANT_TARGET, DropNotProven, schema_drop_proof, schema_oid
from .purge import storage_prefix_sweep

logger = logging.getLogger("workspace.lifecycle")

# The names provisioning gives workspace schemas (tenants.roles, shopsafe_schema_provision):
# never the template, public, a ready spare or anything else.
WORKSPACE_SCHEMA = re.compile(r"^ws_[a-z0-9_]{1,60}$")
# pg_advisory_xact_lock(int, int) namespace for drops; the second key is hashtext(schema).
DROP_LOCK_NAMESPACE = 0x44524F50  # "DROP"
# How long the drop waits for its locks before it gives up (the next sweep tries again): a
# runtime transaction may still hold one on the schema's tables (an export finishing), and
# dropping a table that references ``accounts_user`` takes an exclusive lock on that table
# too, so every request reading users queues behind a waiting drop: keep the wait short.
LOCK_TIMEOUT = "5s"

NOT_A_WORKSPACE_SCHEMA = "not a workspace schema name"
SCHEMA_GONE = "no such schema (already dropped)"
DROP_FAILED = "the drop failed; the next sweep tries again"

WORKSPACE_SCHEMA_LIKE = r"ws\_%"
# Schemas a receipt names (the platform stream: this runs on the public schema).
_CANDIDATES_SQL = """
SELECT DISTINCT n.nspname FROM pg_namespace n
JOIN audit_auditevent e ON e.additional_data ->> 'schema' = n.nspname
WHERE e.event_type = %s AND n.nspname LIKE %s ORDER BY 1
"""
_ORPHANS_SQL = f"""
SELECT n.nspname FROM pg_namespace n
WHERE n.nspname LIKE %s
  AND NOT EXISTS (SELECT FROM {Tenant._meta.db_table} t WHERE t.schema_name = n.nspname)
ORDER BY 1
"""  # noqa: S608 - a model's table name


@dataclass(frozen=True)
class SchemaDropOutcome:
    """What the owner side did with one schema, and why not when it did not."""

    schema_name: str
    dropped: bool
    reason: str = ""
    receipt_sequence: int | None = None


def purged_schemas_drop(*, schema_name: str | None = None) -> list[SchemaDropOutcome]:
    """OWNER side: drop ``schema_name`` on the proof of its receipt or, without a name, every
    workspace schema a receipt names (the five-minute sweep), on the owner's own connection.
    Raises ImproperlyConfigured in a process without the owner's URL."""
    return owner_run(lambda: _drop_all(schema_name))


def _drop_all(schema_name: str | None) -> list[SchemaDropOutcome]:
    to_public()
    with system_audit_context():
        if schema_name is not None:
            return [purged_schema_drop(schema_name=schema_name)]
        with connection.cursor() as cursor:
            cursor.execute(_CANDIDATES_SQL, [int(Event.WORKSPACE_PURGED), WORKSPACE_SCHEMA_LIKE])
            names = [row[0] for row in cursor.fetchall()]
        outcomes = [purged_schema_drop(schema_name=name) for name in names]
        _orphans_report()
        return outcomes


def purged_schema_drop(*, schema_name: str) -> SchemaDropOutcome:
    """Drop one purged workspace's schema and role, on the CURRENT connection (the owner's;
    see :func:`purged_schemas_drop`), if and only if ``proof.schema_drop_proof`` holds."""
    if not WORKSPACE_SCHEMA.match(schema_name):
        return SchemaDropOutcome(schema_name, False, NOT_A_WORKSPACE_SCHEMA)
    try:
        with transaction.atomic():
            outcome = _drop_proven(schema_name)
    except DatabaseError as error:  # a lock held too long, a lost connection: retried
        logger.error("dropping schema %s failed: %s", schema_name, type(error).__name__)
        return SchemaDropOutcome(schema_name, False, DROP_FAILED)
    if outcome.dropped:
        try:
            storage_prefix_sweep(schema_name)
        except Exception:  # the schema is gone and recorded; a leftover object is logged
            logger.exception("storage sweep after dropping schema %s failed", schema_name)
    return outcome


def _drop_proven(schema_name: str) -> SchemaDropOutcome:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [DROP_LOCK_NAMESPACE, schema_name]
        )
    oid = schema_oid(schema_name)
    if oid is None:
        return SchemaDropOutcome(schema_name, False, SCHEMA_GONE)
    try:
        receipt = schema_drop_proof(schema_name=schema_name, oid=oid)
    except DropNotProven as refusal:
        logger.warning("refusing to drop schema %s: %s", schema_name, refusal.reason)
        return SchemaDropOutcome(schema_name, False, refusal.reason)
    role = workspace_role_name(connection.settings_dict["NAME"], schema_name)
    workspace_role_drop(schema_name)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA {quote(schema_name)} CASCADE")
    audit_event_record(
        event_type=Event.WORKSPACE_SCHEMA_DROPPED,
        target=Target(TENANT_TARGET, receipt.target_id, receipt.target_label),
        data={
            "schema": schema_name,
            "schema_oid": oid,
            "role": role,
            "receipt_sequence": receipt.sequence,
        },
        stream=PLATFORM_STREAM,
        actor=None,
        actor_kind=ActorKind.SYSTEM,
    )
    logger.info("dropped purged workspace schema %s and its role", schema_name)
    return SchemaDropOutcome(schema_name, True, receipt_sequence=receipt.sequence)


def _orphans_report() -> None:
    """A workspace schema without its row and without a proven purge is not dropped: it is
    reported, every sweep, for a person to look at (a row deleted by hand or by injected SQL)."""
    with connection.cursor() as cursor:
        cursor.execute(_ORPHANS_SQL, [WORKSPACE_SCHEMA_LIKE])
        orphans = [row[0] for row in cursor.fetchall()]
    if orphans:
        logger.warning(
            "%d workspace schema(s) without a workspace row or a proven purge, left alone: %s",
            len(orphans),
            ", ".join(orphans),
        )
