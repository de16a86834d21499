"""A year of events (100,000 here) streams out without loading into memory: we assert on the
mechanism (a StreamingHttpResponse fed chunk by chunk from a server-side cursor with a
bounded chunk size, the queryset never evaluated whole), not on memory."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.db.models.query import QuerySet
from django.http import StreamingHttpResponse
from django_tenants.utils import tenant_context

from audit.tests.streams import stream_head

pytestmark = pytest.mark.django_db
EVENTS = 100_000
CHUNK = 2000


def _insert_events(tenant, count: int) -> None:
    """Bulk rows straight in SQL (their hashes are not a valid chain; export does not care)."""
    first = stream_head(tenant) + 1
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO audit_auditevent (
                sequence, timestamp, event_type, outcome, actor_kind, actor_name, actor_email,
                on_behalf_of_name, on_behalf_of_email, remote_addr, user_agent, request_id,
                target_type, target_id, target_label, changes, prev_hash, hash)
            SELECT n, now() - make_interval(secs => %s - n), 1002, 'success', 'user', 'Bulk',
                   'bulk@acme.example', '', '', '192.0.2.1', 'bench', 'r' || n, 'shop.company',
                   n::text, 'Company ' || n, '{"name": ["a", "b"]}', repeat('0', 64),
                   repeat('1', 64)
              FROM generate_series(%s, %s) AS n
            """,
            [first + count, first, first + count - 1],
        )
        cursor.execute("ANALYZE audit_auditevent")  # as autovacuum would after such a load


def test_exporting_100000_events_streams_in_bounded_chunks_from_a_server_side_cursor(
    acme, client_for, settings
):
    settings.AUDIT_EXPORT_CHUNK_SIZE = CHUNK
    _insert_events(acme, EVENTS)
    seen_chunk_sizes, evaluated_whole = [], []
    real_iterator = QuerySet.iterator

    def spy_iterator(queryset, chunk_size=None):
        seen_chunk_sizes.append(chunk_size)
        evaluated_whole.append(queryset._result_cache is not None)
        return real_iterator(queryset, chunk_size=chunk_size)

    real_chunked_cursor = connection.chunked_cursor
    with (
        mock.patch.object(QuerySet, "iterator", spy_iterator),
        mock.patch.object(
            connection, "chunked_cursor", side_effect=real_chunked_cursor
        ) as chunked_cursor,
    ):
        response = client_for("acme", "owner").get(
            "/settings/audit/export/", {"format": "jsonl", "actor": "bulk@acme.example"}
        )
        assert isinstance(response, StreamingHttpResponse)
        assert seen_chunk_sizes == []  # nothing read yet: rows are fetched as the body is sent
        rows, pieces, largest = 0, 0, 0
        for piece in iter(response.streaming_content):  # type: ignore[arg-type]
            lines = piece.count(b"\n")
            rows += lines
            pieces += 1
            largest = max(largest, lines)
    assert rows == EVENTS
    assert seen_chunk_sizes == [CHUNK]
    assert evaluated_whole == [False]
    assert chunked_cursor.called  # a named (server-side) cursor, not fetchall()
    assert pieces >= EVENTS // CHUNK
    assert largest <= CHUNK
