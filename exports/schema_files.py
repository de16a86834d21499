"""JSON Schemas of the export format: generated from the models, kept as files.

Invariant: ``exports/schemas/<entity>.schema.json`` is exactly what :func:`entity_schema`
generates from the current models (a test compares them; ``manage.py export_schemas``
rewrites them), and docs/export-format.md links to those files. The manifest's schema is
written by hand (``manifest.schema.json``). Each archive carries the schemas of the build
that wrote it under ``schemas/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

from django.db import models

from .format import (
    FORMAT_VERSION,
    MANIFEST_SCHEMA_NAME,
    Entity,
    FieldSpec,
    Kind,
    entities,
)

SCHEMAS_PATH = Path(__file__).resolve().parent / "schemas"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
USER_REF = {
    "type": "object",
    "description": "A platform user: stable id, and their email when the record was exported.",
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": ["string", "null"]},
    },
    "required": ["id", "email"],
    "additionalProperties": False,
}
_INTEGER_TYPES = {
    "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField",
    "SmallIntegerField", "PositiveIntegerField", "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
}  # fmt: skip
_STRING_TYPES = {
    "CharField", "TextField", "EmailField", "SlugField", "URLField", "GenericIPAddressField",
    "IPAddressField", "FilePathField",
}  # fmt: skip


def schema_filename(entity: Entity) -> str:
    return f"{entity.label}.schema.json"


def entity_schema(entity: Entity) -> dict:
    """The JSON Schema one line of ``data/<entity>.jsonl`` satisfies."""
    properties = {spec.name: _property(spec) for spec in entity.fields}
    schema: dict = {
        "$schema": DRAFT,
        "$id": f"urn:shopsafe:export:v{FORMAT_VERSION}:{entity.label}",
        "title": entity.label,
        "description": _entity_description(entity),
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if any(spec.kind == Kind.USER for spec in entity.fields):
        schema["$defs"] = {"user": USER_REF}
    return schema


def _entity_description(entity: Entity) -> str:
    meta = entity.model._meta
    plural = str(meta.verbose_name_plural).capitalize()
    if entity.platform_scope:
        return (
            f"{plural} of this workspace (kept in the platform's "
            f"shared tables; the workspace itself is implied)."
        )
    if meta.auto_created:
        return f"Links of the many-to-many relation {meta.verbose_name}."
    return f"{plural}, one record per line, ordered by id."


def _property(spec: FieldSpec) -> dict:
    model_field = spec.field
    nullable = bool(model_field.null)
    described: dict = {}
    title = str(model_field.verbose_name)
    if title and title != spec.name.replace("_", " "):
        described["title"] = title
    if model_field.help_text:
        described["description"] = str(model_field.help_text)
    if spec.kind == Kind.USER:
        body: dict = (
            {"oneOf": [{"$ref": "#/$defs/user"}, {"type": "null"}]}
            if nullable
            else {"$ref": "#/$defs/user"}
        )
        return {**described, **body}
    if spec.kind == Kind.RELATION:
        target_pk = spec.target_field
        body = _value_schema(target_pk)
        body["x-references"] = spec.target
    elif spec.kind == Kind.CONTENT_TYPE:
        body = {"type": "string", "pattern": r"^[a-z0-9_]+\.[a-z0-9_]+$"}
        body["x-references"] = "contenttypes.contenttype"
    elif spec.kind == Kind.EXTERNAL:
        body = _value_schema(spec.target_field)
        body["x-references"] = spec.target
    elif spec.kind == Kind.FILE:
        body = {"type": "string", "pattern": r"^(files/.+)?$"}
        body["description"] = (
            described.pop("description", "") + " The archive path of the file's bytes."
        ).strip()
    else:
        body = _value_schema(model_field)
        if model_field.primary_key:
            body["description"] = "Stable id; other records refer to this record by it."
    if nullable:
        body = _nullable(body)
    return {**described, **body}


def _nullable(body: dict) -> dict:
    if not body:  # any JSON value, null included
        return body
    body = dict(body)
    if "enum" in body:
        body["enum"] = [*body["enum"], None]
    kind = body.get("type")
    if isinstance(kind, str):
        body["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        body["type"] = [*kind, "null"]
    elif kind is None:
        body = {"anyOf": [body, {"type": "null"}]}
    return body


def _value_schema(model_field: models.Field) -> dict:
    internal = model_field.get_internal_type()
    if internal in _INTEGER_TYPES:
        body: dict = {"type": "integer"}
        if internal.startswith("Positive"):
            body["minimum"] = 0
    elif internal == "BooleanField":
        body = {"type": "boolean"}
    elif internal == "FloatField":
        body = {"type": "number"}
    elif internal == "DecimalField":
        decimal_field = cast(models.DecimalField, model_field)  # what its internal type says
        whole = decimal_field.max_digits - decimal_field.decimal_places
        places = decimal_field.decimal_places
        fraction = rf"\.\d{{{places}}}" if places else ""
        body = {
            "type": "string",
            "pattern": rf"^-?\d{{1,{whole}}}{fraction}$",
            "description": f"Exact decimal with {places} decimal places, as a string.",
        }
    elif internal == "DateTimeField":
        body = {"type": "string", "pattern": TIME_PATTERN, "description": "UTC time."}
    elif internal == "DateField":
        body = {"type": "string", "pattern": DATE_PATTERN}
    elif internal in ("TimeField", "DurationField"):
        body = {"type": "string"}
    elif internal == "UUIDField":
        body = {"type": "string", "pattern": UUID_PATTERN}
    elif internal == "BinaryField":
        body = {"type": "string", "contentEncoding": "base64"}
    elif internal == "JSONField":
        body = {}
    elif internal in _STRING_TYPES:
        body = {"type": "string"}
        if getattr(model_field, "max_length", None):
            body["maxLength"] = model_field.max_length
    else:
        body = {"type": "string"}
    if model_field.choices and "type" in body:
        body["enum"] = [value for value, _label in model_field.flatchoices]
    return body


def all_entity_schemas() -> dict[str, dict]:
    """file name -> schema, for every entity of the current models."""
    return {schema_filename(entity): entity_schema(entity) for entity in entities()}


def manifest_schema() -> dict:
    return json.loads((SCHEMAS_PATH / MANIFEST_SCHEMA_NAME).read_text())


def schema_bytes(schema: dict) -> bytes:
    """How a schema file is written: stable key order, two-space indent, final newline."""
    return (json.dumps(schema, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_schema_files(directory: Path = SCHEMAS_PATH) -> list[str]:
    """Rewrite the generated schema files (the manifest's is hand-written and kept);
    delete generated files of entities that no longer exist. Returns the names written."""
    directory.mkdir(parents=True, exist_ok=True)
    generated = all_entity_schemas()
    for stale in directory.glob("*.schema.json"):
        if stale.name != MANIFEST_SCHEMA_NAME and stale.name not in generated:
            stale.unlink()
    for name, schema in generated.items():
        (directory / name).write_bytes(schema_bytes(schema))
    return sorted(generated)


def stale_schema_files(directory: Path = SCHEMAS_PATH) -> list[str]:
    """Names of schema files that differ from what the models generate (or are missing or
    left over)."""
    generated = all_entity_schemas()
    stale = []
    for name, schema in generated.items():
        path = directory / name
        if not path.exists() or path.read_bytes() != schema_bytes(schema):
            stale.append(name)
    for existing in directory.glob("*.schema.json"):
        if existing.name != MANIFEST_SCHEMA_NAME and existing.name not in generated:
            stale.append(existing.name)
    return sorted(stale)
