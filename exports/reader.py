"""Reading an export archive back: verification first, then records one at a time.

Invariant: :func:`archive_verify` reads every member completely before anything is created,
and refuses (``ArchiveRefused`` with a message a person can act on) an archive that is not a
ZIP, lacks or has an edited manifest, misses a listed member, holds an unlisted one, has a
member whose size or SHA-256 differs, holds a different number of records than the manifest
says, names an entity or a migration this installation does not know, or whose audit stream
does not verify as a hash chain. Reading is streamed: memory does not grow with the archive.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from django.db.migrations.loader import MigrationLoader

from audit.chain import chain_verify
from audit.keys import chain_keys

from .archive import COPY_BLOCK_BYTES, manifest_signature_valid
from .format import (
    AUDIT_ENTITY,
    DATA_DIR,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST_NAME,
    Entity,
    Kind,
    entity_for,
    value_decoder,
)

SUPPORTED_VERSIONS = (FORMAT_VERSION,)
MANIFEST_MAX_BYTES = 256 * 1024 * 1024

REFUSED_NOT_ZIP = "This file is not a readable ZIP archive: it is damaged, or not an export."
REFUSED_DUPLICATE = "The archive holds {path} more than once, so it was altered."
REFUSED_NO_MANIFEST = "The archive has no manifest.json, so it is not a workspace export."
REFUSED_MANIFEST_UNREADABLE = "manifest.json is not readable JSON: the archive is damaged."
REFUSED_MANIFEST_SHAPE = "manifest.json is malformed ({problem}): the archive is damaged."
REFUSED_FORMAT = "This is not a workspace export of this product (format {format!r})."
REFUSED_VERSION = (
    "The archive uses export format version {version}; this installation reads version {supported}."
)
REFUSED_SIGNATURE = (
    "manifest.json does not carry this installation's signature: it was edited after the "
    "export, or the archive was made by another installation. If it comes from another "
    "installation and its SHA-256 matches the one shown when it was exported, pass "
    "--allow-foreign."
)
REFUSED_NEWER_MIGRATION = (
    "The archive was written by a newer version (migration {app}.{name} is unknown here). "
    "Upgrade this installation before importing it."
)
REFUSED_UNKNOWN_ENTITY = (
    "The archive holds records of {label}, which this installation does not know. Upgrade "
    "this installation before importing it."
)
REFUSED_MEMBER_MISSING = "The archive is incomplete: {path} is listed in the manifest but missing."
REFUSED_MEMBER_UNLISTED = "The archive holds {path}, which its manifest does not list."
REFUSED_SIZE = "{path} has {found} bytes but the manifest says {expected}: the archive was altered."
REFUSED_CHECKSUM = (
    "{path} does not match its SHA-256 in the manifest: the archive is corrupt or was altered."
)
REFUSED_COUNT = "{path} holds {found} records but the manifest says {expected}."
REFUSED_RECORD = "Record {line} of {path} cannot be read: {problem}."
REFUSED_AUDIT_CHAIN = (
    "The archive's audit stream does not verify at event #{sequence}: {reason}. It was altered."
)


REFUSED_UNSAFE_NAME = "The archive holds a member named {path!r}, which is not a safe path."
_SAFE_MEMBER = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$")


class ArchiveRefused(Exception):
    """The archive cannot be imported; ``str(error)`` says why, for a person to read."""


@dataclass(frozen=True)
class VerifiedArchive:
    """An archive whose every member matched its manifest when it was verified."""

    path: Path
    manifest: dict
    signed: bool

    def open(self) -> zipfile.ZipFile:
        return zipfile.ZipFile(self.path)

    @property
    def entity_labels(self) -> list[str]:
        return list(self.manifest["entities"])

    @property
    def missing_files(self) -> set[str]:
        return set(self.manifest["files"].get("missing", []))


def archive_verify(path: str | Path, *, allow_foreign: bool = False) -> VerifiedArchive:
    """Check the whole archive; return it verified or raise ArchiveRefused."""
    path = Path(path)
    try:
        zip_file = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ArchiveRefused(REFUSED_NOT_ZIP) from error
    with zip_file:
        names = zip_file.namelist()
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ArchiveRefused(REFUSED_DUPLICATE.format(path=name))
            seen.add(name)
        manifest = _read_manifest(zip_file, seen)
        signed = manifest_signature_valid(manifest)
        if not signed and not allow_foreign:
            raise ArchiveRefused(REFUSED_SIGNATURE)
        _check_versions(manifest)
        _check_members(zip_file, manifest, seen)
    archive = VerifiedArchive(path=path, manifest=manifest, signed=signed)
    if AUDIT_ENTITY in manifest["entities"]:
        _check_audit_chain(archive)
    return archive


def _read_manifest(zip_file: zipfile.ZipFile, names: set[str]) -> dict:
    if MANIFEST_NAME not in names:
        raise ArchiveRefused(REFUSED_NO_MANIFEST)
    info = zip_file.getinfo(MANIFEST_NAME)
    if info.file_size > MANIFEST_MAX_BYTES:
        raise ArchiveRefused(REFUSED_MANIFEST_SHAPE.format(problem="it is far too large"))
    try:
        manifest = json.loads(zip_file.read(MANIFEST_NAME))
    except (ValueError, zipfile.BadZipFile) as error:
        raise ArchiveRefused(REFUSED_MANIFEST_UNREADABLE) from error
    if not isinstance(manifest, dict):
        raise ArchiveRefused(REFUSED_MANIFEST_SHAPE.format(problem="not an object"))
    if manifest.get("format") != FORMAT_NAME:
        raise ArchiveRefused(REFUSED_FORMAT.format(format=manifest.get("format")))
    if manifest.get("format_version") not in SUPPORTED_VERSIONS:
        raise ArchiveRefused(
            REFUSED_VERSION.format(
                version=manifest.get("format_version"),
                supported=", ".join(map(str, SUPPORTED_VERSIONS)),
            )
        )
    expected = {
        "entities": dict,
        "checksums": dict,
        "files": dict,
        "workspace": dict,
        "schema_versions": dict,
    }
    for key, kind in expected.items():
        if not isinstance(manifest.get(key), kind):
            raise ArchiveRefused(REFUSED_MANIFEST_SHAPE.format(problem=f"{key!r} is missing"))
    for name, checksum in manifest["checksums"].items():
        if not (
            isinstance(checksum, dict)
            and isinstance(checksum.get("sha256"), str)
            and isinstance(checksum.get("size"), int)
        ):
            raise ArchiveRefused(REFUSED_MANIFEST_SHAPE.format(problem=f"checksum of {name}"))
    for label, entry in manifest["entities"].items():
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("count"), int)
            and isinstance(entry.get("path"), str)
        ):
            raise ArchiveRefused(REFUSED_MANIFEST_SHAPE.format(problem=f"entry of {label}"))
    return manifest


def _check_versions(manifest: dict) -> None:
    known = set(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)
    for app_label, names in manifest["schema_versions"].items():
        for name in names if isinstance(names, list) else []:
            if (app_label, name) not in known:
                raise ArchiveRefused(REFUSED_NEWER_MIGRATION.format(app=app_label, name=name))
    for label, entry in manifest["entities"].items():
        entity = entity_for(label)
        if entity is None:
            raise ArchiveRefused(REFUSED_UNKNOWN_ENTITY.format(label=label))
        if entry["path"] != entity.path:
            raise ArchiveRefused(REFUSED_MANIFEST_SHAPE.format(problem=f"path of {label}"))


def member_name_safe(name: str) -> bool:
    """A relative path of plain segments: nothing that could climb out of a storage prefix."""
    return bool(_SAFE_MEMBER.match(name)) and not any(
        segment in (".", "..") for segment in name.split("/")
    )


def _check_members(zip_file: zipfile.ZipFile, manifest: dict, names: set[str]) -> None:
    checksums: dict[str, dict] = manifest["checksums"]
    missing_files = manifest["files"].get("missing", [])
    if not isinstance(missing_files, list):
        raise ArchiveRefused(REFUSED_MANIFEST_SHAPE.format(problem="files.missing"))
    for name in [*names, *missing_files]:
        if not isinstance(name, str) or not member_name_safe(name):
            raise ArchiveRefused(REFUSED_UNSAFE_NAME.format(path=name))
    for name in sorted(checksums):
        if name not in names:
            raise ArchiveRefused(REFUSED_MEMBER_MISSING.format(path=name))
    for name in sorted(names - {MANIFEST_NAME}):
        if name not in checksums:
            raise ArchiveRefused(REFUSED_MEMBER_UNLISTED.format(path=name))
    counts = {entry["path"]: entry["count"] for entry in manifest["entities"].values()}
    for path in counts:
        if path not in checksums:
            raise ArchiveRefused(REFUSED_MEMBER_MISSING.format(path=path))
    for name, expected in sorted(checksums.items()):
        info = zip_file.getinfo(name)
        if info.file_size != expected["size"]:
            raise ArchiveRefused(
                REFUSED_SIZE.format(path=name, found=info.file_size, expected=expected["size"])
            )
        digest = hashlib.sha256()
        lines = 0
        size = 0
        try:
            with zip_file.open(info) as member:
                for block in iter(partial(member.read, COPY_BLOCK_BYTES), b""):
                    digest.update(block)
                    size += len(block)
                    if size > expected["size"]:
                        break
                    if name in counts:
                        lines += block.count(b"\n")
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            # zipfile checks each member's CRC-32 as it reads and raises on a mismatch.
            raise ArchiveRefused(REFUSED_CHECKSUM.format(path=name)) from error
        if size != expected["size"]:
            raise ArchiveRefused(
                REFUSED_SIZE.format(path=name, found=size, expected=expected["size"])
            )
        if digest.hexdigest() != expected["sha256"]:
            raise ArchiveRefused(REFUSED_CHECKSUM.format(path=name))
        if name in counts and lines != counts[name]:
            raise ArchiveRefused(
                REFUSED_COUNT.format(path=name, found=lines, expected=counts[name])
            )


def records(zip_file: zipfile.ZipFile, entity: Entity) -> Iterator[tuple[int, dict]]:
    """(line number, record) of an entity's JSON Lines, one at a time."""
    with zip_file.open(entity.path) as raw:
        for number, line in enumerate(io.TextIOWrapper(raw, encoding="utf-8"), start=1):
            try:
                record = json.loads(line)
            except ValueError as error:
                raise ArchiveRefused(
                    REFUSED_RECORD.format(line=number, path=entity.path, problem="not JSON")
                ) from error
            if not isinstance(record, dict):
                raise ArchiveRefused(
                    REFUSED_RECORD.format(line=number, path=entity.path, problem="not an object")
                )
            yield number, record


UserResolver = Callable[[Any, Any], Any]  # (FieldSpec, {"id", "email"} | None) -> user id


class RecordDecoder:
    """Turns one entity's records back into column values (keyed by attname), checking that
    each record has exactly the entity's fields. Built once per entity: decoding is the hot
    loop of an import."""

    def __init__(
        self,
        entity: Entity,
        *,
        resolve_user: UserResolver,
        resolve_content_type: Callable[[str], int] | None = None,
        file_key: Callable[[str], str] | None = None,
    ):
        self.entity = entity
        self.names = frozenset(spec.name for spec in entity.fields)
        self.steps = [
            (spec, self._converter(spec, resolve_user, resolve_content_type, file_key))
            for spec in entity.fields
        ]

    @staticmethod
    def _converter(spec, resolve_user, resolve_content_type, file_key) -> Callable[[Any], Any]:
        if spec.kind == Kind.USER:

            def user(value):
                if value is not None and not (isinstance(value, dict) and "id" in value):
                    raise TypeError("user reference")
                return resolve_user(spec, value)

            return user
        if spec.kind == Kind.CONTENT_TYPE:
            if resolve_content_type is None:
                return lambda value: value
            return lambda value: None if value is None else resolve_content_type(value)
        if spec.kind in (Kind.RELATION, Kind.EXTERNAL):
            return value_decoder(spec.field.target_field)
        if spec.kind == Kind.FILE:

            def file(value):
                if not value:
                    return value
                if not isinstance(value, str) or not value.startswith("files/"):
                    raise ValueError("file path")
                return file_key(value) if file_key else value

            return file
        return value_decoder(spec.field)

    def decode(self, record: dict, *, line: int) -> dict[str, Any]:
        path = self.entity.path
        if record.keys() - self.names:
            unknown = ", ".join(sorted(record.keys() - self.names))
            raise ArchiveRefused(
                REFUSED_RECORD.format(line=line, path=path, problem=f"unknown field(s) {unknown}")
            )
        values: dict[str, Any] = {}
        for spec, convert in self.steps:
            if spec.name not in record:
                if spec.field.has_default() or spec.field.null:
                    values[spec.attname] = spec.field.get_default()
                    continue  # an archive from before the field existed
                raise ArchiveRefused(
                    REFUSED_RECORD.format(line=line, path=path, problem=f"no {spec.name}")
                )
            try:
                values[spec.attname] = convert(record[spec.name])
            except ArchiveRefused:
                raise
            except (ValueError, TypeError, KeyError, ArithmeticError) as error:
                raise ArchiveRefused(
                    REFUSED_RECORD.format(
                        line=line, path=path, problem=f"bad value for {spec.name}"
                    )
                ) from error
        return values


def _keep_user_id(spec, value):
    return None if value is None else value["id"]


def _check_audit_chain(archive: VerifiedArchive) -> None:
    entity = entity_for(AUDIT_ENTITY)
    assert entity is not None  # noqa: S101 - audit is a tenant app by design

    decoder = RecordDecoder(entity, resolve_user=_keep_user_id)

    def events():
        with archive.open() as zip_file:
            for line, record in records(zip_file, entity):
                yield entity.model(**decoder.decode(record, line=line))

    # Keyed events verify under this deployment's chain keys: an archive from a deployment
    # with other keys (or a stream recomputed without them) is refused.
    first_break = chain_verify(events(), stream=AUDIT_ENTITY, keys=chain_keys()).first_break
    if first_break is not None:
        raise ArchiveRefused(
            REFUSED_AUDIT_CHAIN.format(sequence=first_break.sequence, reason=first_break.reason)
        )


__all__ = ["DATA_DIR", "ArchiveRefused", "VerifiedArchive", "archive_verify", "records"]
