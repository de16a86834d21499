"""Memory stays flat with size: the mechanism (the figures are in bench/bench_export.py).

Every entity's records come from PostgreSQL's COPY in blocks of about
``sql_lines.BLOCK_BYTES`` (or, where Python writes them, from a server-side cursor,
``QuerySet.iterator(chunk_size=...)``), are written to the ZIP a block at a time rather than
collected first, and files are copied in fixed-size blocks."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models.query import QuerySet

from exports import archive, sql_lines
from exports.format import entities

pytestmark = pytest.mark.django_db


def test_server_side_cursors_are_not_disabled():
    assert not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
    assert connection.features.can_use_chunked_reads


def _spy_member_writes(monkeypatch) -> dict[str, list[int]]:
    member_writes: dict[str, list[int]] = {}
    real_write_member = archive._write_member

    def spy_write_member(zip_file, name, chunks, context, *, compress=True):
        sizes = member_writes.setdefault(name, [])

        def recorded():
            for chunk in chunks:
                sizes.append(len(chunk))
                yield chunk

        return real_write_member(zip_file, name, recorded(), context, compress=compress)

    monkeypatch.setattr(archive, "_write_member", spy_write_member)
    return member_writes


def test_every_entity_is_copied_in_blocks_and_written_incrementally(acme, run_export, monkeypatch):
    copied: list[str] = []
    real_copy_lines = sql_lines.copy_lines

    def spy_copy_lines(sql, params):
        copied.append(sql)
        return real_copy_lines(sql, params)

    monkeypatch.setattr(sql_lines, "copy_lines", spy_copy_lines)
    monkeypatch.setattr(sql_lines, "BLOCK_BYTES", 300)
    monkeypatch.setattr(archive, "COPY_BLOCK_BYTES", 64)
    member_writes = _spy_member_writes(monkeypatch)

    job = run_export(acme)

    assert job.status == "ready"
    assert len(copied) == len(entities())
    # Blocks of about 300 bytes (a block ends at the first whole line past it): never one
    # write of everything.
    audit_writes = member_writes["data/audit.auditevent.jsonl"]
    assert len(audit_writes) >= sum(audit_writes) // 2000
    assert len(audit_writes) >= 10
    quote_lines = member_writes["data/shop.quoteline.jsonl"]
    assert len(quote_lines) >= 3
    assert max(quote_lines) <= 300 + 500
    # A 584-byte PDF copied in 64-byte blocks.
    file_writes = [sizes for name, sizes in member_writes.items() if name.startswith("files/")]
    assert max(len(sizes) for sizes in file_writes) >= 9
    assert max(max(sizes) for sizes in file_writes) <= 64


def test_where_python_writes_the_records_they_stream_in_chunks_from_a_server_side_cursor(
    acme, run_export, monkeypatch, settings
):
    settings.EXPORT_CHUNK_SIZE = 2
    monkeypatch.setattr(sql_lines, "line_query", lambda entity, tenant: None)
    iterated: list[tuple[str, int | None]] = []
    real_iterator = QuerySet.iterator

    def spy_iterator(self, chunk_size=None):
        iterated.append((self.model._meta.label_lower, chunk_size))
        return real_iterator(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy_iterator)
    member_writes = _spy_member_writes(monkeypatch)

    job = run_export(acme)

    assert job.status == "ready"
    read = {label for label, _ in iterated}
    assert {entity.label for entity in entities()} <= read
    assert {size for _, size in iterated} == {2}
    # 54+ audit events at 2 per chunk: one write per chunk, never one write of everything.
    audit_writes = member_writes["data/audit.auditevent.jsonl"]
    assert len(audit_writes) >= job.record_count // 20
    assert len(member_writes["data/shop.quoteline.jsonl"]) == 6  # 12 lines, 2 per chunk
