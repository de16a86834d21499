"""An accepted upload among the company's files, linked to its request item: the copy the
shop's ``company_files`` declaration writes, what rejecting, replacing, downloading and
deleting the company do to it, and the pages that link the two."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.tests.twofactor_helpers import confirmed_action
from accounts.twofactor.action_codes import Action
from audit.events import Event
from audit.models import AuditEvent
from docrequests import services
from docrequests.files import FILE_SOURCES
from docrequests.models import DocumentRequest, RequestItem, Upload
from kernel import storage
from shop import services as shop_services
from shop.models import StoredFile
from shop.tests.factories import TINY_PDF, TINY_PNG, make_company, upload_of

from . import conftest
from .conftest import CLIENT

pytestmark = pytest.mark.django_db

IP = "198.51.100.9"


def _upload(acme, issued, item, data=TINY_PDF, name="passport.pdf") -> Upload:
    with conftest.committed():
        return services.item_upload(
            tenant=acme,
            document_request=issued.document_request,
            item=item,
            email=CLIENT,
            upload=services.FileIn(upload_of(data), name),
            ip=IP,
        )


def _review(acme, manager, item, *, accept: bool, comment: str = "") -> RequestItem:
    with conftest.committed():
        return services.item_review(
            tenant=acme, actor=manager, item=item, accept=accept, comment=comment
        )


def _passport(issued) -> RequestItem:
    return issued.document_request.items.get(description="Passport")


def test_accepting_puts_a_copy_among_the_companys_files_linked_to_the_item_and_audits_it(
    acme, in_acme, new_request, manager, company_ids
):
    issued = new_request()
    passport = _passport(issued)
    upload = _upload(acme, issued, passport)
    assert not StoredFile.objects.filter(original_filename="passport.pdf").exists()

    _review(acme, manager, passport, accept=True, comment="Thanks")

    upload.refresh_from_db()
    stored = StoredFile.objects.get(pk=upload.stored_file_id)
    assert (stored.company_id, stored.kind, stored.original_filename) == (
        company_ids[0],
        StoredFile.Kind.DOCUMENT,
        "passport.pdf",
    )
    assert (stored.content_type, stored.size, stored.sha256) == (
        upload.content_type,
        upload.size,
        upload.sha256,
    )
    # Its own bytes under the workspace's prefix: deleting one never empties the other.
    assert stored.storage_key != upload.storage_key
    assert stored.storage_key.startswith(f"{acme.schema_name}/files/")
    assert storage.read(stored.storage_key) == TINY_PDF
    accepted = AuditEvent.objects.filter(event_type=Event.DOCUMENT_REQUEST_ITEM_ACCEPTED).last()
    assert accepted.additional_data["stored_file_id"] == stored.pk
    assert accepted.additional_data["upload_id"] == upload.pk
    # The row itself is recorded by django-auditlog, in the same transaction.
    assert AuditEvent.objects.filter(
        target_type="shop.storedfile", target_id=str(stored.pk)
    ).exists()
    source = FILE_SOURCES.sources({stored.pk})[stored.pk]
    assert source.label == "Document request “Onboarding documents”: Passport"
    assert source.url == f"/docrequests/{issued.document_request.pk}/"


def test_accepting_again_keeps_the_one_copy(acme, in_acme, new_request, manager):
    issued = new_request()
    passport = _passport(issued)
    upload = _upload(acme, issued, passport)
    _review(acme, manager, passport, accept=True)
    upload.refresh_from_db()
    first = upload.stored_file_id
    _review(acme, manager, passport, accept=True)
    upload.refresh_from_db()
    assert upload.stored_file_id == first
    assert StoredFile.objects.filter(original_filename="passport.pdf").count() == 1


def test_rejecting_takes_the_copy_out_and_an_accepted_replacement_links_its_own_file(
    acme, in_acme, new_request, manager
):
    issued = new_request()
    passport = _passport(issued)
    first = _upload(acme, issued, passport)
    _review(acme, manager, passport, accept=True)
    first.refresh_from_db()
    first_copy = StoredFile.objects.get(pk=first.stored_file_id)

    _review(acme, manager, passport, accept=False, comment="Expired passport")

    first.refresh_from_db()
    assert first.stored_file_id is None
    assert not StoredFile.objects.filter(pk=first_copy.pk).exists()
    assert not storage.private_storage().exists(first_copy.storage_key)
    assert storage.read(first.storage_key) == TINY_PDF  # the request keeps what was sent
    rejected = AuditEvent.objects.filter(event_type=Event.DOCUMENT_REQUEST_ITEM_REJECTED).last()
    assert rejected.additional_data["removed_file_id"] == first_copy.pk

    replacement = _upload(acme, issued, passport, data=TINY_PNG, name="new-passport.png")
    assert StoredFile.objects.filter(original_filename__contains="passport").count() == 0
    _review(acme, manager, passport, accept=True)

    replacement.refresh_from_db()
    copy = StoredFile.objects.get(pk=replacement.stored_file_id)
    assert copy.pk != first_copy.pk
    assert (copy.original_filename, copy.content_type) == ("new-passport.png", "image/png")
    assert list(
        StoredFile.objects.filter(original_filename__contains="passport").values_list(
            "pk", flat=True
        )
    ) == [copy.pk]


def test_a_refused_review_leaves_no_file_behind(acme, in_acme, new_request, manager):
    issued = new_request()
    passport = _passport(issued)
    before = StoredFile.objects.count()
    with pytest.raises(ValidationError) as refused:
        _review(acme, manager, passport, accept=True)
    assert refused.value.messages == [services.REVIEW_NOTHING_RECEIVED]
    assert StoredFile.objects.count() == before


def test_the_item_and_the_files_pages_link_each_other_and_download_is_the_shops(
    acme, in_acme, new_request, manager, client_for
):
    issued = new_request()
    passport = _passport(issued)
    upload = _upload(acme, issued, passport)
    _review(acme, manager, passport, accept=True)
    upload.refresh_from_db()
    file_id = upload.stored_file_id
    staff = client_for("acme", "manager")

    detail = staff.get(f"/docrequests/{issued.document_request.pk}/").content.decode()
    assert f'href="/files/{file_id}/"' in detail
    listing = staff.get("/files/?q=passport").content.decode()
    assert f'href="/files/{file_id}/"' in listing
    assert "Document request “Onboarding documents”: Passport" in listing
    page = staff.get(f"/files/{file_id}/").content.decode()
    assert f'href="/docrequests/{issued.document_request.pk}/"' in page
    company = staff.get(f"/companies/{issued.document_request.company_id}/").content.decode()
    assert f'href="/files/{file_id}/"' in company

    download = staff.get(f"/files/{file_id}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == TINY_PDF
    assert AuditEvent.objects.filter(
        event_type=Event.FILE_DOWNLOADED, target_id=str(file_id)
    ).exists()


def test_a_copy_deleted_from_the_files_is_said_so_on_the_item_and_accepting_again_restores_it(
    acme, in_acme, new_request, manager, client_for, as_role
):
    issued = new_request()
    passport = _passport(issued)
    upload = _upload(acme, issued, passport)
    _review(acme, manager, passport, accept=True)
    upload.refresh_from_db()
    with conftest.committed():
        shop_services.file_delete(
            tenant=acme,
            actor=as_role("owner"),
            stored_file=StoredFile.objects.get(pk=upload.stored_file_id),
        )
    staff = client_for("acme", "manager")
    detail = staff.get(f"/docrequests/{issued.document_request.pk}/").content.decode()
    assert "its copy was since deleted from the company" in detail

    _review(acme, manager, passport, accept=True)
    upload.refresh_from_db()
    assert StoredFile.objects.filter(pk=upload.stored_file_id).exists()


def test_deleting_the_company_with_its_records_removes_the_requests_and_the_accepted_copy(
    acme, in_acme, new_request, manager, as_role
):
    company = make_company(acme, name="Closing Ltd")
    issued = new_request(company_id=company.pk)
    passport = _passport(issued)
    upload = _upload(acme, issued, passport)
    _review(acme, manager, passport, accept=True)
    upload.refresh_from_db()
    copy = StoredFile.objects.get(pk=upload.stored_file_id)
    owner = as_role("owner")
    confirmation = confirmed_action(
        actor=owner, tenant=acme, action=Action.COMPANY_DELETE_WITH_RECORDS, target=company
    )

    with conftest.committed():
        records = shop_services.company_delete_with_records(
            tenant=acme, actor=owner, company=company, confirmation=confirmation
        )

    assert (records.files, dict(records.declared)["document_request_uploads"]) == (1, 1)
    assert not DocumentRequest.objects.filter(company_id=company.pk).exists()
    assert not StoredFile.objects.filter(pk=copy.pk).exists()
    for key in (copy.storage_key, upload.storage_key):
        assert not storage.private_storage().exists(key)


def test_a_file_uploaded_by_a_member_has_no_request_source(acme, in_acme, company_ids, as_role):
    stored = shop_services.file_upload(
        tenant=acme,
        actor=as_role("owner"),
        company=make_company(acme, name="Plain Ltd"),
        upload=SimpleUploadedFile("plain.pdf", TINY_PDF),
        filename="plain.pdf",
    )
    assert FILE_SOURCES.sources({stored.pk}) == {}
