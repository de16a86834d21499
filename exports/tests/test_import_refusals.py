"""An archive whose records break a rule of the database (a repeated id or unique value, a
reference to a record it does not hold, a value its column cannot take) or an address that is
taken is refused with a message naming the entity and the id, before anything is written: no
workspace row, no schema, no stored file, and provisioning is never even called."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_exists

from exports import importer, reader
from exports.tests.conftest import stored_files
from tenants.models import Tenant
from tenants.services import SLUG_TAKEN

pytestmark = pytest.mark.django_db

SLUG = "acme-restore"


@pytest.fixture
def archive(acme, run_export, archive_copy):
    return archive_copy(run_export(acme), "good.zip")


@pytest.fixture
def provisioning_calls(monkeypatch):
    """Every call to provisioning the import makes (the first thing it writes)."""
    calls: list[str] = []
    real = importer.tenant_provision

    def recorded(**kwargs):
        calls.append(kwargs["slug"])
        return real(**kwargs)

    monkeypatch.setattr(importer, "tenant_provision", recorded)
    return calls


def _records(archive, label: str) -> list[dict]:
    with zipfile.ZipFile(archive) as zip_file:
        return [json.loads(line) for line in zip_file.read(f"data/{label}.jsonl").splitlines()]


def _with_records(archive, target, label: str, rows: list[dict]):
    """The archive with ``label``'s records replaced by ``rows``: checksum and count made to
    match, as a hand-made or foreign archive would (hence unsigned: --allow-foreign)."""
    name = f"data/{label}.jsonl"
    data = b"".join(json.dumps(row).encode() + b"\n" for row in rows)
    with zipfile.ZipFile(archive) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            content = old.read(info.filename)
            if info.filename == name:
                content = data
            elif info.filename == "manifest.json":
                manifest = json.loads(content)
                manifest["checksums"][name] = {
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                }
                manifest["entities"][label]["count"] = len(rows)
                manifest["signature"] = "made-elsewhere"
                content = json.dumps(manifest).encode()
            new.writestr(info, content)
    return target


def _assert_refused_before_writing(path, message: str, provisioning_calls, *args: str) -> None:
    with pytest.raises(CommandError) as refused:
        call_command(
            "import_workspace", str(path), "--slug", SLUG, "--allow-foreign", *args,
            stdout=io.StringIO(),
        )  # fmt: skip
    assert str(refused.value) == f"Refused: {message}"
    assert provisioning_calls == []
    assert not Tenant.objects.filter(slug=SLUG).exists()
    assert not schema_exists("ws_acme_restore")
    assert stored_files("ws_acme_restore") == []


def test_a_repeated_id_within_an_entity_is_refused_naming_the_entity_and_id(
    archive, tmp_path, provisioning_calls
):
    companies = _records(archive, "shop.company")
    twin = {**companies[1], "id": companies[0]["id"], "name": "Same id, other company"}
    bad = _with_records(archive, tmp_path / "bad.zip", "shop.company", [*companies, twin])

    _assert_refused_before_writing(
        bad,
        f"The archive holds shop.company {companies[0]['id']} twice (records 1 and "
        f"{len(companies) + 1} of data/shop.company.jsonl): ids must be unique. "
        "Nothing was imported.",
        provisioning_calls,
    )


def test_a_repeated_unique_value_is_refused_naming_both_records(
    archive, tmp_path, provisioning_calls
):
    quotes = _records(archive, "shop.quote")
    quotes[1]["number"] = quotes[0]["number"]
    bad = _with_records(archive, tmp_path / "bad.zip", "shop.quote", quotes)

    _assert_refused_before_writing(
        bad,
        f"shop.quote {quotes[1]['id']} (record 2 of data/shop.quote.jsonl) has the same "
        f"number ({quotes[0]['number']!r}) as shop.quote {quotes[0]['id']} (record 1 of "
        "data/shop.quote.jsonl): number must be unique. Nothing was imported.",
        provisioning_calls,
    )


def test_a_repeated_value_of_a_unique_constraint_is_refused(archive, tmp_path, provisioning_calls):
    lines = _records(archive, "shop.quoteline")
    first, second = lines[0], next(line for line in lines[1:] if line["quote"] == lines[0]["quote"])
    second["position"] = first["position"]
    bad = _with_records(archive, tmp_path / "bad.zip", "shop.quoteline", lines)

    _assert_refused_before_writing(
        bad,
        f"shop.quoteline {second['id']} (record {lines.index(second) + 1} of "
        f"data/shop.quoteline.jsonl) has the same quote, position ({first['quote']!r}, "
        f"{first['position']!r}) as shop.quoteline {first['id']} (record 1 of "
        "data/shop.quoteline.jsonl): quote, position must be unique. Nothing was imported.",
        provisioning_calls,
    )


def test_a_live_invoice_beside_another_for_the_same_order_is_refused(
    archive, tmp_path, provisioning_calls
):
    invoices = _records(archive, "shop.invoice")
    twin = {**invoices[0], "id": 999, "number": "INV-99999"}
    bad = _with_records(archive, tmp_path / "bad.zip", "shop.invoice", [*invoices, twin])

    _assert_refused_before_writing(
        bad,
        f"shop.invoice 999 (record {len(invoices) + 1} of data/shop.invoice.jsonl) has the "
        f"same order ({invoices[0]['order']!r}) as shop.invoice {invoices[0]['id']} (record 1 "
        "of data/shop.invoice.jsonl): order must be unique (invoice_one_live_invoice_per_order)"
        ". Nothing was imported.",
        provisioning_calls,
    )


def test_a_reference_to_a_record_the_archive_lacks_is_refused(
    archive, tmp_path, provisioning_calls
):
    contacts = _records(archive, "shop.contact")
    contacts[0]["company"] = 999_999
    bad = _with_records(archive, tmp_path / "bad.zip", "shop.contact", contacts)

    _assert_refused_before_writing(
        bad,
        f"shop.contact {contacts[0]['id']} (record 1 of data/shop.contact.jsonl) refers in "
        "company to shop.company 999999, which the archive does not hold. Nothing was imported.",
        provisioning_calls,
    )


@pytest.mark.parametrize(
    ("label", "field", "value", "problem"),
    [
        ("shop.company", "name", "x" * 201, "is longer than 200 characters"),
        ("shop.company", "notes", "before\x00after", "holds a NUL character"),
        ("shop.company", "name", None, "is empty, and must have a value"),
        ("shop.company", "name", 42, "is not text"),
        ("shop.quoteline", "position", -1, "is outside 0 to 2147483647"),
        ("shop.quoteline", "position", 2**40, "is outside 0 to 2147483647"),
        ("shop.quoteline", "position", "first", "is not a whole number"),
        ("shop.quoteline", "quantity", "12345678.00", "does not fit 9 digits with 2 decimals"),
        ("shop.quoteline", "quantity", "NaN", "is not a number"),
        ("shop.contact", "company", "three", "is not a whole number"),
    ],
)
def test_a_value_its_column_cannot_take_is_refused(
    archive, tmp_path, provisioning_calls, label, field, value, problem
):
    rows = _records(archive, label)
    rows[0][field] = value
    bad = _with_records(archive, tmp_path / "bad.zip", label, rows)

    _assert_refused_before_writing(
        bad,
        f"{label} {rows[0]['id']} (record 1 of data/{label}.jsonl) cannot be imported: its "
        f"{field} {problem}. Nothing was imported.",
        provisioning_calls,
    )


@pytest.mark.parametrize(
    ("label", "changes", "rule"),
    [
        (
            "shop.quote",
            {
                "status": "bogus",
                "sent_at": "2026-01-02T10:00:00.000000Z",
                "responded_at": "2026-01-03T10:00:00.000000Z",
            },
            "the rule quote_status_known",
        ),
        (
            "shop.quote",
            {"status": "accepted"},
            "the rules quote_sent_has_sent_at, quote_response_has_responded_at",
        ),
        ("shop.quote", {"tax_rate": "101.00"}, "the rule quote_tax_rate_0_to_100"),
        ("shop.quoteline", {"quantity": "0.00"}, "the rule quoteline_quantity_positive"),
        ("shop.invoice", {"due_date": "2000-01-01"}, "the rule invoice_due_not_before_issue"),
    ],
)
def test_a_record_breaking_a_check_rule_is_refused(
    archive, tmp_path, provisioning_calls, label, changes, rule
):
    rows = _records(archive, label)
    rows[0].update(changes)
    bad = _with_records(archive, tmp_path / "bad.zip", label, rows)

    _assert_refused_before_writing(
        bad,
        f"{label} {rows[0]['id']} (record 1 of data/{label}.jsonl) breaks {rule}. "
        "Nothing was imported.",
        provisioning_calls,
    )


def test_a_record_naming_a_file_the_archive_lacks_is_refused_before_any_file_is_stored(
    archive, tmp_path, provisioning_calls
):
    files = _records(archive, "shop.storedfile")
    files[-1]["storage_key"] = "files/not-in-the-archive"
    bad = _with_records(archive, tmp_path / "bad.zip", "shop.storedfile", files)

    _assert_refused_before_writing(
        bad,
        importer.IMPORT_FILE_NOT_IN_ARCHIVE.format(path="files/not-in-the-archive"),
        provisioning_calls,
    )


def test_a_record_that_cannot_be_read_is_refused_before_anything_is_written(
    archive, tmp_path, provisioning_calls
):
    companies = _records(archive, "shop.company")
    companies[0]["created_at"] = "yesterday"
    bad = _with_records(archive, tmp_path / "bad.zip", "shop.company", companies)

    _assert_refused_before_writing(
        bad,
        reader.REFUSED_RECORD.format(
            line=1, path="data/shop.company.jsonl", problem="bad value for created_at"
        ),
        provisioning_calls,
    )


def test_restored_members_naming_one_account_twice_are_refused(
    archive, tmp_path, provisioning_calls
):
    members = _records(archive, "rbac.membership")
    twin = {**members[1], "user": members[0]["user"]}
    bad = _with_records(archive, tmp_path / "bad.zip", "rbac.membership", [*members, twin])

    _assert_refused_before_writing(
        bad,
        f"rbac.membership (record {len(members) + 1} of data/rbac.membership.jsonl) has the "
        f"same user ({members[0]['user']['email']!r}) as rbac.membership (record 1 of "
        "data/rbac.membership.jsonl): user must be unique. Nothing was imported.",
        provisioning_calls,
        "--restore-members",
    )


def test_an_address_that_is_taken_is_refused_before_anything_is_written(
    archive, provisioning_calls
):
    with pytest.raises(CommandError) as refused:
        call_command("import_workspace", str(archive), "--slug", "acme", stdout=io.StringIO())

    assert str(refused.value) == f"--slug acme: {SLUG_TAKEN}"
    assert provisioning_calls == []


def test_the_import_service_refuses_a_taken_address_with_a_message_too(archive, provisioning_calls):
    verified = reader.archive_verify(archive)

    with pytest.raises(importer.ImportRefused) as refused:
        importer.workspace_import(archive=verified, slug="acme")

    assert str(refused.value) == f"{SLUG_TAKEN} Nothing was imported."
    assert provisioning_calls == []
    assert Tenant.objects.filter(slug="acme").count() == 1
