"""Streaming the audit stream out as CSV or JSON Lines.

Invariant: an export never holds more than one chunk of rows in memory. Rows come from a
server-side cursor (``QuerySet.iterator(chunk_size=...)``) inside one read transaction, are
encoded a chunk at a time, and each chunk is handed to the response as soon as it is encoded.
PostgreSQL does the per-row formatting that is slow in Python (timestamps, JSON), so an export
runs at database speed rather than at the speed of a Python loop over 23 columns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from django.db import transaction
from django.db.models import CharField, F, Func, QuerySet, TextField, Value
from django.db.models.functions import Cast
from django_tenants.utils import schema_context

from .events import EVENT_INFO

COLUMNS = (
    "sequence",
    "time",
    "event_type",
    "event_name",
    "outcome",
    "actor_kind",
    "actor_id",
    "actor_name",
    "actor_email",
    "on_behalf_of_id",
    "on_behalf_of_name",
    "on_behalf_of_email",
    "ip",
    "user_agent",
    "request_id",
    "target_type",
    "target_id",
    "target_label",
    "action",
    "changes",
    "data",
    "prev_hash",
    "hash",
    # How ``hash`` was made (audit.chain), so an export can be checked offline against the
    # anchored digests (audit/offline/verify_export.py).
    "chain_version",
    "key_id",
)
# Export column -> model field, for the columns read as they are stored.
_STORED = {
    "sequence": "sequence",
    "event_type": "event_type",
    "outcome": "outcome",
    "actor_kind": "actor_kind",
    "actor_id": "actor_id",
    "actor_name": "actor_name",
    "actor_email": "actor_email",
    "on_behalf_of_id": "on_behalf_of_id",
    "on_behalf_of_name": "on_behalf_of_name",
    "on_behalf_of_email": "on_behalf_of_email",
    "ip": "remote_addr",
    "user_agent": "user_agent",
    "request_id": "request_id",
    "target_type": "target_type",
    "target_id": "target_id",
    "target_label": "target_label",
    "action": "action",
    "prev_hash": "prev_hash",
    "hash": "hash",
    "chain_version": "chain_version",
    "key_id": "key_id",
}
# Free text that people outside the workspace can influence (an attempted sign-in email, a
# user agent). A cell starting with one of these is a formula to a spreadsheet, so CSV cells
# get a leading apostrophe; JSON Lines are data, not formulas, and stay untouched.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_GUARDED = (
    "actor_name",
    "actor_email",
    "on_behalf_of_name",
    "on_behalf_of_email",
    "user_agent",
    "request_id",
    "target_type",
    "target_id",
    "target_label",
)
_NAMES = {int(event): info.name for event, info in EVENT_INFO.items()}


class _UtcText(Func):
    """timestamp -> '2025-01-02T03:04:05.000006Z' (audit.chain.TIME_FORMAT), made by PostgreSQL."""

    template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    output_field = CharField()


def _event_name(code: int) -> str:
    return _NAMES.get(code) or f"unknown.{code}"


def _rows(queryset: QuerySet, *, schema_name: str, chunk_size: int, fields: list) -> Iterator:
    # The response is consumed after the view returned: set the schema here, and read in one
    # transaction so the cursor needs no WITH HOLD copy on the server.
    with schema_context(schema_name), transaction.atomic():
        yield from queryset.values_list(*fields).iterator(chunk_size=chunk_size)


def csv_chunks(queryset: QuerySet, *, schema_name: str, chunk_size: int) -> Iterator[str]:
    annotated = queryset.annotate(
        export_time=_UtcText(F("timestamp")),
        export_changes=Cast("changes", TextField()),
        export_data=Cast("additional_data", TextField()),
    )
    fields = [
        "export_time"
        if column == "time"
        else "export_changes"
        if column == "changes"
        else "export_data"
        if column == "data"
        else "event_type"
        if column == "event_name"
        else _STORED[column]
        for column in COLUMNS
    ]
    name_at = COLUMNS.index("event_name")
    guarded_at = [COLUMNS.index(column) for column in _GUARDED]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    batch: list[list] = []
    for stored in _rows(annotated, schema_name=schema_name, chunk_size=chunk_size, fields=fields):
        row = list(stored)
        row[name_at] = _event_name(row[name_at])
        for index in guarded_at:
            value = row[index]
            if value and value.startswith(_FORMULA_START):
                row[index] = "'" + value
        batch.append(row)
        if len(batch) == chunk_size:
            writer.writerows(batch)
            batch.clear()
            yield _drain(buffer)
    writer.writerows(batch)
    if tail := _drain(buffer):
        yield tail


def jsonl_chunks(queryset: QuerySet, *, schema_name: str, chunk_size: int) -> Iterator[str]:
    pairs: list = []
    for column in COLUMNS:
        if column == "event_name":
            continue  # spliced in below: the vocabulary lives in Python
        pairs.append(Value(column))
        if column == "time":
            pairs.append(_UtcText(F("timestamp")))
        elif column == "changes":
            pairs.append(F("changes"))
        elif column == "data":
            pairs.append(F("additional_data"))
        else:
            pairs.append(F(_STORED[column]))
    annotated = queryset.annotate(
        export_line=Cast(Func(*pairs, function="json_build_object"), TextField())
    )
    fields = ["event_type", "export_line"]
    lines: list[str] = []
    rows = _rows(annotated, schema_name=schema_name, chunk_size=chunk_size, fields=fields)
    for code, line in rows:
        lines.append(f'{{"event_name": "{_event_name(code)}", {line[1:]}')
        if len(lines) == chunk_size:
            yield "\n".join(lines) + "\n"
            lines.clear()
    if lines:
        yield "\n".join(lines) + "\n"


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
