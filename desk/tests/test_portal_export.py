"""A customer's export of their own company's desk data, from the portal, over HTTP: what it
holds (the portal's view, never an internal note nor another company's record), who may take
it, a cancelled workspace, bad input and the rate limit."""

from __future__ import annotations

import json

import pytest
from django.utils.html import escape
from django_tenants.utils import tenant_context

from audit.events import Event
from audit.models import AuditEvent
from desk.models import Ticket, TicketAttachment
from desk.services import PORTAL_EXPORT_THROTTLED
from desk.tests.seed import internal_marker, request_subject
from rbac.models import Membership
from tests.test_cancelled_sweep import cancel_acme  # noqa: F401 - a fixture used below

pytestmark = pytest.mark.django_db

URL = "/portal/export/"


def _company_of(acme, email: str) -> int:
    return Membership.objects.get(tenant=acme, user__email=email).company_id


def _export(client) -> tuple[object, dict]:
    response = client.post(URL)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="requests-acme-')
    return response, json.loads(b"".join(response.streaming_content))


def test_a_customer_exports_their_company_requests_replies_attachments_and_assets(acme, client_for):
    own = _company_of(acme, "customer@acme.example")
    other = _company_of(acme, "customer2@acme.example")
    _, document = _export(client_for("acme", "customer"))
    assert document["format"] == "shopsafe.desk.portal-export"
    assert document["company"]["id"] == own
    assert [t["subject"] for t in document["tickets"]] == [request_subject("acme", own)]
    ticket = document["tickets"][0]
    assert [m["body"] for m in ticket["messages"]] == [
        f"We are looking into it (acme company {own})."
    ]
    assert sorted(a["filename"] for a in ticket["attachments"]) == [
        f"jam-acme-{own}.png",
        f"public-acme-{own}.pdf",
    ]
    assert [a["name"] for a in document["assets"]] == [f"Asset of acme company {own}"]
    assert ticket["assets"] == [document["assets"][0]["id"]]
    # Never an internal note or internal file, never the other company, never staff fields.
    text = json.dumps(document)
    assert internal_marker("acme", own) not in text
    assert f"internal-acme-{own}.pdf" not in text
    assert request_subject("acme", other) not in text
    assert f"Asset of acme company {other}" not in text
    assert not {"tags", "assignee"} & set(ticket)


def test_the_export_is_audited_with_what_it_holds_and_lists_the_customers_own_events(
    acme, client_for, member
):
    own = _company_of(acme, "customer@acme.example")
    client = client_for("acme", "customer")
    with tenant_context(acme):
        ticket = Ticket.objects.get(company_id=own)
    client.post(f"/portal/requests/{ticket.pk}/reply/", {"body": "Still jamming."})
    _, document = _export(client)
    user = member("acme", "customer")
    with tenant_context(acme):
        event = AuditEvent.objects.filter(event_type=Event.PORTAL_DATA_EXPORTED).get()
        attachments = TicketAttachment.objects.filter(
            ticket__company_id=own, internal=False
        ).count()
        own_events = AuditEvent.objects.filter(actor_id=user.pk).exclude(pk=event.pk).count()
    assert event.actor_id == user.pk
    assert event.additional_data == {
        "company_id": own,
        "tickets": 1,
        "attachments": attachments,
        "assets": 1,
        "audit_events": own_events,
    }
    # The customer's own actions (their reply, and this export), and only theirs.
    events = [e["event"] for e in document["audit_events"]]
    assert len(events) == own_events + 1
    assert "desk.ticket.reply_posted" in events
    assert events[-1] == "desk.portal.data_exported"
    assert all(set(e) >= {"event", "at", "target_type"} for e in document["audit_events"])
    assert all("changes" not in e and "data" not in e for e in document["audit_events"])


def test_company_b_never_gets_company_a_data_and_company_admins_export_their_own(acme, client_for):
    one = _company_of(acme, "customer@acme.example")
    two = _company_of(acme, "customer2@acme.example")
    _, document_b = _export(client_for("acme", "customer2"))
    assert document_b["company"]["id"] == two
    assert [t["subject"] for t in document_b["tickets"]] == [request_subject("acme", two)]
    text_b = json.dumps(document_b)
    assert request_subject("acme", one) not in text_b
    assert f"jam-acme-{one}.png" not in text_b
    _, document_admin = _export(client_for("acme", "company_admin"))
    assert document_admin["company"]["id"] == one
    assert [t["subject"] for t in document_admin["tickets"]] == [request_subject("acme", one)]


def test_staff_have_no_portal_export_and_another_workspace_sees_nothing_of_acme(acme, client_for):
    for role in ("owner", "expert"):
        assert client_for("acme", role).post(URL).status_code == 403
    _, document = _export_from(client_for("globex", "customer"))
    assert document["workspace"] == "globex"
    with tenant_context(acme):
        acme_subjects = set(Ticket.objects.values_list("subject", flat=True))
    assert not acme_subjects & {t["subject"] for t in document["tickets"]}


def _export_from(client) -> tuple[object, dict]:
    response = client.post(URL)
    assert response.status_code == 200
    return response, json.loads(b"".join(response.streaming_content))


def test_a_cancelled_workspace_still_lets_its_customers_export(cancel_acme, client_for):  # noqa: F811
    cancel_acme()
    client = client_for("acme", "customer")
    assert client.get(URL).status_code == 200
    _, document = _export(client)
    assert len(document["tickets"]) == 1


def test_bad_input_to_the_export_is_refused_or_ignored_never_an_error(acme, client_for):
    client = client_for("acme", "customer")
    assert client.put(URL).status_code == 405
    assert client.delete(URL).status_code == 405
    # Unknown fields and odd query strings change nothing: the company is the viewer's.
    other = _company_of(acme, "customer2@acme.example")
    response = client.post(f"{URL}?company={other}", {"company": str(other), "x": "\x00"})
    assert response.status_code == 200
    document = json.loads(b"".join(response.streaming_content))
    assert document["company"]["id"] == _company_of(acme, "customer@acme.example")


def test_past_the_hourly_limit_the_export_answers_429_and_records_nothing(
    acme, client_for, settings
):
    settings.RATE_LIMITS = {"portal_export.member": (1, 3600)}
    client = client_for("acme", "customer")
    _export(client)
    refused = client.post(URL)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert escape(PORTAL_EXPORT_THROTTLED) in refused.content.decode()
    with tenant_context(acme):
        assert AuditEvent.objects.filter(event_type=Event.PORTAL_DATA_EXPORTED).count() == 1


@pytest.mark.parametrize("write", [False, True])
def test_support_impersonating_a_customer_cannot_take_the_portal_export(acme, write):
    """Exporting data is never allowed while impersonating (support.gate's forbidden list),
    in a write session too: the page and the download are refused and nothing is audited."""
    from support.tests.factories import grant_for, impersonation_client, support_agent

    grant_for(acme, allow_write=True)
    customer = Membership.objects.get(tenant=acme, user__email="customer@acme.example")
    client, _session = impersonation_client(support_agent(), acme, member=customer, write=write)
    with tenant_context(acme):
        before = AuditEvent.objects.filter(event_type=Event.PORTAL_DATA_EXPORTED).count()
    assert client.get("/portal/export/").status_code == 403
    assert client.post("/portal/export/").status_code == 403
    assert b"Export our data" not in client.get("/portal/requests/").content
    with tenant_context(acme):
        after = AuditEvent.objects.filter(event_type=Event.PORTAL_DATA_EXPORTED).count()
    assert after == before
