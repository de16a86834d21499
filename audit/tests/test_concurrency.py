"""Concurrent writers to one stream, each on its own connection, never fork its chain: the
stream's advisory lock serialises them, and every event links to the one committed before."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from audit.events import Event
from audit.selectors import audit_stream_verify
from audit.services import Target, audit_event_record
from audit.tests.streams import committed_workspace

# The mark makes pytest-django create the test database even when this module runs alone.
pytestmark = pytest.mark.django_db
WRITERS = 4
EACH = 15


@pytest.fixture(scope="module")
def busy(django_db_setup, django_db_blocker):
    with committed_workspace("busy-shop", django_db_blocker) as tenant:
        yield tenant


def test_concurrent_writers_append_one_unforked_chain(busy, django_db_blocker):
    start = threading.Barrier(WRITERS)
    failures: list[BaseException] = []

    def write(number: int) -> None:
        try:
            connection.set_tenant(busy)  # type: ignore[attr-defined]
            start.wait()
            for index in range(EACH):
                with transaction.atomic():
                    audit_event_record(
                        event_type=Event.MEMBER_ROLE_CHANGED,
                        target=Target("writer", str(number), f"writer {number} #{index}"),
                    )
        except BaseException as error:  # reported in the main thread
            failures.append(error)
        finally:
            connection.close()

    with django_db_blocker.unblock():
        threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        report = audit_stream_verify(schema_name=busy.schema_name)
    assert failures == []
    assert report.ok, report.first_break
    assert report.events == WRITERS * EACH


def test_an_event_is_on_disk_when_its_transaction_commit_returns(busy, django_db_blocker):
    """The stream's lock is released before the commit reaches the disk (so writers do not
    queue behind each other's disk writes), but commit() itself returns only once it has."""
    seen: dict[str, object] = {}

    def write() -> None:
        try:
            connection.set_tenant(busy)  # type: ignore[attr-defined]
            with transaction.atomic():
                audit_event_record(
                    event_type=Event.MEMBER_ROLE_CHANGED, target=Target("writer", "1", "durable")
                )
                with connection.cursor() as cursor:
                    cursor.execute("SHOW synchronous_commit")
                    seen["inside"] = cursor.fetchone()[0]
                    cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
                    seen["written_up_to"] = cursor.fetchone()[0]
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn, current_setting("
                    "'synchronous_commit')",
                    [seen["written_up_to"]],
                )
                seen["flushed"], seen["after"] = cursor.fetchone()
        except BaseException as error:  # reported in the main thread
            seen["error"] = error
        finally:
            connection.close()

    with django_db_blocker.unblock():
        thread = threading.Thread(target=write)
        thread.start()
        thread.join(timeout=60)
    assert "error" not in seen, seen.get("error")
    assert seen["inside"] == "off"  # the lock goes with the commit record, not the flush
    assert seen["flushed"] is True  # ...and commit() waited for the flush all the same
    assert seen["after"] == "on"  # for this transaction only
