"""The services of document requests, member side and client side, through the real
database, storage and limiter."""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from audit.events import Event
from audit.models import AuditEvent
from docrequests import scanning, services
from docrequests.companies import COMPANY_RECORDS
from docrequests.models import DocumentRequest, LinkCode, RequestItem, Upload
from kernel import storage
from kernel.context import ActorKind
from shop.tests.factories import TINY_PDF, TINY_PNG, upload_of
from tenants.models import Tenant

from . import conftest
from .conftest import CLIENT

pytestmark = pytest.mark.django_db

IP = "198.51.100.7"


def _events(event_type):
    return list(AuditEvent.objects.filter(event_type=event_type).order_by("pk"))


def _token_from(message) -> str:
    return re.search(r"/r/([A-Za-z0-9_-]+)/", message.body).group(1)


def _code_from(message) -> str:
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def _upload(acme, issued, item, data=TINY_PDF, name="scan.pdf", email=CLIENT):
    with conftest.committed():
        return services.item_upload(
            tenant=acme,
            document_request=issued.document_request,
            item=item,
            email=email,
            upload=services.FileIn(upload_of(data), name),
            ip=IP,
        )


@pytest.mark.parametrize("days", [6, 91])
def test_a_lifetime_outside_seven_to_ninety_days_is_refused_and_nothing_is_written(
    in_acme, new_request, days
):
    before = DocumentRequest.objects.count()
    with pytest.raises(ValidationError) as refused:
        new_request(lifetime_days=days)
    assert refused.value.message_dict == {"lifetime_days": [services.LIFETIME_OUT_OF_RANGE]}
    assert DocumentRequest.objects.count() == before
    assert mail.outbox == []


@pytest.mark.parametrize("days", [7, 90])
def test_lifetimes_of_seven_and_ninety_days_are_accepted(in_acme, new_request, days):
    issued = new_request(lifetime_days=days)
    record = issued.document_request
    assert record.expires_at - record.created_at == timedelta(days=days)


def test_creating_stores_only_the_tokens_hash_emails_each_contact_and_audits(
    in_acme, new_request, manager
):
    issued = new_request(recipients=[CLIENT, "second@example.org"])
    record = DocumentRequest.objects.get(pk=issued.document_request.pk)
    assert len(issued.token) >= 43  # 32 random bytes, URL-safe base64
    assert record.token_hash == services.token_hash(issued.token, in_acme)
    assert issued.token not in str(DocumentRequest.objects.filter(pk=record.pk).values().get())
    assert sorted(message.to[0] for message in mail.outbox) == [CLIENT, "second@example.org"]
    assert all(len(message.to) == 1 for message in mail.outbox)
    assert _token_from(mail.outbox[0]) == issued.token
    assert [item.description for item in record.items.all()] == [
        "Passport",
        "Bank statement",
        "Photo",
    ]
    created = _events(Event.DOCUMENT_REQUEST_CREATED)[-1]
    assert created.target_id == str(record.pk)
    assert created.additional_data["recipients"] == [CLIENT, "second@example.org"]
    assert len(_events(Event.DOCUMENT_REQUEST_SENT)) >= 1


def test_a_role_without_the_capability_cannot_create_a_request(in_acme, new_request, as_role):
    with pytest.raises(PermissionDenied):
        new_request(actor=as_role("accountant"))


def test_a_request_for_a_company_of_no_one_is_refused(in_acme, new_request):
    with pytest.raises(ValidationError) as refused:
        new_request(company_id=987654)
    assert refused.value.message_dict == {"company_id": [services.UNKNOWN_COMPANY]}


def test_extending_never_goes_past_ninety_days_from_creation(acme, in_acme, new_request, manager):
    record = new_request(lifetime_days=80).document_request
    with pytest.raises(ValidationError) as refused:
        services.document_request_extend(
            tenant=acme, actor=manager, document_request=record, days=11
        )
    assert refused.value.message_dict == {"days": [services.EXTEND_PAST_LIMIT]}
    extended = services.document_request_extend(
        tenant=acme, actor=manager, document_request=record, days=10
    )
    assert extended.expires_at == record.created_at + timedelta(days=90)
    assert _events(Event.DOCUMENT_REQUEST_EXTENDED)[-1].target_id == str(record.pk)


def test_an_expired_link_opens_nothing(in_acme, new_request):
    issued = new_request(lifetime_days=7)
    assert services.request_for_token(issued.token, tenant=in_acme) == issued.document_request
    with time_machine.travel(timezone.now() + timedelta(days=7, seconds=1)):
        assert services.request_for_token(issued.token, tenant=in_acme) is None


def test_a_revoked_link_opens_nothing_and_cannot_be_revoked_twice(
    acme, in_acme, new_request, manager
):
    issued = new_request()
    services.document_request_revoke(
        tenant=acme, actor=manager, document_request=issued.document_request
    )
    assert services.request_for_token(issued.token, tenant=in_acme) is None
    assert _events(Event.DOCUMENT_REQUEST_REVOKED)[-1].target_id == str(issued.document_request.pk)
    with pytest.raises(ValidationError) as refused:
        services.document_request_revoke(
            tenant=acme, actor=manager, document_request=issued.document_request
        )
    assert refused.value.messages == [services.ALREADY_REVOKED]


def test_resending_emails_a_new_link_and_the_old_one_stops_working(
    acme, in_acme, new_request, manager
):
    issued = new_request()
    mail.outbox.clear()
    with conftest.committed():
        again = services.document_request_resend(
            tenant=acme, actor=manager, document_request=issued.document_request
        )
    assert again.token != issued.token
    assert services.request_for_token(issued.token, tenant=in_acme) is None
    assert services.request_for_token(again.token, tenant=in_acme) == issued.document_request
    assert [_token_from(message) for message in mail.outbox] == [again.token]


def _ask_code(acme, record, email=CLIENT):
    with conftest.committed():
        services.link_code_request(tenant=acme, document_request=record, email=email, ip=IP)


def _confirm(acme, record, code, email=CLIENT):
    return services.link_code_confirm(
        tenant=acme, document_request=record, email=email, code=code, ip=IP
    )


def test_the_emailed_code_lets_the_recipient_in_once_and_is_audited_as_the_link(
    acme, in_acme, new_request, manager
):
    record = new_request().document_request
    mail.outbox.clear()
    _ask_code(acme, record, email="  Client@Example.org ")
    assert [message.to for message in mail.outbox] == [[CLIENT]]
    code = _code_from(mail.outbox[0])
    assert LinkCode.objects.get(request=record).code_hash != code
    assert _confirm(acme, record, code) == CLIENT
    confirmed = _events(Event.DOCUMENT_REQUEST_CODE_CONFIRMED)[-1]
    assert confirmed.actor_kind == ActorKind.DOCUMENT_REQUEST_LINK
    assert confirmed.actor_email == CLIENT
    assert confirmed.actor_id is None
    assert confirmed.additional_data["request_id"] == record.pk
    assert confirmed.additional_data["issued_by"] == manager.user.email
    with pytest.raises(ValidationError) as replayed:
        _confirm(acme, record, code)
    assert replayed.value.message_dict == {"code": [services.CODE_INVALID]}


def test_a_wrong_code_is_refused_counted_and_audited_as_a_failure(acme, in_acme, new_request):
    record = new_request().document_request
    _ask_code(acme, record)
    code = _code_from(mail.outbox[-1])
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(ValidationError):
        _confirm(acme, record, wrong)
    assert LinkCode.objects.get(request=record).failures == 1
    failed = _events(Event.DOCUMENT_REQUEST_CODE_FAILED)[-1]
    assert (failed.outcome, failed.actor_kind, failed.actor_email) == (
        "failure",
        ActorKind.DOCUMENT_REQUEST_LINK,
        CLIENT,
    )


def test_a_code_dies_after_five_wrong_tries(acme, in_acme, new_request):
    record = new_request().document_request
    _ask_code(acme, record)
    code = _code_from(mail.outbox[-1])
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(services.CODE_MAX_FAILURES):
        with pytest.raises(ValidationError):
            _confirm(acme, record, wrong)
    with pytest.raises(ValidationError):
        _confirm(acme, record, code)


def test_a_code_expires_after_ten_minutes(acme, in_acme, new_request):
    record = new_request().document_request
    _ask_code(acme, record)
    code = _code_from(mail.outbox[-1])
    later = timezone.now() + timedelta(minutes=10, seconds=1)
    with time_machine.travel(later), pytest.raises(ValidationError) as refused:
        _confirm(acme, record, code)
    assert refused.value.message_dict == {"code": [services.CODE_INVALID]}


def test_a_newer_code_replaces_the_earlier_one(acme, in_acme, new_request):
    record = new_request().document_request
    _ask_code(acme, record)
    first = _code_from(mail.outbox[-1])
    _ask_code(acme, record)
    second = _code_from(mail.outbox[-1])
    if first != second:
        with pytest.raises(ValidationError):
            _confirm(acme, record, first)
    assert _confirm(acme, record, second) == CLIENT


def test_an_address_the_request_was_not_sent_to_gets_no_code_and_no_hint(
    acme, in_acme, new_request
):
    record = new_request().document_request
    mail.outbox.clear()
    _ask_code(acme, record, email="stranger@example.org")
    assert mail.outbox == []
    assert LinkCode.objects.filter(request=record).count() == 0
    refused = _events(Event.DOCUMENT_REQUEST_CODE_REQUESTED)[-1]
    assert (refused.outcome, refused.actor_email) == ("failure", "stranger@example.org")


def test_code_requests_are_rate_limited_per_address(acme, in_acme, new_request):
    from accounts.throttle import Throttled

    record = new_request().document_request
    for _ in range(5):
        _ask_code(acme, record)
    with pytest.raises(Throttled):
        _ask_code(acme, record)


def test_an_upload_is_stored_under_the_workspace_prefix_and_audited_as_the_link(
    acme, in_acme, new_request, manager
):
    issued = new_request()
    passport = issued.document_request.items.get(description="Passport")
    mail.outbox.clear()
    row = _upload(acme, issued, passport, name="../../etc/pass<port>.pdf")
    assert row.storage_key.startswith(f"{acme.schema_name}/files/")
    assert storage.read(row.storage_key) == TINY_PDF
    assert (row.original_filename, row.content_type, row.uploaded_by_email) == (
        "passport.pdf",
        "application/pdf",
        CLIENT,
    )
    assert RequestItem.objects.get(pk=passport.pk).status == RequestItem.Status.RECEIVED
    uploaded = _events(Event.DOCUMENT_REQUEST_ITEM_UPLOADED)[-1]
    assert uploaded.actor_kind == ActorKind.DOCUMENT_REQUEST_LINK
    assert uploaded.additional_data["issued_by"] == manager.user.email
    assert [message.to for message in mail.outbox] == [[manager.user.email]]


def test_a_file_of_a_type_the_item_does_not_accept_is_refused(acme, in_acme, new_request):
    issued = new_request()
    statement = issued.document_request.items.get(description="Bank statement")
    with pytest.raises(ValidationError) as refused:
        _upload(acme, issued, statement, data=TINY_PNG, name="statement.pdf")
    assert refused.value.message_dict == {
        "file": [services.FILE_TYPE_NOT_ACCEPTED.format(name="statement.pdf", types="PDF")]
    }
    assert Upload.objects.filter(item=statement).count() == 0


def test_a_file_that_is_not_a_known_type_at_all_is_refused(acme, in_acme, new_request):
    issued = new_request()
    passport = issued.document_request.items.get(description="Passport")
    with pytest.raises(ValidationError):
        _upload(acme, issued, passport, data=b"#!/bin/sh\necho hi\n", name="run.pdf")
    assert Upload.objects.filter(item=passport).count() == 0


def test_a_file_over_the_items_size_is_refused(acme, in_acme, new_request):
    issued = new_request()
    passport = issued.document_request.items.get(description="Passport")  # 1 MB
    big = TINY_PDF + b"0" * (1024 * 1024)
    with pytest.raises(ValidationError) as refused:
        _upload(acme, issued, passport, data=big, name="big.pdf")
    assert refused.value.message_dict == {
        "file": [services.FILE_TOO_LARGE.format(name="big.pdf", limit="1")]
    }


def test_a_file_that_would_pass_the_requests_total_is_refused(acme, in_acme, new_request, settings):
    settings.DOCUMENT_REQUEST_TOTAL_MAX_BYTES = len(TINY_PDF) + 10
    issued = new_request()
    items = issued.document_request.items
    _upload(acme, issued, items.get(description="Passport"))
    with pytest.raises(ValidationError) as refused:
        _upload(acme, issued, items.get(description="Bank statement"))
    assert "total" in refused.value.messages[0]
    assert Upload.objects.filter(item__request=issued.document_request).count() == 1


def test_an_upload_replaces_the_earlier_one_until_the_item_is_accepted(
    acme, in_acme, new_request, manager
):
    issued = new_request()
    passport = issued.document_request.items.get(description="Passport")
    first = _upload(acme, issued, passport, name="first.pdf")
    second = _upload(acme, issued, passport, name="second.pdf")
    assert list(Upload.objects.filter(item=passport)) == [second]
    assert not storage.private_storage().exists(first.storage_key)
    services.item_review(tenant=acme, actor=manager, item=passport, accept=True, comment="Ok")
    with pytest.raises(ValidationError) as refused:
        _upload(acme, issued, passport, name="third.pdf")
    assert refused.value.message_dict == {"file": [services.ITEM_ALREADY_ACCEPTED]}
    assert list(Upload.objects.filter(item=passport)) == [second]


def test_a_rejection_needs_a_comment_the_client_sees(acme, in_acme, new_request, manager):
    issued = new_request()
    passport = issued.document_request.items.get(description="Passport")
    _upload(acme, issued, passport)
    with pytest.raises(ValidationError):
        services.item_review(tenant=acme, actor=manager, item=passport, accept=False)
    services.item_review(
        tenant=acme, actor=manager, item=passport, accept=False, comment="Blurred, resend"
    )
    passport.refresh_from_db()
    assert (passport.status, passport.comment) == ("rejected", "Blurred, resend")
    assert (
        _events(Event.DOCUMENT_REQUEST_ITEM_REJECTED)[-1].additional_data["comment"]
        == "Blurred, resend"
    )


def test_a_cancelled_workspace_accepts_no_uploads(acme, in_acme, new_request):
    issued = new_request()
    passport = issued.document_request.items.get(description="Passport")
    Tenant.objects.filter(pk=acme.pk).update(state=Tenant.State.CANCELLED)
    with pytest.raises(PermissionDenied) as refused:
        _upload(acme, issued, passport)
    assert str(refused.value) == services.NOT_ACCEPTING_UPLOADS
    assert Upload.objects.filter(item=passport).count() == 0


class FakeScanner:
    verdicts: dict[bytes, str] = {TINY_PNG: "Eicar-Test-Signature"}

    def infected(self, stream):
        return self.verdicts.get(stream.read())


class DownScanner:
    def infected(self, stream):
        raise scanning.ScanUnavailable("socket missing")


def test_the_malware_scanner_refuses_a_flagged_file_and_audits_it(
    acme, in_acme, new_request, settings, monkeypatch
):
    monkeypatch.setitem(scanning.BACKENDS, "fake", FakeScanner)
    settings.DOCUMENT_UPLOAD_SCANNER = "fake"
    issued = new_request()
    passport = issued.document_request.items.get(description="Passport")
    with pytest.raises(ValidationError) as refused:
        _upload(acme, issued, passport, data=TINY_PNG, name="virus.png")
    assert refused.value.message_dict == {"file": [services.FILE_INFECTED.format(name="virus.png")]}
    flagged = _events(Event.DOCUMENT_REQUEST_ITEM_UPLOADED)[-1]
    assert (flagged.outcome, flagged.additional_data["malware"]) == (
        "failure",
        "Eicar-Test-Signature",
    )
    assert _upload(acme, issued, passport).original_filename == "scan.pdf"  # clean


def test_a_scanner_that_cannot_answer_refuses_the_upload(
    acme, in_acme, new_request, settings, monkeypatch
):
    monkeypatch.setitem(scanning.BACKENDS, "down", DownScanner)
    settings.DOCUMENT_UPLOAD_SCANNER = "down"
    issued = new_request()
    passport = issued.document_request.items.get(description="Passport")
    with pytest.raises(ValidationError) as refused:
        _upload(acme, issued, passport)
    assert refused.value.message_dict == {"file": [services.SCAN_UNAVAILABLE]}


def test_the_clamd_backend_speaks_instream_over_its_unix_socket(tmp_path):
    import socket
    import struct
    import threading

    path = str(tmp_path / "clamd.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    received = bytearray()

    def serve():
        connection, _ = server.accept()
        with connection:
            data = b""
            while True:
                part = connection.recv(65536)
                data += part
                if data.endswith(struct.pack("!L", 0)) or not part:
                    break
            received.extend(data)
            connection.sendall(b"stream: Eicar-Test-Signature FOUND\0")

    thread = threading.Thread(target=serve)
    thread.start()
    verdict = scanning.ClamdScanner(socket_path=path, timeout=5).infected(BytesIO(b"X5O!P%"))
    thread.join(5)
    server.close()
    assert verdict == "Eicar-Test-Signature"
    assert bytes(received) == b"zINSTREAM\0" + struct.pack("!L", 6) + b"X5O!P%" + struct.pack(
        "!L", 0
    )


def test_reminders_go_once_before_expiry_when_required_items_are_missing(
    acme, in_acme, new_request
):
    issued = new_request(lifetime_days=7)
    mail.outbox.clear()
    assert services.reminders_send(tenant=acme) == 0
    with time_machine.travel(timezone.now() + timedelta(days=5)), conftest.committed():
        assert services.reminders_send(tenant=acme) == 1
        assert services.reminders_send(tenant=acme) == 0  # a redelivery sends nothing
    assert [message.to for message in mail.outbox] == [[CLIENT]]
    assert _events(Event.DOCUMENT_REQUEST_REMINDED)[-1].target_id == str(issued.document_request.pk)


def test_company_records_count_and_delete_a_companys_requests_with_their_files(
    acme, in_acme, new_request, company_ids, as_role
):
    from django.db import transaction

    from shop.tests.factories import make_company

    company = make_company(acme, name="Leaving Ltd")
    issued = new_request(company_id=company.pk)
    row = _upload(acme, issued, issued.document_request.items.first())
    assert COMPANY_RECORDS.counts(company.pk) == {
        "document_requests": 1,
        "document_request_items": 3,
        "document_request_uploads": 1,
    }
    other_before = COMPANY_RECORDS.counts(company_ids[0])
    with conftest.committed(), transaction.atomic():
        COMPANY_RECORDS.delete(actor=as_role("owner"), company_id=company.pk)
    assert COMPANY_RECORDS.counts(company.pk) == {
        "document_requests": 0,
        "document_request_items": 0,
        "document_request_uploads": 0,
    }
    assert COMPANY_RECORDS.counts(company_ids[0]) == other_before
    assert not Upload.objects.filter(pk=row.pk).exists()
    assert not storage.private_storage().exists(row.storage_key)
    deleted = _events(Event.DOCUMENT_REQUEST_DELETED)[-1]
    assert deleted.target_id == str(issued.document_request.pk)


def test_the_beat_sweep_reminds_each_workspaces_clients_once(acme, globex, new_request, in_tenant):
    from django.db import connection

    from docrequests.tasks import document_request_reminders_send

    with in_tenant(acme):
        issued = new_request(lifetime_days=7)
    connection.set_schema_to_public()
    mail.outbox.clear()
    with time_machine.travel(timezone.now() + timedelta(days=5)), conftest.committed():
        first = document_request_reminders_send()
        again = document_request_reminders_send()
    assert first >= 1
    assert again == 0
    assert [CLIENT] in [message.to for message in mail.outbox]
    with in_tenant(acme):
        assert DocumentRequest.objects.get(pk=issued.document_request.pk).reminded_at
