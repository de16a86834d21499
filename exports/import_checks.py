"""Checking an archive's records against the database's rules before an import writes anything.

Invariant: ``exports.importer.workspace_import`` calls :func:`records_check` before it
provisions the workspace, and an archive it refuses leaves nothing behind because nothing was
written yet. ``ImportRefused`` names the entity, the id and the record's line. Checked:

- every record decodes (``reader.RecordDecoder``), its users resolve and its files are in the
  archive;
- no id, unique field or unique constraint repeats within an entity (a conditional unique
  constraint counts the records its condition holds for);
- every relation to another entity points at a record the archive holds;
- every value fits its column: required, text without NUL and within its length, whole
  numbers within the column's range, decimals within their digits;
- every check constraint holds. PostgreSQL evaluates those itself (and the conditions of
  conditional unique constraints), on the records as values and without writing: the
  model's own query runs against a ``WITH <table> AS (VALUES ...)`` list that stands in for
  its table, so the rules are exactly the ones in the schema.

Memory grows with the number of ids and unique values (kept to find repeats), never with the
records' size or the files. What the database still checks on writing (and the import's
transaction rolls back) is anything this cannot see: a rule written only in SQL.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import DatabaseError, connection, models, transaction
from django.db.models import BooleanField, ExpressionWrapper

from kernel.text import text_storable

from .format import Entity, FieldSpec, Kind, entity_for
from .reader import ArchiveRefused, RecordDecoder, VerifiedArchive, records

SQL_PARAMETERS_PER_QUERY = 30_000

IMPORT_DUPLICATE_ID = (
    "The archive holds {label} {id} twice (records {first} and {line} of {path}): ids must be "
    "unique. Nothing was imported."
)
IMPORT_DUPLICATE_VALUE = (
    "{record} has the same {fields} ({values}) as {other}: {fields} must be unique{rule}. "
    "Nothing was imported."
)
IMPORT_DANGLING = (
    "{record} refers in {field} to {target} {value}, which the archive does not hold. "
    "Nothing was imported."
)
IMPORT_BAD_VALUE = "{record} cannot be imported: its {field} {problem}. Nothing was imported."
IMPORT_CHECK_BROKEN = "{record} breaks {rules}. Nothing was imported."
IMPORT_RULES_UNREADABLE = (
    "The records of {label} could not be checked against the database's rules ({detail}). "
    "Nothing was imported."
)

UserResolverFor = Callable[[Entity], Callable[[FieldSpec, Any], Any]]


class ImportRefused(ArchiveRefused):
    """The archive is sound but cannot be imported here; ``str()`` says why."""


def _describe(entity: Entity, pk: Any, line: int) -> str:
    where = f"record {line} of {entity.path}"
    return f"{entity.label} {pk} ({where})" if pk is not None else f"{entity.label} ({where})"


def _display(spec: FieldSpec, raw: Any) -> str:
    if spec.kind == Kind.USER and isinstance(raw, dict):
        return repr(raw.get("email"))
    return repr(raw)


# --- Values -------------------------------------------------------------------------------

_INTEGER_TYPES = {
    "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField",
    "SmallIntegerField", "PositiveIntegerField", "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
}  # fmt: skip
_TEXT_TYPES = {"CharField", "TextField", "SlugField", "EmailField", "URLField"}


def _value_problem(column: models.Field, value: Any) -> str | None:
    """Why PostgreSQL would refuse ``value`` for ``column`` (after decoding), or None."""
    if value is None:
        return None if column.null else "is empty, and must have a value"
    if isinstance(column, models.ForeignKey):
        column = column.target_field
    internal = column.get_internal_type()
    if internal in _TEXT_TYPES:
        if not isinstance(value, str):
            return "is not text"
        if "\x00" in value:
            return "holds a NUL character"
        if not text_storable(value):  # a lone surrogate, as kernel.text defines it
            return "holds a character that cannot be stored"
        if column.max_length is not None and len(value) > column.max_length:
            return f"is longer than {column.max_length} characters"
    elif internal in _INTEGER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int):
            return "is not a whole number"
        low, high = connection.ops.integer_field_range(internal)
        if (low is not None and value < low) or (high is not None and value > high):
            return f"is outside {low} to {high}"
    elif internal == "BooleanField":
        if not isinstance(value, bool):
            return "is not true or false"
    elif internal == "DecimalField":
        assert isinstance(column, models.DecimalField)  # noqa: S101 - its internal type
        if not isinstance(value, Decimal) or not value.is_finite():
            return "is not a number"
        # numeric(p, s) holds p - s digits before the point and rounds what is past s
        # decimals; refuse both rather than store a rounded amount.
        places, most = column.decimal_places or 0, column.max_digits or 0
        _sign, digits, exponent = value.normalize().as_tuple()
        assert isinstance(exponent, int)  # noqa: S101 - a finite number
        decimals = max(0, -exponent)
        whole = 0 if value == 0 else max(0, len(digits) + exponent)
        if decimals > places or whole > most - places:
            return f"does not fit {most} digits with {places} decimals"
    elif internal == "FloatField" and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        return "is not a number"
    return None


# --- Unique sets and the SQL rules -------------------------------------------------------


@dataclass
class _UniqueSet:
    fields: tuple[str, ...]  # field names, as the archive names them
    attnames: tuple[str, ...]
    rule: str = ""  # the constraint's name, when it has a condition
    condition: Any = None  # a conditional unique constraint's condition
    condition_index: int = -1  # its column in the rules query's result
    seen: dict[tuple, str] = field(default_factory=dict)  # values -> the record that has them


def _unique_sets(entity: Entity) -> list[_UniqueSet]:
    meta = entity.model._meta
    exported = {spec.name for spec in entity.fields}
    groups: list[tuple[tuple[str, ...], str, Any]] = []
    for column in meta.concrete_fields:
        if column.unique and not column.primary_key:
            groups.append(((column.name,), "", None))
    for together in meta.unique_together:
        groups.append((tuple(together), "", None))
    for constraint in meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
            if constraint.expressions:
                continue  # an expression index: left to PostgreSQL
            condition = constraint.condition
            groups.append(
                (tuple(constraint.fields), constraint.name if condition else "", condition)
            )
    result = []
    for names, rule, condition in groups:
        # A platform entity's workspace field is implied: the same for every record.
        kept = tuple(name for name in names if name in exported)
        if kept:
            columns = {column.name: column for column in meta.concrete_fields}
            attnames = tuple(columns[name].attname for name in kept)
            result.append(_UniqueSet(kept, attnames, rule=rule, condition=condition))
    return result


OnResult = Callable[[list], None]


class _SqlRules:
    """The model's check constraints, and the conditions of its conditional unique
    constraints, evaluated by PostgreSQL over a batch of decoded records that stands in for
    its table. Nothing is written: it is one SELECT per batch."""

    def __init__(self, entity: Entity, unique_sets: list[_UniqueSet]):
        model = entity.model
        self.entity = entity
        self.checks = [
            constraint
            for constraint in model._meta.constraints
            if isinstance(constraint, models.CheckConstraint)
        ]
        expressions: dict[str, Any] = {}
        for index, check in enumerate(self.checks):
            condition = getattr(check, "condition", None) or check.check  # Django < 5.1
            expressions[f"check_{index}"] = ExpressionWrapper(condition, BooleanField())
        for unique in unique_sets:
            if unique.condition is not None:
                unique.condition_index = len(expressions)
                expressions[f"unique_{unique.condition_index}"] = ExpressionWrapper(
                    unique.condition, BooleanField()
                )
        self.active = bool(expressions)
        self.columns = list(model._meta.concrete_fields)
        self.rows: list[tuple[str, list[Any], OnResult]] = []
        self.batch = max(1, SQL_PARAMETERS_PER_QUERY // max(1, len(self.columns)))
        if self.active:
            query = model._base_manager.order_by().annotate(**expressions)
            self.sql, self.params = query.values_list(*expressions).query.sql_with_params()

    def add(self, who: str, values: dict, on_result: OnResult) -> None:
        if not self.active:
            on_result([])
            return
        row = [
            column.get_db_prep_save(values.get(column.attname), connection)
            for column in self.columns
        ]
        self.rows.append((who, row, on_result))
        if len(self.rows) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        rows, self.rows = self.rows, []
        quote = connection.ops.quote_name
        table = quote(self.entity.model._meta.db_table)
        names = ", ".join(quote(column.column or column.attname) for column in self.columns)
        casts = ", ".join(f"%s::{column.cast_db_type(connection)}" for column in self.columns)
        values = ", ".join([f"({casts})"] * len(rows))
        # A CTE named like the table stands in for it in the model's own query. Identifiers
        # come from the model; every value is a bound parameter.
        statement = f"WITH {table} ({names}) AS (VALUES {values}) {self.sql}"
        params = [value for _who, row, _on_result in rows for value in row] + list(self.params)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, params)
                results = cursor.fetchall()
        except DatabaseError as error:
            detail = str(error).strip().splitlines()[0] if str(error).strip() else "error"
            raise ImportRefused(
                IMPORT_RULES_UNREADABLE.format(label=self.entity.label, detail=detail)
            ) from error
        for (who, _row, on_result), result in zip(rows, results, strict=True):
            # A check constraint passes unless its condition is false (NULL passes).
            broken = [
                check.name
                for check, holds in zip(self.checks, result, strict=False)
                if holds is False
            ]
            if broken:
                rules = ("the rule " if len(broken) == 1 else "the rules ") + ", ".join(broken)
                raise ImportRefused(IMPORT_CHECK_BROKEN.format(record=who, rules=rules))
            on_result(list(result))


# --- The walk -----------------------------------------------------------------------------


class _Checker:
    """Walks the entities once, keeping ids and unique values (not records)."""

    def __init__(self, labels: Iterable[str]):
        self.keys: dict[tuple[str, str], set] = {}  # (label, attname) -> values held
        # (target label, target attname) -> value -> (who, field): one referrer per value
        self.pending: dict[tuple[str, str], dict[Any, tuple[str, str]]] = {}
        for label in labels:
            entity = entity_for(label)
            for spec in entity.fields if entity else ():
                if spec.kind == Kind.RELATION and spec.db_constraint:
                    self.keys.setdefault((spec.target, spec.target_field.attname), set())

    def entity_check(self, zip_file, entity: Entity, decoder: RecordDecoder, *, skip=None) -> None:
        pk = entity.model._meta.pk
        assert pk is not None  # noqa: S101 - every model has one
        pk_exported = any(spec.attname == pk.attname for spec in entity.fields)
        first_line: dict[Any, int] = {}
        kept = [attname for label, attname in self.keys if label == entity.label]
        uniques = _unique_sets(entity)
        rules = _SqlRules(entity, uniques)
        relations = [
            spec for spec in entity.fields if spec.kind == Kind.RELATION and spec.db_constraint
        ]
        specs = {spec.attname: spec for spec in entity.fields}

        def unique_check(who: str, record: dict, decoded: dict) -> OnResult:
            def check(result: list) -> None:
                for unique in uniques:
                    if unique.condition is not None and not result[unique.condition_index]:
                        continue  # the partial index does not hold this record
                    found = tuple(decoded.get(attname) for attname in unique.attnames)
                    if any(value is None for value in found):
                        continue  # NULLs never collide in a PostgreSQL unique index
                    if found not in unique.seen:
                        unique.seen[found] = who
                        continue
                    fields = ", ".join(unique.fields)
                    shown = ", ".join(
                        _display(specs[attname], record.get(specs[attname].name))
                        for attname in unique.attnames
                    )
                    raise ImportRefused(
                        IMPORT_DUPLICATE_VALUE.format(
                            record=who,
                            fields=fields,
                            other=unique.seen[found],
                            values=shown,
                            rule=f" ({unique.rule})" if unique.rule else "",
                        )
                    )

            return check

        for line, record in records(zip_file, entity):
            values = decoder.decode(record, line=line)
            if skip is not None and skip(values):
                continue
            key = values.get(pk.attname) if pk_exported else None
            who = _describe(entity, key, line)
            for spec in entity.fields:
                problem = _value_problem(spec.field, values.get(spec.attname))
                if problem:
                    raise ImportRefused(
                        IMPORT_BAD_VALUE.format(record=who, field=spec.name, problem=problem)
                    )
            if pk_exported:
                if key in first_line:
                    raise ImportRefused(
                        IMPORT_DUPLICATE_ID.format(
                            label=entity.label,
                            id=key,
                            first=first_line[key],
                            line=line,
                            path=entity.path,
                        )
                    )
                first_line[key] = line
            for attname in kept:
                self.keys[(entity.label, attname)].add(values.get(attname))
            for spec in relations:
                value = values.get(spec.attname)
                if value is not None:
                    target = (spec.target, spec.target_field.attname)
                    self.pending.setdefault(target, {}).setdefault(value, (who, spec.name))
            rules.add(who, values, unique_check(who, record, values))
        rules.flush()

    def relations_check(self) -> None:
        for (target, attname), referrers in self.pending.items():
            held = self.keys.get((target, attname), set())
            for value, (who, field_name) in referrers.items():
                if value not in held:
                    raise ImportRefused(
                        IMPORT_DANGLING.format(
                            record=who, field=field_name, target=target, value=value
                        )
                    )


def content_type_check(natural_key: Any) -> int:
    """Stands in for the import's content-type lookup: the model must exist here. (Ids of
    content types differ per schema; the value is only checked, never written.)"""
    if not isinstance(natural_key, str) or "." not in natural_key:
        raise ValueError("content type")
    app_label, model = natural_key.split(".", 1)
    try:
        apps.get_model(app_label, model)
    except LookupError as error:
        raise ValueError("content type") from error
    return 1


def records_check(
    archive: VerifiedArchive,
    *,
    resolve_user_for: UserResolverFor,
    member_user: Callable[[Any], Any],
    file_check: Callable[[str], str],
    include_members: bool,
) -> None:
    """Raise ImportRefused for the first record the import could not write as it is."""
    labels = [
        label
        for label in archive.manifest["entities"]
        if (entity := entity_for(label)) is not None
        and (include_members or not entity.platform_scope)
    ]
    checker = _Checker(labels)
    with zipfile.ZipFile(archive.path) as zip_file:
        for label in labels:
            entity = entity_for(label)
            assert entity is not None  # noqa: S101 - filtered above
            if entity.platform_scope:
                decoder = RecordDecoder(
                    entity, resolve_user=lambda spec, ref: None if ref is None else member_user(ref)
                )
                checker.entity_check(
                    zip_file, entity, decoder, skip=lambda values: values.get("user_id") is None
                )
                continue
            decoder = RecordDecoder(
                entity,
                resolve_user=resolve_user_for(entity),
                resolve_content_type=content_type_check,
                file_key=file_check,
            )
            checker.entity_check(zip_file, entity, decoder)
    checker.relations_check()
