"""The format: every tenant model is exported, and a real archive matches the documented
JSON Schemas (the files in exports/schemas/, linked from docs/export-format.md)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import models
from jsonschema import Draft202012Validator

from exports import schema_files
from exports.format import (
    EXCLUDED_MODELS,
    PLATFORM_ENTITIES,
    decode_value,
    encode_value,
    entities,
    file_member_path,
    file_storage_key,
    tenant_models,
)

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "export-format.md"


def _manifest_and_zip(path):
    zip_file = zipfile.ZipFile(path)
    return json.loads(zip_file.read("manifest.json")), zip_file


def test_every_concrete_tenant_model_is_in_the_manifest_except_documented_exclusions(
    acme, run_export, archive_copy
):
    manifest, _ = _manifest_and_zip(archive_copy(run_export(acme)))

    tenant_labels = {model._meta.label_lower for model in tenant_models()}
    assert {"shop.company", "shop.storedfile", "audit.auditevent"} <= tenant_labels
    assert set(manifest["entities"]) == (tenant_labels - set(EXCLUDED_MODELS)) | set(
        PLATFORM_ENTITIES
    )
    assert set(EXCLUDED_MODELS) <= tenant_labels  # no stale exclusion
    documented = DOCS.read_text()
    for label in EXCLUDED_MODELS:
        assert f"`{label}`" in documented, f"{label} is excluded but not documented"


def test_stored_schema_files_are_what_the_models_generate():
    assert schema_files.stale_schema_files() == [], (
        "exports/schemas/ is out of date with the models: run manage.py export_schemas"
    )


def test_docs_link_every_schema_file():
    documented = DOCS.read_text()
    for entity in entities():
        assert f"exports/schemas/{entity.label}.schema.json" in documented, entity.label
    assert "exports/schemas/manifest.schema.json" in documented


def test_a_real_export_validates_against_the_documented_json_schemas(
    acme, run_export, archive_copy
):
    manifest, zip_file = _manifest_and_zip(archive_copy(run_export(acme)))
    schemas_dir = schema_files.SCHEMAS_PATH

    manifest_schema = json.loads((schemas_dir / "manifest.schema.json").read_text())
    Draft202012Validator.check_schema(manifest_schema)
    Draft202012Validator(manifest_schema).validate(manifest)
    validated = 0
    for label, entry in manifest["entities"].items():
        schema = json.loads((schemas_dir / f"{label}.schema.json").read_text())
        Draft202012Validator.check_schema(schema)
        validator = Draft202012Validator(schema)
        lines = zip_file.read(entry["path"]).decode().splitlines()
        assert len(lines) == entry["count"]
        for line in lines:
            errors = sorted(validator.iter_errors(json.loads(line)), key=str)
            assert errors == [], f"{label}: {errors[0].message}"
            validated += 1
    assert validated > 50
    assert manifest["entities"]["shop.storedfile"]["count"] == 5
    assert manifest["entities"]["desk.ticketattachment"]["count"] == 2 * 3
    assert manifest["entities"]["docrequests.upload"]["count"] == 2  # one per customer company
    assert manifest["files"]["count"] == 5 + 2 * 3 + 2


def test_the_archive_carries_the_schemas_it_was_written_with(acme, run_export, archive_copy):
    manifest, zip_file = _manifest_and_zip(archive_copy(run_export(acme)))

    for label, entry in manifest["entities"].items():
        carried = json.loads(zip_file.read(entry["schema"]))
        stored = json.loads((schema_files.SCHEMAS_PATH / f"{label}.schema.json").read_text())
        assert carried == stored
    assert "schemas/manifest.schema.json" in manifest["checksums"]


def test_a_schema_refuses_a_record_with_a_missing_or_unknown_field():
    schema = json.loads((schema_files.SCHEMAS_PATH / "shop.company.schema.json").read_text())
    validator = Draft202012Validator(schema)
    record = {
        "id": 1, "name": "A", "email": "", "phone": "", "billing_address": "",
        "site_address": "", "notes": "", "created_at": "2025-01-01T00:00:00.000000Z",
        "updated_at": "2025-01-01T00:00:00.000000Z",
    }  # fmt: skip
    assert list(validator.iter_errors(record)) == []
    assert list(validator.iter_errors({**record, "extra": 1}))
    assert list(validator.iter_errors({key: v for key, v in record.items() if key != "name"}))
    assert list(validator.iter_errors({**record, "created_at": "2025-01-01 00:00"}))


@pytest.mark.parametrize(
    ("model_field", "value", "encoded"),
    [
        (models.DecimalField(max_digits=10, decimal_places=2), Decimal("1200.50"), "1200.50"),
        (models.DecimalField(max_digits=10, decimal_places=2), Decimal("1E+2"), "100"),
        (
            models.DateTimeField(),
            dt.datetime(2025, 3, 1, 12, 0, 0, 1, tzinfo=dt.UTC),
            "2025-03-01T12:00:00.000001Z",
        ),
        (models.DateField(), dt.date(2025, 3, 1), "2025-03-01"),
        (models.UUIDField(), uuid.UUID(int=5), "00000000-0000-0000-0000-000000000005"),
        (models.DurationField(), dt.timedelta(days=1, seconds=5), "P1DT00H00M05S"),
        (models.BinaryField(), b"\x00\xff", "AP8="),
        (models.JSONField(), {"a": [1, None]}, {"a": [1, None]}),
        (models.CharField(), "text \u00e9", "text \u00e9"),
        (models.IntegerField(), None, None),
    ],
)
def test_values_encode_to_json_and_decode_to_what_was_stored(model_field, value, encoded):
    assert encode_value(model_field, value) == encoded
    assert decode_value(model_field, encoded) == value


def test_a_storage_key_is_exported_relative_to_the_workspace_and_restored_under_another():
    member = file_member_path("ws_acme", "ws_acme/files/abc")
    assert member == "files/abc"
    assert file_storage_key("ws_copy", member) == "ws_copy/files/abc"
