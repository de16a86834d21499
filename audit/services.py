"""Writing the audit stream: the one helper every service calls.

Invariant: :func:`audit_event_record` is the only writer of ``AuditEvent``. It runs inside
the caller's transaction (so a rolled-back change leaves no event) and appends to exactly one
stream: the schema that is current, or the one named by ``stream``. Appends to a stream are
serialised by a transaction-scoped advisory lock keyed by that schema, so concurrent writers
can never fork its hash chain; the lock is held until the caller's transaction ends, and that
transaction's commit releases it without waiting for the disk (``commit()`` then waits for the
flush itself, so the caller's durability is unchanged: tenants/postgresql_backend). An event
that belongs in a workspace's stream and the platform's alike is written by
:func:`audit_event_record_both`, the one place that decides the order of the two.
"""

from __future__ import annotations

import functools
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from kernel.capabilities import AUDIT_EXPORT, AUDIT_READ, require
from kernel.context import ActorKind, audit_context_get, clean_text
from tenants.postgresql_backend.base import (
    commit_flushes_after_locks,
    send_with_next,
    watched_cursor,
)

from .chain import CHAIN_VERSION, GENESIS_HASH, event_hash, json_safe
from .events import Event, record_event
from .keys import chain_keys, current_key_id
from .models import AuditEvent, Outcome
from .selectors import AuditFilters

# First key of pg_advisory_xact_lock(int, int); the second is hashtext(current_schema()).
# A hashtext collision between two schemas only makes them wait for each other.
AUDIT_LOCK_NAMESPACE = 0x41554454  # "AUDT"
PLATFORM_STREAM = "public"
# After a stream writer's transaction commits (without waiting for the disk, so its stream
# lock is not held through the flush), ``commit()`` waits for the flush in a second
# transaction: setval writes WAL and gives it a transaction id, so it commits synchronously and
# its flush covers the commit before it. The sequence (public, settable by every role, read by
# nothing) is created by migration 0004.
FLUSH_SEQUENCE = "audit_commit_flush"
_FLUSH = f"SELECT setval('{FLUSH_SEQUENCE}', 1, false)"
_FROM_CONTEXT: Any = object()


@dataclass(frozen=True)
class Target:
    """What an event is about when it is not a model instance at hand."""

    type: str
    id: str
    label: str = ""


def target_of(obj: Any) -> Target:
    if isinstance(obj, Target):
        return obj
    if isinstance(obj, models.Model):
        label = str(obj)
        email = (
            getattr(obj, "email", "")
            if obj._meta.label_lower == settings.AUTH_USER_MODEL.lower()
            else ""
        )
        if email and email not in label:
            label = f"{label} <{email}>"
        return Target(obj._meta.label_lower, str(obj.pk), label)
    raise TypeError(f"cannot audit a target of type {type(obj).__name__}")


def audit_event_record(
    *,
    event_type: Event,
    target: models.Model | Target | None = None,
    outcome: str = Outcome.SUCCESS,
    changes: dict | None = None,
    data: dict | None = None,
    stream: Any = None,
    actor: Any = _FROM_CONTEXT,
    actor_kind: str | None = None,
    action: int | None = None,
) -> AuditEvent:
    """Append one event to a stream and return it.

    ``stream``: None for the schema that is current (a workspace's own events), a Tenant for
    that workspace's stream, or ``PLATFORM_STREAM`` for the platform's. ``actor`` defaults to
    the audit context (the signed-in user, or the system outside requests); pass it to name
    someone else (the user who just signed up) or None for nobody. ``changes`` is
    ``{field: [before, after]}``; ``data`` holds event details (the attempted email, filters).
    """
    context = audit_context_get()
    if actor is _FROM_CONTEXT:
        actor = context.current_actor()
        kind = actor_kind or context.current_actor_kind()
    elif actor_kind:
        kind = actor_kind
    elif actor is not None:
        kind = ActorKind.USER
    else:
        kind = ActorKind.ANONYMOUS if context.request is not None else ActorKind.SYSTEM
    actor_id, actor_name, actor_email = _snapshot(actor)
    on_behalf_of_id, on_behalf_of_name, on_behalf_of_email = _snapshot(context.on_behalf_of)
    about = target_of(target) if target is not None else Target("", "")
    if context.api_token_id is not None:
        data = {**(data or {}), "api_token": context.api_token_id}
    fields = {
        "event_type": int(Event(event_type)),
        "outcome": Outcome(outcome).value,
        "action": action,
        "actor_kind": ActorKind(kind).value,
        "actor_id": actor_id,
        "actor_name": actor_name,
        "actor_email": actor_email,
        "on_behalf_of_id": on_behalf_of_id,
        "on_behalf_of_name": on_behalf_of_name,
        "on_behalf_of_email": on_behalf_of_email,
        "remote_addr": context.ip,
        "user_agent": context.user_agent,
        "request_id": clean_text(context.request_id, 64),
        "target_type": clean_text(about.type, 100),
        "target_id": clean_text(about.id, 64),
        "target_label": clean_text(about.label, 200),
        "changes": json_safe(changes) if changes is not None else None,
        "additional_data": json_safe(data) if data is not None else None,
    }
    with _stream_context(stream):
        return _append(fields)


def audit_event_record_both(
    *,
    workspace: Any,
    event_type: Event,
    target: models.Model | Target | None = None,
    outcome: str = Outcome.SUCCESS,
    changes: dict | None = None,
    data: dict | None = None,
    actor: Any = _FROM_CONTEXT,
    actor_kind: str | None = None,
    workspace_stream: bool = True,
) -> AuditEvent:
    """The one event that concerns a workspace and the platform alike (its lifecycle, support
    sessions): the same fields appended to ``workspace``'s own stream and then to the platform
    stream, inside the caller's transaction; returns the platform's copy.

    Always the workspace first, then the platform: every transaction that writes both takes
    the two streams' locks in the same order, so two of them can never wait for each other.
    ``workspace_stream=False`` writes the platform copy only (the workspace's stream is gone,
    or is about to be).
    """
    fields: dict[str, Any] = {
        "event_type": event_type,
        "target": target,
        "outcome": outcome,
        "changes": changes,
        "data": data,
        "actor": actor,
        "actor_kind": actor_kind,
    }
    if workspace_stream:
        audit_event_record(stream=workspace, **fields)
    return audit_event_record(stream=PLATFORM_STREAM, **fields)


def _snapshot(person: Any) -> tuple[int | None, str, str]:
    """(id, name, email) as they are now: the event keeps them after the user is gone."""
    if person is None:
        return None, "", ""
    name = clean_text(getattr(person, "full_name", "") or "", 150)
    return person.pk, name, clean_text(getattr(person, "email", "") or "", 254)


def audit_record_change(*, instance: models.Model, action: int, changes: dict | None) -> AuditEvent:
    """A registered model's create/update/delete (called by django-auditlog's receivers)."""
    return audit_event_record(
        event_type=record_event(instance._meta.label_lower, action),
        target=instance,
        changes=changes,
        action=action,
    )


def _stream_context(stream: Any):
    if stream is None:
        return nullcontext()
    schema_name = stream if isinstance(stream, str) else stream.schema_name
    if schema_name == getattr(connection, "schema_name", None):
        return nullcontext()
    if isinstance(stream, str):
        return schema_context(schema_name)
    return tenant_context(stream)


# After the statement that lets this transaction release its locks before its commit reaches
# the disk (tenants/postgresql_backend: commit() still returns only once it has), one round
# trip of four statements: that, the stream's lock, its head, and the new event's id. Under
# READ COMMITTED each statement has its own snapshot, so the head read after the lock is the
# one the previous holder committed. No parameters: psycopg sends them as one simple query.
_LOCK_AND_HEAD = (
    f"; SELECT pg_advisory_xact_lock({AUDIT_LOCK_NAMESPACE:d}, hashtext(current_schema())); "  # noqa: S608 - an int constant
    "SELECT sequence, hash FROM audit_auditevent ORDER BY sequence DESC LIMIT 1; "
    "SELECT nextval(pg_get_serial_sequence('audit_auditevent', 'id'))"
)


def _append(fields: dict[str, Any]) -> AuditEvent:
    """Link and insert one event. The stream's lock is held from reading the head to the end
    of the caller's transaction, so everything that can happen before it does (the
    transaction, the workspace context, the key, the INSERT's parameters). Inside it: one
    round trip that takes the lock, reads the head and draws the event's id, the HMAC, and
    the INSERT, which goes out with the caller's next statement or pipelined with its COMMIT
    (``send_with_next``); that commit releases the lock without waiting for the disk
    (``commit_flushes_after_locks``). So a writer holding the lock waits for the database
    once, and for no disk."""
    keys, key_id = chain_keys(), current_key_id()
    event = AuditEvent(
        chain_version=CHAIN_VERSION, key_id=key_id, prev_hash=GENESIS_HASH, hash="", **fields
    )
    params = [
        field.get_db_prep_save(getattr(event, field.attname), connection) for field in _FIELDS
    ]
    # savepoint=False: inside the caller's transaction a failure here must fail the caller's
    # change too; outside one, this opens the transaction that scopes the lock. Django's
    # cursor sets the workspace's context (and sends an event queued earlier, so the head
    # read here includes it).
    with (
        transaction.atomic(savepoint=False),
        connection.cursor(),
        connection.wrap_database_errors,
        # The backend's own cursor class: every statement is seen by its context watch.
        watched_cursor(connection.connection) as cursor,
    ):
        cursor.execute(commit_flushes_after_locks(connection, flush_with=_FLUSH) + _LOCK_AND_HEAD)
        cursor.nextset()
        cursor.nextset()
        head = cursor.fetchone()
        cursor.nextset()
        (event.pk,) = cursor.fetchone() or (None,)
        event.sequence, event.prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
        event.timestamp = timezone.now()  # under the lock: times never go back along a stream
        event.hash = event_hash(event, keys)
        for index, name in _LINK_FIELDS:
            params[index] = getattr(event, name)
        send_with_next(connection, _insert_sql(), params)
    event._state.adding, event._state.db = False, connection.alias
    return event


# What bulk_create([event]) would send, with the id drawn under the lock (ids grow along the
# stream, which the verifier checks), and no pre_save that could change a hashed field (none
# of them has auto_now or the like).
_FIELDS = list(AuditEvent._meta.concrete_fields)
# The parameters filled in under the lock.
_LINK_FIELDS = [
    ([field.attname for field in _FIELDS].index(name), name)
    for name in ("id", "sequence", "prev_hash", "timestamp", "hash")
]


@functools.cache
def _insert_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in _FIELDS)  # type: ignore[arg-type]
    placeholders = ", ".join(["%s"] * len(_FIELDS))
    # S608: identifiers from the model, every value a bound parameter.
    return f"INSERT INTO {quote(AuditEvent._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608


# --- The audit log's own events: reading it is itself audited.


def audit_log_view(*, viewer, filters: AuditFilters, page: int) -> AuditEvent:
    require(viewer, AUDIT_READ)
    with transaction.atomic():
        return audit_event_record(
            event_type=Event.AUDIT_LOG_VIEWED, data={"filters": filters.as_data(), "page": page}
        )


def audit_event_view(*, viewer, event: AuditEvent) -> AuditEvent:
    require(viewer, AUDIT_READ)
    with transaction.atomic():
        return audit_event_record(
            event_type=Event.AUDIT_EVENT_VIEWED,
            target=Target("audit.auditevent", str(event.pk), str(event)),
        )


def audit_log_export(
    *, viewer, filters: AuditFilters, export_format: str, up_to_sequence: int
) -> AuditEvent:
    """Record an export before the first byte leaves; it covers events up to
    ``up_to_sequence`` (the head when the export started)."""
    require(viewer, AUDIT_EXPORT)
    with transaction.atomic():
        return audit_event_record(
            event_type=Event.AUDIT_LOG_EXPORTED,
            data={
                "filters": filters.as_data(),
                "format": export_format,
                "up_to_sequence": up_to_sequence,
            },
        )


def audit_digests_download(*, viewer, digests: int) -> AuditEvent:
    """Record that the viewer downloaded their workspace's signed digests."""
    require(viewer, AUDIT_EXPORT)
    with transaction.atomic():
        return audit_event_record(
            event_type=Event.AUDIT_DIGESTS_DOWNLOADED, data={"digests": digests}
        )
