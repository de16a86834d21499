"""The resources added to the API, each through the pages' services: quotes with lines, file
uploads and their short-lived links, ticket messages, audit events and export jobs."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from api.tests.conftest import ApiClient, token_for
from audit.events import Event
from audit.models import AuditEvent
from desk.models import Ticket
from exports.services import ARCHIVE_NOT_READY, EXPORT_ALREADY_RUNNING
from shop.models import Company, Quote
from shop.services.files import FILE_TYPE_NOT_ALLOWED
from shop.services.quotes import QUOTE_LINE_DESCRIPTION_REQUIRED
from shop.tests import factories
from shop.tests.factories import TINY_PDF

pytestmark = pytest.mark.django_db


def _client(role: str = "owner", slug: str = "acme"):
    token, secret = token_for(slug, role)
    return token, ApiClient(slug, secret)


def _company_id(acme) -> int:
    with tenant_context(acme):
        return Company.objects.order_by("pk").values_list("pk", flat=True)[0]


def test_a_quote_with_lines_is_created_by_the_service_and_audited_as_the_token(acme):
    token, client = _client()
    body = {
        "company_id": _company_id(acme),
        "title": "Shop window",
        "tax_rate": "10",
        "lines": [
            {"description": "Vinyl", "quantity": "2", "unit_price": "100.00"},
            {"description": "Fitting", "quantity": "1", "unit_price": "50"},
        ],
    }
    response = client.post("/quotes", body)
    assert response.status_code == 201, response.content
    quote = response.json()
    assert [line["position"] for line in quote["lines"]] == [1, 2]
    assert (quote["status"], quote["subtotal"], quote["total"]) == ("draft", "250.00", "275.00")
    with tenant_context(acme):
        event = AuditEvent.objects.get(event_type=Event.QUOTE_CREATED, target_id=str(quote["id"]))
    assert (event.actor_kind, event.actor_email) == ("api_token", "owner@acme.example")
    assert event.additional_data["api_token"] == token.pk
    blank = client.post("/quotes", {**body, "lines": [{**body["lines"][0], "description": " "}]})
    assert blank.status_code == 422
    assert blank.json()["errors"] == [
        {"field": "lines", "message": QUOTE_LINE_DESCRIPTION_REQUIRED}
    ]
    sent = client.post(f"/quotes/{quote['id']}/send", {})
    assert (sent.status_code, sent.json()["status"]) == (200, "sent")


def test_an_uploaded_file_is_handed_out_only_through_a_short_lived_link(acme):
    _token, client = _client()
    upload = SimpleUploadedFile("proof.pdf", TINY_PDF, content_type="application/pdf")
    created = client.upload("/files", {"company_id": _company_id(acme), "upload": upload})
    assert created.status_code == 201, created.content
    stored = created.json()
    assert (stored["content_type"], stored["size"]) == ("application/pdf", len(TINY_PDF))
    link = client.get(f"/files/{stored['id']}/download")
    assert link.status_code == 200
    parts = urlsplit(link.json()["url"])
    assert parts.path == f"/api/v1/files/{stored['id']}/content"
    content = client.client.get(
        f"{parts.path}?{parts.query}", headers={"Authorization": f"Bearer {client.secret}"}
    )
    assert content.status_code == 200
    assert b"".join(content.streaming_content) == TINY_PDF
    # Without the link, with a forged one, or with another member's: the missing object.
    missing = client.get("/files/999999999")
    _other_token, other = _client("manager")
    for asked in (
        client.get(f"/files/{stored['id']}/content", {"link": "forged"}),
        other.client.get(
            f"{parts.path}?{parts.query}", headers={"Authorization": f"Bearer {other.secret}"}
        ),
    ):
        assert (asked.status_code, asked.content) == (404, missing.content)
    with tenant_context(acme):
        assert AuditEvent.objects.filter(
            event_type=Event.FILE_DOWNLOADED, target_id=str(stored["id"]), actor_kind="api_token"
        ).exists()
    retried = [
        client.upload(
            "/files",
            {
                "company_id": _company_id(acme),
                "upload": SimpleUploadedFile("proof.pdf", TINY_PDF, content_type="application/pdf"),
            },
            headers={"Idempotency-Key": "upload-1"},
        )
        for _ in range(2)
    ]
    assert [r.status_code for r in retried] == [201, 201]
    assert retried[0].json() == retried[1].json()
    assert retried[1]["Idempotent-Replayed"] == "true"
    text = SimpleUploadedFile("notes.txt", b"plain text", content_type="application/pdf")
    refused = client.upload("/files", {"company_id": _company_id(acme), "upload": text})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": "upload", "message": FILE_TYPE_NOT_ALLOWED}]


def test_an_internal_note_posted_through_the_api_never_reaches_the_customer(acme):
    customer = factories.membership(acme, "customer")
    with tenant_context(acme):
        ticket = Ticket.objects.filter(company_id=customer.company_id).first()
    _token, staff = _client()
    note = staff.post(f"/tickets/{ticket.pk}/messages", {"body": "Internal only", "internal": True})
    assert (note.status_code, note.json()["kind"]) == (201, "note")
    _token, portal = _client("customer")
    reply = portal.post(f"/requests/{ticket.pk}/messages", {"body": "Any news?"})
    assert reply.status_code == 201, reply.content
    seen = [m["body"] for m in portal.get(f"/requests/{ticket.pk}/messages").json()]
    assert "Any news?" in seen
    assert "Internal only" not in seen
    assert "Internal only" in [
        m["body"] for m in staff.get(f"/tickets/{ticket.pk}/messages").json()
    ]
    sla = staff.get(f"/tickets/{ticket.pk}").json()["sla"]
    assert sla["overall"] in {"on_track", "at_risk", "breached", "paused", "met"}


def test_audit_events_are_read_with_audit_read_and_filtered(acme):
    _token, client = _client()
    client.post("/companies", {"name": "Audited through the API"})
    events = client.get("/audit-events", {"target": "Audited through the API"}).json()["items"]
    assert [(e["event_name"], e["actor_kind"]) for e in events] == [
        ("shop.company.created", "api_token")
    ]
    one = client.get(f"/audit-events/{events[0]['id']}")
    assert one.json() == events[0]
    _token, manager = _client("manager")
    assert manager.get("/audit-events").status_code == 403


def test_an_export_is_started_polled_and_downloaded_once_through_its_link(
    acme, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.EXPORT_TEMP_DIR = str(tmp_path / "scratch")
    _token, client = _client()
    with django_capture_on_commit_callbacks(execute=False):
        queued = client.post("/exports", {})
        again = client.post("/exports", {})
    assert (queued.status_code, queued.json()["status"]) == (201, "queued")
    assert again.json()["errors"][0]["message"] == EXPORT_ALREADY_RUNNING
    job_id = queued.json()["id"]
    not_ready = client.post(f"/exports/{job_id}/link", {})
    assert not_ready.json()["detail"] == ARCHIVE_NOT_READY
    from exports.services import export_job_build

    with tenant_context(acme):
        export_job_build(tenant=acme, job_id=job_id)
    assert client.get(f"/exports/{job_id}").json()["status"] == "ready"
    link = urlsplit(client.post(f"/exports/{job_id}/link", {}).json()["url"])
    auth = {"Authorization": f"Bearer {client.secret}"}
    first = client.client.get(f"{link.path}?{link.query}", headers=auth)
    assert first.status_code == 200
    assert b"".join(first.streaming_content)[:2] == b"PK"
    used = client.client.get(f"{link.path}?{link.query}", headers=auth)
    assert used.status_code == 410
    assert used["Content-Type"] == "application/problem+json"
    with tenant_context(acme):
        assert Quote.objects.exists()  # the archive was built from a real workspace
