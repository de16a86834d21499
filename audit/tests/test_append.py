"""How an event goes out: its INSERT waits for the transaction's next statement or its COMMIT
(so the writer holding the stream's lock waits for the database once), yet it always lands in
the stream it was linked in, and whatever reads afterwards sees it."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from audit.events import Event
from audit.models import AuditEvent
from audit.services import Target, audit_event_record
from audit.tests.streams import events_since, stream_head
from tenants.postgresql_backend.base import send_with_next

pytestmark = pytest.mark.django_db


def test_an_event_lands_in_its_own_stream_when_the_workspace_switches_right_after(acme, globex):
    acme_head, globex_head = stream_head(acme), stream_head(globex)
    with tenant_context(acme):
        event = audit_event_record(event_type=Event.MEMBER_ADDED, target=Target("t", "1", "A"))
        connection.set_tenant(globex)  # no statement in between
        assert not AuditEvent.objects.filter(request_id="x-never").exists()

    (written,) = events_since(acme, acme_head)
    assert (written.pk, written.sequence, written.hash) == (event.pk, event.sequence, event.hash)
    assert events_since(globex, globex_head) == []


def test_the_next_statement_of_the_transaction_sees_the_event(acme):
    with tenant_context(acme):
        event = audit_event_record(event_type=Event.MEMBER_ADDED, target=Target("t", "1", "A"))
        assert AuditEvent.objects.filter(pk=event.pk, hash=event.hash).exists()


def test_two_events_in_one_transaction_chain_one_after_the_other(acme):
    head = stream_head(acme)
    with tenant_context(acme), transaction.atomic():
        first = audit_event_record(event_type=Event.MEMBER_ADDED, target=Target("t", "1", "A"))
        second = audit_event_record(event_type=Event.MEMBER_ADDED, target=Target("t", "2", "B"))
    assert (first.sequence, second.sequence) == (head + 1, head + 2)
    assert second.prev_hash == first.hash
    assert [e.pk for e in events_since(acme, head)] == [first.pk, second.pk]


def _record_then_fail() -> None:
    with transaction.atomic():
        audit_event_record(event_type=Event.MEMBER_ADDED, target=Target("t", "1", "A"))
        raise RuntimeError("the change fails")


def test_an_event_of_a_rolled_back_savepoint_is_gone_with_it(acme):
    head = stream_head(acme)
    with tenant_context(acme):
        with pytest.raises(RuntimeError):
            _record_then_fail()
        assert events_since(acme, head) == []


def test_a_statement_queued_in_one_workspace_is_refused_in_another(acme, globex):
    with tenant_context(acme):
        AuditEvent.objects.exists()  # the context is set
        send_with_next(connection, "SELECT 1", [])
        connection.schema_name = globex.schema_name  # what no code path does: refused
        with pytest.raises(RuntimeError, match="would run in ws_globex: refused"):
            connection.deferred_send()
        connection.schema_name = acme.schema_name
