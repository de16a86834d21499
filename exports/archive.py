"""Writing an export archive: one ZIP, streamed record by record and file by file.

Invariant: memory stays flat whatever the workspace's size. Records are written as JSON Lines
by PostgreSQL itself and streamed with COPY in blocks (``sql_lines``, byte for byte what the
Python encoder here writes; where it cannot be, the entity comes from a server-side cursor,
``QuerySet.iterator(chunk_size=...)``, and is encoded here a chunk at a time); files are copied
from private storage in fixed-size blocks. Every member
is hashed while it is written, and ``manifest.json`` (counts, and the SHA-256 and size of every
other member) is written last and signed, so an archive is either complete or not an archive.
The caller provides the consistent snapshot (one REPEATABLE READ transaction) and decides
where the bytes go; nothing here touches an ExportJob.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import queue
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from django.apps import apps
from django.core import signing
from django.db.migrations.loader import MigrationLoader

from shop.storage import private_storage

from . import schema_files, sql_lines
from .format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST_NAME,
    MANIFEST_SCHEMA_NAME,
    SCHEMAS_DIR,
    USER_LABEL,
    Entity,
    FieldSpec,
    Kind,
    encode_value,
    entities,
    file_member_path,
    format_time,
)

COPY_BLOCK_BYTES = 1024 * 1024
SIGNATURE_SALT = "exports.manifest"
# Deflate's fastest level: on the records' JSON Lines it costs a third of level 6's CPU for
# an archive within a few per cent of its size (bench_export). The level changes no member's
# bytes or checksum, only how they are packed.
JSON_COMPRESSION_LEVEL = 1
# Blocks queued between the reader (COPY, storage) and the thread that compresses, hashes and
# writes them: a few blocks, so memory stays flat.
PIPELINE_DEPTH = 4

Progress = Callable[[int, int], None]  # (done, total): records and files written so far


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def manifest_signer() -> signing.Signer:
    # Keyed by SECRET_KEY (and its fallbacks when verifying): proves this installation wrote
    # the manifest, so an edited manifest cannot vouch for edited members.
    return signing.Signer(salt=SIGNATURE_SALT, algorithm="sha256")


def manifest_signature(manifest: dict) -> str:
    unsigned = {key: value for key, value in manifest.items() if key != "signature"}
    signed = manifest_signer().sign(canonical_json(unsigned).decode())
    return signed.rsplit(manifest_signer().sep, 1)[1]


def manifest_signature_valid(manifest: dict) -> bool:
    signature = manifest.get("signature")
    if not isinstance(signature, str):
        return False
    unsigned = {key: value for key, value in manifest.items() if key != "signature"}
    value = canonical_json(unsigned).decode()
    try:
        manifest_signer().unsign(f"{value}{manifest_signer().sep}{signature}")
    except signing.BadSignature:
        return False
    return True


def schema_versions(app_labels: Iterable[str]) -> dict[str, list[str]]:
    """The newest migration(s) of each app whose tables the archive holds."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    wanted = set(app_labels)
    return {
        app_label: sorted(name for app, name in graph.leaf_nodes() if app == app_label)
        for app_label in sorted(wanted)
    }


class HashingWriter:
    """Passes bytes on to a ZIP member while counting and hashing them."""

    def __init__(self, target: IO[bytes]):
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0
        self.writes = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.target.write(data)
        self.digest.update(data)
        self.size += len(data)
        self.writes += 1

    def checksum(self) -> dict:
        return {"sha256": self.digest.hexdigest(), "size": self.size}


@dataclass
class ArchiveContext:
    """What the writer needs to know about the export it is writing."""

    tenant: Any
    export_id: str
    exported_at: dt.datetime
    requested_by: Any = None
    chunk_size: int = 2000
    progress: Progress = lambda done, total: None
    checksums: dict[str, dict] = field(default_factory=dict)
    done: int = 0
    total: int = 0

    def advance(self, count: int) -> None:
        self.done += count
        self.progress(self.done, self.total)


class _RecordEncoder:
    """Turns a row of ``values_list`` into one JSON line (bytes)."""

    def __init__(self, entity: Entity, schema_name: str):
        self.names = [spec.name for spec in entity.fields]
        self.convert = [self._converter(spec) for spec in entity.fields]
        self.schema_name = schema_name
        self._emails: dict[int, str | None] = {}
        self._content_types: dict[int, str] = {}

    def _converter(self, spec: FieldSpec) -> Callable[[Any], Any]:
        model_field = spec.field
        if spec.kind == Kind.USER:
            return self._user
        if spec.kind == Kind.CONTENT_TYPE:
            return self._content_type
        if spec.kind in (Kind.RELATION, Kind.EXTERNAL):
            target_field = spec.target_field
            return lambda value: encode_value(target_field, value)
        if spec.kind == Kind.FILE:
            return lambda value: file_member_path(self.schema_name, value) if value else value
        return lambda value: encode_value(model_field, value)

    def _user(self, user_id):
        if user_id is None:
            return None
        if user_id not in self._emails:
            user_model = apps.get_model(USER_LABEL)
            self._emails[user_id] = (
                user_model._base_manager.filter(pk=user_id).values_list("email", flat=True).first()
            )
        return {"id": user_id, "email": self._emails[user_id]}

    def _content_type(self, content_type_id):
        if content_type_id is None:
            return None
        if content_type_id not in self._content_types:
            # Not ContentType's cache: it is keyed by id across schemas, and ids are per schema.
            content_type = apps.get_model("contenttypes.contenttype")
            app_label, model = content_type._base_manager.values_list("app_label", "model").get(
                pk=content_type_id
            )
            self._content_types[content_type_id] = f"{app_label}.{model}"
        return self._content_types[content_type_id]

    def line(self, row: tuple) -> bytes:
        record = {
            name: convert(value)
            for name, convert, value in zip(self.names, self.convert, row, strict=True)
        }
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _member_info(name: str, context: ArchiveContext, *, compress: bool) -> zipfile.ZipInfo:
    stamp = context.exported_at.astimezone(dt.UTC)
    info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    if compress:
        # ZipFile.open(info, "w") takes no level argument and reads this private attribute,
        # which typeshed does not declare for Python 3.11.
        info._compresslevel = JSON_COMPRESSION_LEVEL  # type: ignore[attr-defined]
    info.external_attr = 0o600 << 16
    return info


@contextmanager
def closing_iterator(chunks: Iterable[bytes]) -> Iterator[Iterable[bytes]]:
    """Close a generator of chunks however the writing ends: one that streams a COPY holds
    the connection until it is closed, and the code handling a failed write needs it."""
    try:
        yield chunks
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _write_member(zip_file, name: str, chunks: Iterable[bytes], context, *, compress=True) -> dict:
    with (
        closing_iterator(chunks) as chunks,
        zip_file.open(_member_info(name, context, compress=compress), "w", force_zip64=True) as raw,
    ):
        writer = HashingWriter(raw)
        _write_in_thread(chunks, writer)
    context.checksums[name] = writer.checksum()
    return context.checksums[name]


_END = b""  # never a chunk: HashingWriter drops empty writes and the reader never queues one


def _write_in_thread(chunks: Iterable[bytes], writer: HashingWriter) -> None:
    """Write ``chunks`` through ``writer`` on a thread of their own while this thread reads the
    next ones: deflate, SHA-256, the CRC and the file write release the GIL, so compressing a
    block overlaps with PostgreSQL producing and this thread receiving the next (COPY), or
    with reading the next block of a file. At most PIPELINE_DEPTH blocks wait in between.

    The chunks are read on the calling thread only (a COPY holds the caller's connection); a
    failure on either side stops both and is raised here, the writer's first."""
    pending: queue.Queue[bytes] = queue.Queue(maxsize=PIPELINE_DEPTH)
    failures: list[BaseException] = []

    def drain() -> None:
        while (chunk := pending.get()) is not _END:
            if failures:
                continue  # keep taking blocks so the reader never waits on a full queue
            try:
                writer.write(chunk)
            except BaseException as error:  # re-raised on the calling thread
                failures.append(error)

    thread = threading.Thread(target=drain, name="export-member-writer", daemon=True)
    thread.start()
    try:
        for chunk in chunks:
            if failures:
                break
            if chunk:
                pending.put(chunk)
    finally:
        pending.put(_END)
        thread.join()
    if failures:
        raise failures[0]


def _entity_chunks(entity: Entity, context: ArchiveContext) -> Iterable[bytes]:
    """The entity's JSON Lines, streamed: written by PostgreSQL through COPY where it gives
    the same bytes (exports.sql_lines), else encoded here one chunk of ``chunk_size`` at a
    time."""
    query = sql_lines.line_query(entity, context.tenant)
    if query is not None and not sql_lines.python_needed(entity, context.tenant):
        for block, lines in sql_lines.copy_lines(*query):
            yield block
            context.advance(lines)
        return
    yield from _python_chunks(entity, context)


def _python_chunks(entity: Entity, context: ArchiveContext) -> Iterable[bytes]:
    """The entity's JSON Lines encoded in Python, one chunk of ``chunk_size`` at a time."""
    encoder = _RecordEncoder(entity, context.tenant.schema_name)
    columns = [spec.attname for spec in entity.fields]
    rows = entity.queryset(context.tenant).values_list(*columns)
    buffer: list[bytes] = []
    for row in rows.iterator(chunk_size=context.chunk_size):
        buffer.append(encoder.line(row))
        if len(buffer) >= context.chunk_size:
            yield b"".join(buffer)
            context.advance(len(buffer))
            buffer.clear()
    if buffer:
        yield b"".join(buffer)
        context.advance(len(buffer))


def file_specs(entity: Entity) -> list[FieldSpec]:
    return [spec for spec in entity.fields if spec.kind == Kind.FILE]


def file_references(entity: Entity, context: ArchiveContext) -> Iterable[str]:
    """Storage keys the entity's records point at, in id order."""
    specs = file_specs(entity)
    if not specs:
        return
    rows = entity.queryset(context.tenant).values_list(*[spec.attname for spec in specs])
    for row in rows.iterator(chunk_size=context.chunk_size):
        for key in row:
            if key:
                yield key


def count_totals(context: ArchiveContext) -> tuple[dict[str, int], int]:
    """Records per entity, and the number of file references, inside the caller's snapshot."""
    counts = {}
    files = 0
    for entity in entities():
        queryset = entity.queryset(context.tenant)
        counts[entity.label] = queryset.count()
        for spec in file_specs(entity):
            files += (
                queryset.exclude(**{spec.attname: ""})
                .exclude(**{f"{spec.attname}__isnull": True})
                .count()
            )
    return counts, files


def _copy_file(zip_file, key: str, member: str, context: ArchiveContext) -> dict | None:
    storage = private_storage()
    try:
        source = storage.open(key, "rb")
    except FileNotFoundError:
        return None
    with source:
        return _write_member(
            zip_file,
            member,
            iter(lambda: source.read(COPY_BLOCK_BYTES), b""),
            context,
            compress=False,
        )


def archive_write(target: IO[bytes], context: ArchiveContext) -> dict:
    """Write the whole archive to ``target`` (a seekable binary file) and return its manifest.

    Must run inside one read transaction so counts, records and files agree.
    """
    all_entities = entities()
    counts, file_total = count_totals(context)
    context.total = sum(counts.values()) + file_total
    context.progress(0, context.total)
    schema_name = context.tenant.schema_name
    entity_index: dict[str, dict] = {}
    missing_files: list[str] = []
    files_written = 0
    file_bytes = 0
    with zipfile.ZipFile(
        target, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True
    ) as zip_file:
        for entity in all_entities:
            _write_member(zip_file, entity.path, _entity_chunks(entity, context), context)
            entity_index[entity.label] = {
                "path": entity.path,
                "count": counts[entity.label],
                "schema": entity.schema_path,
            }
        missing: set[str] = set()
        for entity in all_entities:
            for key in file_references(entity, context):
                member = file_member_path(schema_name, key)
                if member in context.checksums or member in missing:
                    continue  # two records naming the same object: its bytes once
                checksum = _copy_file(zip_file, key, member, context)
                if checksum is None:
                    missing.add(member)
                    missing_files.append(member)
                else:
                    files_written += 1
                    file_bytes += checksum["size"]
                context.advance(1)
        for name, schema in schema_files.all_entity_schemas().items():
            _write_member(
                zip_file, SCHEMAS_DIR + name, [schema_files.schema_bytes(schema)], context
            )
        _write_member(
            zip_file,
            SCHEMAS_DIR + MANIFEST_SCHEMA_NAME,
            [schema_files.schema_bytes(schema_files.manifest_schema())],
            context,
        )
        manifest = _manifest(
            context,
            entity_index=entity_index,
            files={"count": files_written, "bytes": file_bytes, "missing": missing_files},
        )
        with zip_file.open(_member_info(MANIFEST_NAME, context, compress=True), "w") as raw:
            raw.write(json.dumps(manifest, indent=2, ensure_ascii=False).encode() + b"\n")
    return manifest


def _manifest(context: ArchiveContext, *, entity_index: dict, files: dict) -> dict:
    tenant = context.tenant
    requested_by = context.requested_by
    app_labels = {label.split(".")[0] for label in entity_index}
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "export_id": context.export_id,
        "exported_at": format_time(context.exported_at),
        "workspace": {
            "slug": tenant.slug,
            "name": tenant.name,
            "schema": tenant.schema_name,
            "created_at": format_time(tenant.created_at),
        },
        "requested_by": (
            {"id": requested_by.pk, "email": requested_by.email} if requested_by else None
        ),
        "schema_versions": schema_versions(app_labels),
        "entities": entity_index,
        "files": files,
        "checksums": dict(sorted(context.checksums.items())),
    }
    manifest["signature"] = manifest_signature(manifest)
    return manifest


def sha256_of_file(path, block: int = COPY_BLOCK_BYTES) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(block), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
