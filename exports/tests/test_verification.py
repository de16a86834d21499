"""A corrupt or tampered archive is refused with a clear message, exit status 1, and nothing
is created: no workspace, no schema, no stored files."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_exists

from exports import importer, reader
from exports.archive import manifest_signature
from exports.tests.conftest import stored_files
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

SLUG = "acme-restore"


@pytest.fixture
def archive(acme, run_export, archive_copy):
    return archive_copy(run_export(acme), "good.zip")


def _rewrite(source, target, *, replace=None, drop=(), add=None, manifest=None, resign=False):
    """Copy a ZIP member by member, changing what the test asks for."""
    replace = replace or {}
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if info.filename in drop:
                continue
            data = replace.get(info.filename, old.read(info.filename))
            if info.filename == "manifest.json" and manifest is not None:
                edited = manifest(json.loads(data))
                if resign:
                    edited["signature"] = manifest_signature(edited)
                data = json.dumps(edited).encode()
            new.writestr(info, data)
        for name, data in (add or {}).items():
            new.writestr(name, data)
    return target


def _member(path, name) -> bytes:
    with zipfile.ZipFile(path) as zip_file:
        return zip_file.read(name)


def _first_file(path) -> str:
    with zipfile.ZipFile(path) as zip_file:
        return next(name for name in zip_file.namelist() if name.startswith("files/"))


def _assert_refused(path, message_start: str, *args: str) -> None:
    with pytest.raises(CommandError) as refused:
        call_command("import_workspace", str(path), "--slug", SLUG, *args, stdout=io.StringIO())
    assert str(refused.value).startswith("Refused: " + message_start), str(refused.value)
    assert not Tenant.objects.filter(slug=SLUG).exists()
    assert not schema_exists("ws_acme_restore")
    assert stored_files("ws_acme_restore") == []


def test_the_untouched_archive_verifies(archive):
    verified = reader.archive_verify(archive)
    assert verified.signed
    assert verified.manifest["workspace"]["slug"] == "acme"


def test_a_flipped_byte_in_a_record_file_is_refused(archive, tmp_path):
    data = bytearray(_member(archive, "data/shop.company.jsonl"))
    data[10] ^= 0x01
    bad = _rewrite(archive, tmp_path / "bad.zip", replace={"data/shop.company.jsonl": bytes(data)})

    _assert_refused(bad, reader.REFUSED_CHECKSUM.format(path="data/shop.company.jsonl"))


def test_a_flipped_byte_in_the_raw_zip_is_refused(archive, tmp_path):
    raw = bytearray(archive.read_bytes())
    name = _first_file(archive)
    with zipfile.ZipFile(archive) as zip_file:
        info = zip_file.getinfo(name)
    # A stored (not compressed) member's bytes start after its local header, whose name and
    # extra-field lengths are at offsets 26 and 28.
    name_length = int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_length = int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_length + extra_length
    raw[start + 5] ^= 0xFF
    bad = tmp_path / "flipped.zip"
    bad.write_bytes(bytes(raw))

    _assert_refused(bad, reader.REFUSED_CHECKSUM.format(path=name))


def test_a_removed_file_is_refused(archive, tmp_path):
    name = _first_file(archive)
    bad = _rewrite(archive, tmp_path / "bad.zip", drop={name})

    _assert_refused(bad, reader.REFUSED_MEMBER_MISSING.format(path=name))


def test_an_added_member_is_refused(archive, tmp_path):
    bad = _rewrite(archive, tmp_path / "bad.zip", add={"files/extra": b"surprise"})

    _assert_refused(bad, reader.REFUSED_MEMBER_UNLISTED.format(path="files/extra"))


def test_an_edited_manifest_is_refused(archive, tmp_path):
    def edit(manifest):
        manifest["entities"]["shop.company"]["count"] += 1
        return manifest

    bad = _rewrite(archive, tmp_path / "bad.zip", manifest=edit)

    _assert_refused(bad, reader.REFUSED_SIGNATURE[:40])


def test_an_edited_member_with_a_matching_edited_manifest_is_refused(archive, tmp_path):
    """Rewriting a record and its checksum together needs the installation's key."""
    data = _member(archive, "data/shop.company.jsonl").replace(b"Acme Customer One", b"Evil Corp")

    def edit(manifest):
        manifest["checksums"]["data/shop.company.jsonl"] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
        return manifest

    bad = _rewrite(
        archive, tmp_path / "bad.zip", replace={"data/shop.company.jsonl": data}, manifest=edit
    )

    _assert_refused(bad, reader.REFUSED_SIGNATURE[:40])


def test_a_foreign_archive_is_still_checked_member_by_member(archive, tmp_path):
    def edit(manifest):
        manifest["entities"]["shop.company"]["count"] += 1
        manifest["signature"] = "made-elsewhere"
        return manifest

    bad = _rewrite(archive, tmp_path / "bad.zip", manifest=edit)

    _assert_refused(
        bad,
        reader.REFUSED_COUNT.format(path="data/shop.company.jsonl", found=3, expected=4),
        "--allow-foreign",
    )


def test_a_rewritten_audit_event_is_refused_even_with_consistent_checksums(archive, tmp_path):
    events = _member(archive, "data/audit.auditevent.jsonl").splitlines()
    first = json.loads(events[0])
    first["actor_name"] = "Someone Else"
    data = b"\n".join([json.dumps(first).encode(), *events[1:]]) + b"\n"

    def edit(manifest):
        manifest["checksums"]["data/audit.auditevent.jsonl"] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
        return manifest

    bad = _rewrite(
        archive,
        tmp_path / "bad.zip",
        replace={"data/audit.auditevent.jsonl": data},
        manifest=edit,
        resign=True,  # even an attacker with the key cannot forge the chain
    )

    _assert_refused(bad, "The archive's audit stream does not verify at event #1")


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    bad = tmp_path / "notes.zip"
    bad.write_text("hello")

    _assert_refused(bad, reader.REFUSED_NOT_ZIP)


def test_an_archive_without_manifest_is_refused(archive, tmp_path):
    bad = _rewrite(archive, tmp_path / "bad.zip", drop={"manifest.json"})

    _assert_refused(bad, reader.REFUSED_NO_MANIFEST)


def test_an_archive_from_a_newer_version_is_refused(archive, tmp_path):
    def edit(manifest):
        manifest["schema_versions"]["shop"] = ["9999_from_the_future"]
        return manifest

    bad = _rewrite(archive, tmp_path / "bad.zip", manifest=edit, resign=True)

    _assert_refused(bad, "The archive was written by a newer version")


def test_an_import_that_fails_half_way_leaves_no_workspace_and_no_files(archive, monkeypatch):
    loaded = []
    real_load = importer._load_entity

    def load_then_fail(zip_file, entity, **kwargs):
        count = real_load(zip_file, entity, **kwargs)
        loaded.append(entity.label)
        if entity.label == "shop.storedfile":
            raise importer.ImportRefused("simulated failure after the files were copied")
        return count

    monkeypatch.setattr(importer, "_load_entity", load_then_fail)

    _assert_refused(archive, "simulated failure")
    assert "shop.storedfile" in loaded


def _replace_with_checksum(archive, target, name, data):
    def edit(manifest):
        manifest["checksums"][name] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
        manifest["signature"] = "made-elsewhere"
        return manifest

    return _rewrite(archive, target, replace={name: data}, manifest=edit)


def test_a_member_name_that_climbs_out_of_the_prefix_is_refused(archive, tmp_path):
    evil = "files/../../ws_acme/files/planted"

    def edit(manifest):
        manifest["checksums"][evil] = {"sha256": hashlib.sha256(b"x").hexdigest(), "size": 1}
        manifest["signature"] = "made-elsewhere"
        return manifest

    bad = _rewrite(archive, tmp_path / "bad.zip", add={evil: b"x"}, manifest=edit)

    _assert_refused(bad, reader.REFUSED_UNSAFE_NAME.format(path=evil), "--allow-foreign")


def test_a_record_naming_a_file_the_archive_lacks_is_refused(archive, tmp_path):
    name = "data/shop.storedfile.jsonl"
    lines = _member(archive, name).splitlines()
    first = json.loads(lines[0])
    first["storage_key"] = "files/not-in-the-archive"
    data = b"\n".join([json.dumps(first).encode(), *lines[1:]]) + b"\n"
    bad = _replace_with_checksum(archive, tmp_path / "bad.zip", name, data)

    _assert_refused(
        bad,
        importer.IMPORT_FILE_NOT_IN_ARCHIVE.format(path="files/not-in-the-archive"),
        "--allow-foreign",
    )


def test_records_that_do_not_fit_together_are_refused_before_anything_is_written(archive, tmp_path):
    name = "data/shop.contact.jsonl"
    contact = json.loads(_member(archive, name))
    contact["company"] = 999_999
    data = json.dumps(contact).encode() + b"\n"
    bad = _replace_with_checksum(archive, tmp_path / "bad.zip", name, data)

    _assert_refused(
        bad,
        f"shop.contact {contact['id']} (record 1 of {name}) refers in company to shop.company "
        "999999, which the archive does not hold.",
        "--allow-foreign",
    )


def test_a_rule_only_the_database_knows_is_still_refused_with_its_reason(archive, monkeypatch):
    # A rule records_check cannot see (here: it is told to see none) is refused by
    # PostgreSQL while the records are copied, and the transaction leaves nothing behind.
    monkeypatch.setattr(importer, "records_check", lambda *args, **kwargs: None)
    name = "data/shop.company.jsonl"
    companies = _member(archive, name).splitlines()
    data = b"\n".join([*companies, companies[0]]) + b"\n"

    def edit(manifest):
        manifest["checksums"][name] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
        manifest["entities"]["shop.company"]["count"] = len(companies) + 1
        manifest["signature"] = "made-elsewhere"
        return manifest

    bad = _rewrite(archive, archive.with_name("dup.zip"), replace={name: data}, manifest=edit)

    _assert_refused(
        bad,
        "The database refused the archive's records (duplicate key value violates unique "
        'constraint "shop_company_pkey").',
        "--allow-foreign",
    )
