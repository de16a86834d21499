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
