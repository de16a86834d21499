"""The records of an entity as JSON Lines written by PostgreSQL itself, streamed with COPY.

Invariant: for every row, the line PostgreSQL writes here is byte for byte the line
``archive._RecordEncoder`` writes in Python (docs/export-format.md, "Records": keys in the
model's field order, no whitespace, ``ensure_ascii=False``, values as that table says), so the
archive and its checksums do not depend on which of the two wrote it. Where PostgreSQL cannot
give exactly those bytes, this module says so (:func:`line_query` returns None, or
:func:`python_needed` is true for the snapshot) and the entity is written by Python instead:
a column of a type not listed below, a content-type reference, or a JSON value holding a
non-integer number (Python re-formats floats; the audit stream never holds one, since
``audit.chain.json_safe`` turns them into strings).

The query runs on the caller's connection, so in the workspace's own database context (role
and search_path, tenants/postgresql_backend) and in the export's REPEATABLE READ snapshot, and
it selects rows, filters and order from ``Entity.queryset``: the same rows in the same order as
the Python path. Nothing here names a schema.

How each kind is written (``exports.format.encode_value`` is the reference):

* text: ``to_json(col)`` (PostgreSQL's JSON string escapes are Python's: ``\\" \\\\ \\b \\f \\n
  \\r \\t`` and ``\\u00xx`` in lower case for the other control characters; nothing else);
* integers: the number; booleans: ``true``/``false``;
* decimals: the column's text (``numeric`` prints every declared decimal place, as
  ``format(Decimal, "f")`` does);
* date and time: ``to_char`` in UTC with six fractional digits (``FMYYYY``: like Python's
  ``%Y``, years before 1000 are not zero-padded); dates ``YYYY-MM-DD``;
* UUIDs: the canonical text;
* JSON: jsonb's text with the spaces it puts after ``:`` and ``,`` taken out (a regular
  expression that skips over string literals); jsonb keeps keys in the order Python reads
  them from that same text;
* relations: the referenced key, as its own field would be written;
* users: ``{"id":…,"email":…}`` with the email read now (``null`` for a deleted account);
* files: the storage key relative to the workspace's prefix, under ``files/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.db import connection, models
from django.db.models.expressions import RawSQL

from .format import FILES_DIR, USER_LABEL, Entity, FieldSpec, Kind

_INTEGERS = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
}
_TEXTS = {"CharField", "TextField", "SlugField"}
_TIME_FORMAT = 'FMYYYY-MM-DD"T"HH24:MI:SS.US"Z"'
# A JSON string literal (kept), or a space outside one (dropped): jsonb's text puts spaces only
# after ":" and ",", and numbers, true, false and null hold none.
_JSON_SPACES = r'("(?:[^"\\]|\\.)*")|[ ]'
# With string literals emptied, a "." left in jsonb's text is a non-integer number.
_JSON_STRINGS = r'"(?:[^"\\]|\\.)*"'
# COPY's CSV format passes a line through untouched unless it holds the quote or delimiter
# character, a line break, or is empty: JSON text escapes every control character, so these
# two never occur in it and no line is ever quoted.
_COPY_OPTIONS = "(FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
BLOCK_BYTES = 256 * 1024


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def _column(table: str, model_field: models.Field) -> str:
    column = model_field.column
    assert column is not None  # noqa: S101 - every concrete field has a column
    return f"{_qn(table)}.{_qn(column)}"


def _json_key(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def _literal(text: str) -> str:
    """A SQL string literal of ``text`` (a JSON key made from a field's name: checked to hold
    nothing that would need escaping)."""
    if "'" in text or "\\" in text or "%" in text:
        raise ValueError(f"unexpected character in {text!r}")
    return f"'{text}'"


def _value_sql(model_field: models.Field, column: str) -> str | None:
    """SQL giving ``encode_value(model_field, value)`` as JSON text (without its null case)."""
    internal = model_field.get_internal_type()
    if internal in _INTEGERS:
        return f"{column}::text"
    if internal in _TEXTS:
        return f"to_json({column}::text)::text"
    if internal == "BooleanField":
        return f"CASE WHEN {column} THEN 'true' ELSE 'false' END"
    if internal == "DecimalField":
        return f"to_json({column}::text)::text"
    if internal == "DateTimeField":
        return f"to_json(to_char({column} AT TIME ZONE 'UTC', '{_TIME_FORMAT}'))::text"
    if internal == "DateField":
        return f"to_json(to_char({column}, 'YYYY-MM-DD'))::text"
    if internal == "TimeField":
        # time.isoformat(): HH:MM:SS, with .ffffff only when there are microseconds.
        moment = f"('2000-01-01'::date + {column})"
        return (
            f"to_json(CASE WHEN extract(microseconds FROM {column})::int % 1000000 = 0"
            f" THEN to_char({moment}, 'HH24:MI:SS') ELSE to_char({moment}, 'HH24:MI:SS.US')"
            " END)::text"
        )
    if internal == "UUIDField":
        return f"to_json({column}::text)::text"
    if internal == "JSONField":
        return f"regexp_replace({column}::text, '{_JSON_SPACES}', '\\1', 'g')"
    return None


def _field_sql(spec: FieldSpec, table: str, params: list, schema_name: str) -> str | None:
    """SQL giving the field's JSON text, 'null' included; its bound values go to ``params``."""
    column = _column(table, spec.field)
    if spec.kind == Kind.VALUE:
        value = _value_sql(spec.field, column)
    elif spec.kind == Kind.RELATION:
        value = _value_sql(spec.target_field, column)
    elif spec.kind == Kind.USER:
        users = _qn(spec.field.related_model._meta.db_table)  # type: ignore[union-attr]
        # S608: identifiers from the models, no value.
        email = f"(SELECT to_json(u.email::text)::text FROM {users} u WHERE u.id = {column})"  # noqa: S608
        value = f"""'{{"id":' || {column} || ',"email":' || COALESCE({email}, 'null') || '}}'"""
    elif spec.kind == Kind.FILE:
        # file_member_path(): the key without the workspace's prefix, under files/ once; an
        # empty key stays "" ("if value else value"), a missing one null.
        prefix = f"{schema_name}/"
        relative = (
            f"CASE WHEN starts_with({column}, %s) THEN substr({column}, %s) ELSE {column} END"
        )
        params += [prefix, len(prefix) + 1]
        # S608: a constant and the expression above, no value.
        under_files = f"(SELECT '{FILES_DIR}' || CASE WHEN starts_with(r, '{FILES_DIR}') THEN substr(r, {len(FILES_DIR) + 1}) ELSE r END FROM (SELECT {relative} AS r) k)"  # noqa: S608, E501
        value = f"to_json(CASE WHEN {column} = '' THEN '' ELSE {under_files} END)::text"
    else:  # content types, and any kind added later: Python writes the entity
        return None
    if value is None:
        return None
    return f"COALESCE({value}, 'null')"


def line_query(entity: Entity, tenant) -> tuple[str, tuple] | None:
    """The SELECT giving one JSON line per record of ``entity``, in the Python path's order,
    and its parameters; None when some field cannot be written identically by PostgreSQL."""
    table = entity.model._meta.db_table
    parts = []
    params: list = []
    for spec in entity.fields:
        if spec.kind == Kind.USER and spec.target != USER_LABEL:
            return None
        value = _field_sql(spec, table, params, tenant.schema_name)
        if value is None:
            return None
        parts.append(f"{_literal(_json_key(spec.name) + ':')} || {value}")
    line = "'{' || " + " || ',' || ".join(parts) + " || '}'" if parts else "'{}'"
    # S611: identifiers and constants from the models; the one value is a bound parameter.
    expression = RawSQL(line, params)  # noqa: S611
    queryset = entity.queryset(tenant).annotate(json_line=expression).values_list("json_line")
    return queryset.query.sql_with_params()


def python_needed(entity: Entity, tenant) -> bool:
    """True when a JSON column of ``entity`` holds a non-integer number in this snapshot."""
    table = entity.model._meta.db_table
    json_columns = [
        _column(table, spec.field)
        for spec in entity.fields
        if spec.kind == Kind.VALUE and spec.field.get_internal_type() == "JSONField"
    ]
    if not json_columns:
        return False
    found = " OR ".join(
        f"position('.' in regexp_replace({column}::text, '{_JSON_STRINGS}', '', 'g')) > 0"
        for column in json_columns
    )
    # S611: identifiers from the models and constant patterns, no value.
    condition = RawSQL(f"({found})", (), models.BooleanField())  # noqa: S611
    queryset = entity.queryset(tenant).filter(condition)
    return queryset.exists()


def copy_lines(sql: str, params: tuple) -> Iterator[tuple[bytes, int]]:
    """Run ``COPY (sql) TO STDOUT`` on the connection's cursor (its workspace context and
    transaction) and yield (block of whole lines, number of lines), about ``BLOCK_BYTES``
    at a time: memory stays flat whatever the table's size."""
    statement = f"COPY ({sql}) TO STDOUT {_COPY_OPTIONS}"
    with connection.cursor() as cursor, cursor.cursor.copy(statement, params) as copy:
        pending: list = []  # psycopg's buffers, each owning its row: joined without a copy
        size = 0
        for row in copy:
            pending.append(row)
            size += len(row)
            if size >= BLOCK_BYTES:
                yield b"".join(pending), len(pending)
                pending.clear()
                size = 0
        if pending:
            yield b"".join(pending), len(pending)
