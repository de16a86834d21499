"""Cross-tenant: globex's owner never sees acme's events, by page, filter, export or guessed id."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from audit.events import Event
from audit.models import AuditEvent
from audit.services import Target, audit_event_record
from audit.tests.streams import events_since, stream_head
from conftest import sign_in_client

pytestmark = pytest.mark.django_db
ACME_SECRET = "acme-only-audit-secret"
_CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"|"X-CSRFToken": "[^"]+"')


@pytest.fixture
def acme_event_beyond_globex(acme, globex):
    """An acme event whose id no globex event has (ids are per schema)."""
    with tenant_context(globex):
        globex_max = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    with tenant_context(acme):
        while True:
            event = audit_event_record(
                event_type=Event.MEMBER_ADDED,
                target=Target("t", "1", ACME_SECRET),
                data={"secret": ACME_SECRET},
            )
            if event.pk > globex_max:
                return event


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def globex_owner(globex, member):
    return sign_in_client(Client(), member("globex", "owner"), globex)


def _leaks(text: str) -> bool:
    return any(marker in text for marker in (ACME_SECRET, "MARKER-acme", "@acme.example"))


def test_globex_pages_filters_and_exports_never_show_acme_events(
    globex_owner, acme_event_beyond_globex
):
    # globex's own "viewed"/"exported" events record the filters globex typed (which name acme
    # markers here), so look at the events listed and exported rather than grepping bodies.
    queries: list[dict[str, object]] = [
        {},
        {"target": ACME_SECRET},
        {"actor": "acme"},
        {"target": "MARKER-acme"},
        {"date_from": "2000-01-01"},
        {"event_type": int(Event.MEMBER_ADDED)},
    ]
    for query in queries:
        page = globex_owner.get("/settings/audit/", query)
        assert page.status_code == 200, query
        for event in page.context["events"]:
            assert not _leaks(f"{event.target_label} {event.actor_email} {event.changes}"), query
        for export_format in ("csv", "jsonl"):
            response = globex_owner.get(
                "/settings/audit/export/", {**query, "format": export_format}
            )
            assert response.status_code == 200, query
            text = _body(response).decode()
            rows = (
                list(csv.DictReader(io.StringIO(text)))
                if export_format == "csv"
                else [json.loads(line) for line in text.splitlines()]
            )
            for row in rows:
                assert not _leaks(f"{row['target_label']} {row['actor_email']} {row['changes']}")
                assert row["event_name"] != "member.added" or "globex" in row["target_label"]


def test_guessed_acme_event_id_is_the_same_404_as_a_missing_one(
    globex_owner, acme_event_beyond_globex
):
    guessed = globex_owner.get(f"/settings/audit/{acme_event_beyond_globex.pk}/")
    missing = globex_owner.get("/settings/audit/999999999/")
    assert guessed.status_code == missing.status_code == 404
    assert _CSRF.sub(b"", guessed.content) == _CSRF.sub(b"", missing.content)


def test_an_id_both_streams_have_shows_globex_its_own_event_only(globex_owner, acme):
    response = globex_owner.get("/settings/audit/1/")
    assert response.status_code == 200
    assert b"@acme.example" not in response.content
    assert b"globex.example" in response.content


def test_globex_owner_on_acme_host_gets_the_gate_404(acme, member, acme_event_beyond_globex):
    client = sign_in_client(Client(), member("globex", "owner"), acme)
    for path in (
        "/settings/audit/",
        "/settings/audit/export/",
        f"/settings/audit/{acme_event_beyond_globex.pk}/",
    ):
        assert client.get(path).status_code == 404


def test_globex_reading_its_log_is_recorded_in_globex_stream_only(acme, globex, globex_owner):
    acme_head, globex_head = stream_head(acme), stream_head(globex)
    globex_owner.get("/settings/audit/")
    assert events_since(acme, acme_head) == []
    assert [e.event_name for e in events_since(globex, globex_head)] == ["audit.log.viewed"]
