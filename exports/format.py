"""The export format: which entities an archive holds, and how a field becomes JSON and back.

Invariant: entities are derived from the models, never listed by hand. Every concrete model of
every app in ``settings.TENANT_APPS`` is an entity (auto-created many-to-many tables included)
unless it is named in :data:`EXCLUDED_MODELS` with the reason; a new shop model is therefore
exported, imported and given a JSON Schema without touching this module. Encoding is
deterministic and lossless: the same rows always give the same bytes, and decoding a value
gives back exactly what was stored. docs/export-format.md describes the result.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models.fields.related import RelatedField
from django.utils.dateparse import parse_duration
from django.utils.duration import duration_iso_string

from kernel.plugins import declarations

FORMAT_NAME = "shopsafe.workspace-export"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
DATA_DIR = "data/"
FILES_DIR = "files/"
SCHEMAS_DIR = "schemas/"
MANIFEST_SCHEMA_NAME = "manifest.schema.json"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # always UTC, always microseconds

# Tenant models that are not exported, each with the reason (docs/export-format.md lists them).
EXCLUDED_MODELS: dict[str, str] = {
    "contenttypes.contenttype": (
        "a per-schema lookup table Django rebuilds itself; references to it are exported as "
        'natural keys ("app_label.model")'
    ),
    "exports.exportjob": (
        "the export machinery itself (job rows, archive keys, download-token digests); an "
        "archive describes the workspace, not the act of exporting it"
    ),
    "docrequests.linkcode": (
        "digests of the ten-minute one-time codes a document request's client confirms; "
        "they prove nothing once expired"
    ),
    "api.apitoken": (
        "personal API tokens are credentials: an archive restored elsewhere must not carry "
        "them (their creation and revocation stay in the audit log)"
    ),
    "api.idempotentrequest": "a 24-hour replay cache of API responses, not workspace data",
}


# Models that keep a key of ``storages["private"]`` in a plain text column (models.FileField
# columns are recognised by themselves). The key is exported relative to the workspace's
# prefix and the bytes go into the archive under files/.
# Each business app declares its own (``export_file_key_fields``, kernel.plugins).
def file_key_fields() -> dict[str, tuple[str, ...]]:
    return {
        f"{config.label}.{model_name}": tuple(fields)
        for config, declared in declarations("export_file_key_fields")
        for model_name, fields in declared.items()
    }


# Workspace data kept in the public schema: rows of a shared model that belong to this
# workspace. (label -> the field naming the workspace, which is implied and not exported.)
PLATFORM_ENTITIES: dict[str, str] = {
    "rbac.membership": "tenant",
}
# Columns of platform entities that are not exported: their own surrogate id is not the
# workspace's (the public table numbers rows of every workspace).
PLATFORM_SKIPPED_FIELDS = ("id",)


class Kind:
    """How a field is written (see docs/export-format.md, "Values")."""

    VALUE = "value"  # a plain column
    RELATION = "relation"  # a foreign key to another entity: the referenced record's id
    USER = "user"  # a foreign key to a platform user: {"id": ..., "email": ...}
    CONTENT_TYPE = "content_type"  # a foreign key to contenttypes: "app_label.model"
    EXTERNAL = "external"  # any other foreign key: the raw id (not portable)
    FILE = "file"  # a storage key: the archive path of the bytes, "files/..."


@dataclass(frozen=True)
class FieldSpec:
    name: str  # the key in the JSON record
    attname: str  # the column Django reads (company_id for company)
    kind: str
    field: models.Field = field(compare=False)
    target: str = ""  # entity label a RELATION points at

    @property
    def db_constraint(self) -> bool:
        return bool(getattr(self.field, "db_constraint", False))

    @property
    def target_field(self) -> models.Field:
        """For a relation: the target's field whose value the column stores (its key)."""
        if not isinstance(self.field, RelatedField):
            raise TypeError(f"{self.name} is not a relation")
        return self.field.target_field


@dataclass(frozen=True)
class Entity:
    label: str  # "shop.company"
    model: type[models.Model]
    fields: tuple[FieldSpec, ...]
    platform_scope: str = ""  # for PLATFORM_ENTITIES: the field naming the workspace

    @property
    def path(self) -> str:
        return f"{DATA_DIR}{self.label}.jsonl"

    @property
    def schema_path(self) -> str:
        return f"{SCHEMAS_DIR}{self.label}.schema.json"

    @property
    def is_audit_stream(self) -> bool:
        return self.label == AUDIT_ENTITY

    def queryset(self, tenant) -> models.QuerySet:
        manager = self.model._base_manager
        if self.platform_scope:
            order = [spec.attname for spec in self.fields if spec.kind == Kind.USER][:1]
            return manager.filter(**{self.platform_scope: tenant}).order_by(*order, "pk")
        return manager.order_by("pk")


AUDIT_ENTITY = "audit.auditevent"
USER_LABEL = settings.AUTH_USER_MODEL.lower()


def _tenant_app_configs():
    tenant_apps = set(settings.TENANT_APPS)
    return [config for config in apps.get_app_configs() if config.name in tenant_apps]


def tenant_models() -> list[type[models.Model]]:
    """Every concrete model whose table lives in a workspace schema."""
    found = []
    for config in _tenant_app_configs():
        for model in config.get_models(include_auto_created=True):
            meta = model._meta
            if meta.proxy or not meta.managed or meta.swapped:
                continue
            found.append(model)
    return sorted(found, key=lambda model: model._meta.label_lower)


def entities() -> list[Entity]:
    """The entities of an archive, in the order they are written (sorted by label)."""
    tenant_labels = {model._meta.label_lower for model in tenant_models()}
    result = []
    for model in tenant_models():
        label = model._meta.label_lower
        if label in EXCLUDED_MODELS:
            continue
        result.append(Entity(label, model, _field_specs(model, tenant_labels)))
    for label, scope in sorted(PLATFORM_ENTITIES.items()):
        model = apps.get_model(label)
        specs = tuple(
            spec
            for spec in _field_specs(model, tenant_labels)
            if spec.name != scope and spec.name not in PLATFORM_SKIPPED_FIELDS
        )
        result.append(Entity(label, model, specs, platform_scope=scope))
    return result


def entity_for(label: str) -> Entity | None:
    return next((entity for entity in entities() if entity.label == label), None)


def _field_specs(model: type[models.Model], tenant_labels: set[str]) -> tuple[FieldSpec, ...]:
    label = model._meta.label_lower
    file_keys = file_key_fields().get(label, ())
    specs = []
    for model_field in model._meta.concrete_fields:
        name, attname = model_field.name, model_field.attname
        if model_field.is_relation:
            related_model = model_field.related_model
            assert related_model is not None  # noqa: S101 - a concrete relation has a target
            target = related_model._meta.label_lower
            if target == USER_LABEL:
                kind = Kind.USER
            elif target == "contenttypes.contenttype":
                kind = Kind.CONTENT_TYPE
            elif target in tenant_labels:
                kind = Kind.RELATION
            else:
                kind = Kind.EXTERNAL
            specs.append(FieldSpec(name, attname, kind, model_field, target=target))
        elif isinstance(model_field, models.FileField) or name in file_keys:
            specs.append(FieldSpec(name, attname, Kind.FILE, model_field))
        else:
            specs.append(FieldSpec(name, attname, Kind.VALUE, model_field))
    return tuple(specs)


# --- Values -------------------------------------------------------------------------------


def format_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime(TIME_FORMAT)


def parse_time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time without a zone: {value!r}")
    return parsed.astimezone(dt.UTC)


def encode_value(model_field: models.Field, value: Any) -> Any:
    """A stored column value as JSON (plain columns only; relations are handled by the
    caller)."""
    if value is None:
        return None
    internal = model_field.get_internal_type()
    if internal == "DecimalField":
        return format(value, "f")
    if internal == "DateTimeField":
        return format_time(value)
    if internal == "DateField":
        return value.isoformat()
    if internal == "TimeField":
        return value.isoformat()
    if internal == "DurationField":
        return duration_iso_string(value)
    if internal == "UUIDField":
        return str(value)
    if internal == "BinaryField":
        return base64.b64encode(bytes(value)).decode("ascii")
    if internal == "JSONField":
        return value
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _parse_decimal(value: str) -> Decimal:
    if not isinstance(value, str):
        raise TypeError("a decimal is written as a string")
    return Decimal(value)


def _parse_duration(value: str) -> dt.timedelta:
    parsed = parse_duration(value)
    if parsed is None:
        raise ValueError(f"not a duration: {value!r}")
    return parsed


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "DecimalField": _parse_decimal,
    "DateTimeField": parse_time,
    "DateField": dt.date.fromisoformat,
    "TimeField": dt.time.fromisoformat,
    "DurationField": _parse_duration,
    "UUIDField": uuid.UUID,
    "BinaryField": base64.b64decode,
}


def value_decoder(model_field: models.Field) -> Callable[[Any], Any]:
    """The inverse of :func:`encode_value` for one field (``None`` stays ``None``)."""
    decoder = _DECODERS.get(model_field.get_internal_type())
    if decoder is None:
        return lambda value: value
    return lambda value: None if value is None else decoder(value)


def decode_value(model_field: models.Field, value: Any) -> Any:
    """The inverse of :func:`encode_value`."""
    return value_decoder(model_field)(value)


def file_member_path(schema_name: str, key: str) -> str:
    """The archive path of a stored object: its key relative to the workspace's prefix,
    under files/. ``ws_acme/files/<uuid>`` -> ``files/<uuid>``."""
    relative = key.removeprefix(f"{schema_name}/")
    return FILES_DIR + relative.removeprefix(FILES_DIR)


def file_storage_key(schema_name: str, member_path: str) -> str:
    """The inverse of :func:`file_member_path` for another (or the same) workspace."""
    return f"{schema_name}/{member_path}"
