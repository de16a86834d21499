"""The client's pages (no account) and the members' pages, through Django's test client on
the workspaces' hosts."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from audit.events import Event
from audit.models import AuditEvent
from docrequests import services
from docrequests.models import DocumentRequest, LinkCode, RequestItem, Upload
from docrequests.tests.seed import request_title
from docrequests.views.client import IDLE_SECONDS
from shop.tests.factories import TINY_PDF, TINY_PNG, upload_of
from tenants.models import Tenant
from tenants.selectors import tenant_host_cache_forget

from . import conftest
from .conftest import CLIENT

pytestmark = pytest.mark.django_db


def _visitor(tenant) -> Client:
    return Client(HTTP_HOST=f"{tenant.slug}.localhost")


def _open(visitor: Client, token: str):
    return visitor.get(f"/r/{token}/")


def _code_from(message) -> str:
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def _verify(visitor: Client, email: str = CLIENT):
    with conftest.committed():
        visitor.post("/r/code/", {"step": "email", "email": email})
    code = _code_from(mail.outbox[-1])
    with conftest.committed():
        return visitor.post("/r/code/", {"step": "code", "code": code})


def _send(visitor: Client, item, data=TINY_PDF, name="scan.pdf"):
    with conftest.committed():
        return visitor.post(f"/r/items/{item.pk}/upload/", {"file": _named(upload_of(data), name)})


def _page(response) -> str:
    """The page without its per-visitor CSRF token."""
    return re.sub(r'"X-CSRFToken": "[^"]*"', "", response.content.decode())


def _named(stream, name):
    stream.name = name
    return stream


def test_the_link_binds_a_session_and_redirects_to_a_token_free_url_without_referrer(
    acme, in_acme, new_request
):
    issued = new_request()
    visitor = _visitor(acme)
    response = _open(visitor, issued.token)
    assert response.status_code == 302
    assert response["Location"] == "/r/code/"
    assert response["Referrer-Policy"] == "no-referrer"
    page = visitor.get("/r/code/")
    assert page.status_code == 200
    # Token-free, so the site's same-origin policy: under no-referrer a browser would send
    # "Origin: null" with the form below, and CSRF protection would refuse it.
    assert page["Referrer-Policy"] == "same-origin"
    assert issued.token not in page.content.decode()


def test_the_code_form_posts_with_the_browsers_origin_and_csrf_checks_on(
    acme, in_acme, new_request
):
    issued = new_request()
    visitor = Client(HTTP_HOST="acme.localhost", enforce_csrf_checks=True)
    _open(visitor, issued.token)
    form = visitor.get("/r/code/").content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    with conftest.committed():
        sent = visitor.post(
            "/r/code/",
            {"step": "email", "email": CLIENT, "csrfmiddlewaretoken": csrf},
            HTTP_ORIGIN="http://acme.localhost",
        )
    assert (sent.status_code, sent["Location"]) == (302, "/r/code/")
    assert mail.outbox[-1].to == [CLIENT]
    refused = visitor.post(
        "/r/code/",
        {"step": "email", "email": CLIENT, "csrfmiddlewaretoken": csrf},
        HTTP_ORIGIN="null",
    )
    assert refused.status_code == 403


def test_the_client_confirms_the_emailed_code_then_sees_only_this_checklist_and_uploads(
    acme, in_acme, new_request, company_ids
):
    issued = new_request()
    visitor = _visitor(acme)
    _open(visitor, issued.token)
    assert visitor.get("/r/").status_code == 302  # no checklist before the code
    response = _verify(visitor)
    assert response.status_code == 302
    assert response["Location"] == "/r/"
    page = visitor.get("/r/").content.decode()
    assert "Passport" in page
    assert "3 documents still to send" in page
    # The seeded request of another company of the same workspace is nowhere.
    assert request_title(acme.slug, company_ids[1]) not in page
    assert request_title(acme.slug, company_ids[0]) not in page
    passport = issued.document_request.items.get(description="Passport")
    assert _send(visitor, passport, name="my passport.pdf").status_code == 302
    page = visitor.get("/r/").content.decode()
    assert "Sent: my passport.pdf" in page
    assert "2 documents still to send" in page
    upload = Upload.objects.get(item=passport)
    assert upload.uploaded_by_email == CLIENT
    # The client downloads nothing: no page here serves a file, and the staff download
    # sends an anonymous visitor to sign in.
    download = visitor.get(f"/docrequests/uploads/{upload.pk}/download/")
    assert download.status_code == 302
    assert "/sign-in" in download["Location"] or "login" in download["Location"]


def test_a_wrong_code_shows_the_error_and_keeps_the_client_out(acme, in_acme, new_request):
    issued = new_request()
    visitor = _visitor(acme)
    _open(visitor, issued.token)
    with conftest.committed():
        visitor.post("/r/code/", {"step": "email", "email": CLIENT})
    code = _code_from(mail.outbox[-1])
    wrong = "000000" if code != "000000" else "111111"
    response = visitor.post("/r/code/", {"step": "code", "code": wrong})
    assert response.status_code == 400
    assert services.CODE_INVALID in response.content.decode()
    assert visitor.get("/r/").status_code == 302


def test_a_request_without_a_code_needs_only_a_recipients_address(acme, in_acme, new_request):
    issued = new_request(require_code=False)
    visitor = _visitor(acme)
    _open(visitor, issued.token)
    refused = visitor.post("/r/code/", {"step": "email", "email": "other@example.org"})
    assert refused.status_code == 400
    assert services.NOT_A_RECIPIENT in refused.content.decode()
    mail.outbox.clear()
    assert visitor.post("/r/code/", {"step": "email", "email": CLIENT})["Location"] == "/r/"
    assert mail.outbox == []
    opened = AuditEvent.objects.filter(event_type=Event.DOCUMENT_REQUEST_OPENED).last()
    assert opened.actor_email == CLIENT


def test_an_unknown_expired_or_revoked_link_shows_the_same_page_revealing_nothing(
    acme, in_acme, new_request, manager
):
    unknown = _open(_visitor(acme), "x" * 43)
    revoked = new_request(title="Secret title one")
    services.document_request_revoke(
        tenant=acme, actor=manager, document_request=revoked.document_request
    )
    gone = _open(_visitor(acme), revoked.token)
    expiring = new_request(title="Secret title two", lifetime_days=7)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        expired = _open(_visitor(acme), expiring.token)
    assert unknown.status_code == gone.status_code == expired.status_code == 404
    assert _page(unknown) == _page(gone) == _page(expired)
    assert b"Secret title" not in gone.content


def test_a_link_of_one_workspace_opened_on_another_host_is_an_unknown_link(
    acme, globex, in_acme, new_request
):
    issued = new_request()
    on_globex = _open(_visitor(globex), issued.token)
    unknown = _open(_visitor(globex), "y" * 43)
    assert on_globex.status_code == unknown.status_code == 404
    assert _page(on_globex) == _page(unknown)


def test_revoking_during_a_clients_session_ends_it_at_the_next_request(
    acme, in_acme, new_request, manager
):
    issued = new_request()
    visitor = _visitor(acme)
    _open(visitor, issued.token)
    _verify(visitor)
    assert visitor.get("/r/").status_code == 200
    services.document_request_revoke(
        tenant=acme, actor=manager, document_request=issued.document_request
    )
    assert visitor.get("/r/").status_code == 404
    passport = issued.document_request.items.get(description="Passport")
    assert _send(visitor, passport).status_code == 404
    assert not Upload.objects.filter(item=passport).exists()


def test_an_idle_client_session_ends(acme, in_acme, new_request):
    issued = new_request()
    visitor = _visitor(acme)
    _open(visitor, issued.token)
    _verify(visitor)
    with time_machine.travel(timezone.now() + timedelta(seconds=IDLE_SECONDS + 5)):
        assert visitor.get("/r/").status_code == 404
    assert visitor.get("/r/").status_code == 404  # the session is gone for good


def test_expiry_during_a_clients_session_ends_it(acme, in_acme, new_request):
    issued = new_request(lifetime_days=7)
    visitor = _visitor(acme)
    _open(visitor, issued.token)
    _verify(visitor)
    record = issued.document_request
    DocumentRequest.objects.filter(pk=record.pk).update(expires_at=timezone.now())
    assert visitor.get("/r/").status_code == 404


def test_a_client_cannot_upload_to_an_item_of_another_request(acme, in_acme, new_request):
    mine = new_request()
    other = new_request(title="Someone else's")
    visitor = _visitor(acme)
    _open(visitor, mine.token)
    _verify(visitor)
    foreign = other.document_request.items.first()
    assert _send(visitor, foreign).status_code == 404
    assert not Upload.objects.filter(item=foreign).exists()


def test_a_refused_upload_says_why_on_the_checklist(acme, in_acme, new_request):
    issued = new_request()
    visitor = _visitor(acme)
    _open(visitor, issued.token)
    _verify(visitor)
    statement = issued.document_request.items.get(description="Bank statement")
    response = _send(visitor, statement, data=TINY_PNG, name="statement.png")
    assert response.status_code == 302
    page = visitor.get("/r/").content.decode()
    assert "is not a kind of file accepted here" in page
    assert RequestItem.objects.get(pk=statement.pk).status == RequestItem.Status.MISSING


def test_a_cancelled_workspace_says_it_accepts_no_uploads(acme, in_acme, new_request):
    issued = new_request()
    visitor = _visitor(acme)
    _open(visitor, issued.token)
    _verify(visitor)
    Tenant.objects.filter(pk=acme.pk).update(state=Tenant.State.CANCELLED)
    tenant_host_cache_forget("acme.localhost")
    page = visitor.get("/r/").content.decode()
    assert services.NOT_ACCEPTING_UPLOADS in page
    assert 'type="file"' not in page
    passport = issued.document_request.items.get(description="Passport")
    _send(visitor, passport)
    assert not Upload.objects.filter(item=passport).exists()


def test_code_requests_past_the_limit_get_429(acme, in_acme, new_request):
    issued = new_request()
    visitor = _visitor(acme)
    _open(visitor, issued.token)
    for _ in range(5):
        with conftest.committed():
            assert visitor.post("/r/code/", {"step": "email", "email": CLIENT}).status_code == 302
    refused = visitor.post("/r/code/", {"step": "email", "email": CLIENT})
    assert refused.status_code == 429
    assert "Retry-After" in refused


def test_the_token_is_in_no_log_line_and_no_audit_row_of_the_whole_flow(
    acme, in_acme, new_request, manager, caplog, client_for
):
    caplog.set_level(logging.DEBUG)
    issued = new_request()
    token = issued.token
    visitor = _visitor(acme)
    _open(visitor, token)
    _verify(visitor)
    passport = issued.document_request.items.get(description="Passport")
    _send(visitor, passport)
    _open(_visitor(acme), token + "x")  # a wrong link is logged as refused
    staff = client_for("acme", "manager")
    staff.get(f"/docrequests/{issued.document_request.pk}/")
    services.document_request_revoke(
        tenant=acme, actor=manager, document_request=issued.document_request
    )
    _open(_visitor(acme), token)  # a revoked link
    _open(_visitor(acme), token)
    lines = [record.getMessage() for record in caplog.records]
    assert lines  # the flow was logged at all
    assert not [line for line in lines if token in line]
    rows = [str(row) for row in AuditEvent.objects.values()]
    assert len(rows) > 5
    assert not [row for row in rows if token in row]
    assert not [row for row in rows if services.token_hash(token, acme) in row]


def test_staff_see_progress_review_and_download_through_the_audited_view(
    acme, in_acme, new_request, client_for
):
    issued = new_request()
    visitor = _visitor(acme)
    _open(visitor, issued.token)
    _verify(visitor)
    passport = issued.document_request.items.get(description="Passport")
    _send(visitor, passport)
    staff = client_for("acme", "manager")
    listing = staff.get("/docrequests/").content.decode()
    assert "1 of 3 received" in listing
    upload = Upload.objects.get(item=passport)
    download = staff.get(f"/docrequests/uploads/{upload.pk}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == TINY_PDF
    assert AuditEvent.objects.filter(event_type=Event.DOCUMENT_REQUEST_UPLOAD_DOWNLOADED).exists()
    review = staff.post(
        f"/docrequests/items/{passport.pk}/review/", {"decision": "reject", "comment": "Blurry"}
    )
    assert review.status_code == 302
    page = visitor.get("/r/").content.decode()
    assert "Blurry" in page


def test_a_member_creates_a_request_from_the_form_and_sees_the_link_once(
    acme, in_acme, client_for, company_ids
):
    staff = client_for("acme", "manager")
    form = {
        "company_id": company_ids[0],
        "recipients": CLIENT,
        "title": "Tax papers",
        "message": "",
        "items": "Payslip\n? Pension statement",
        "accepted_types": ["pdf"],
        "max_size_mb": 5,
        "lifetime_days": 6,
        "require_code": "on",
    }
    refused = staff.post("/docrequests/new/", form)
    assert refused.status_code == 400
    assert services.LIFETIME_OUT_OF_RANGE in refused.content.decode()
    with conftest.committed():
        created = staff.post("/docrequests/new/", {**form, "lifetime_days": 30})
    assert created.status_code == 302
    record = DocumentRequest.objects.get(title="Tax papers")
    assert [(item.description, item.required) for item in record.items.all()] == [
        ("Payslip", True),
        ("Pension statement", False),
    ]
    token = re.search(r"/r/([A-Za-z0-9_-]+)/", mail.outbox[-1].body).group(1)
    assert token in staff.get(created["Location"]).content.decode()  # shown once
    assert token not in staff.get(created["Location"]).content.decode()


def test_a_role_without_the_capability_gets_403(acme, in_acme, client_for):
    assert client_for("acme", "accountant").get("/docrequests/").status_code == 403


def test_a_cancelled_workspace_sends_no_code_and_says_it_accepts_no_uploads(
    acme, in_acme, new_request
):
    issued = new_request()
    visitor = _visitor(acme)
    _open(visitor, issued.token)
    Tenant.objects.filter(pk=acme.pk).update(state=Tenant.State.CANCELLED)
    tenant_host_cache_forget("acme.localhost")
    mail.outbox.clear()
    page = visitor.get("/r/code/")
    assert services.NOT_ACCEPTING_UPLOADS in page.content.decode()
    with conftest.committed():
        refused = visitor.post("/r/code/", {"step": "email", "email": CLIENT})
    assert refused.status_code == 403
    assert mail.outbox == []
    assert not LinkCode.objects.filter(request=issued.document_request).exists()
