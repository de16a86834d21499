"""Files: sniffed types, size limit, private keys, downloads only for those who may see them."""

from __future__ import annotations

import hashlib
import re
import zipfile
from io import BytesIO
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from kernel.samples import pdf_bytes, png_bytes
from shop import services, storage
from shop.models import StoredFile
from shop.tests import factories
from shop.tests.factories import (
    EXE_BYTES,
    HTML_BYTES,
    TINY_PDF,
    TINY_PNG,
    make_company,
    make_file,
    make_order,
    uploaded_file,
)

pytestmark = pytest.mark.django_db

KEY = re.compile(r"^ws_acme/files/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")


def url(name: str, pk: int | None = None) -> str:
    args = [pk] if pk is not None else []
    return reverse(f"shop:{name}", urlconf="config.urls_tenant", args=args)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def zip_bytes() -> bytes:
    buffer = BytesIO()
    # A fixed timestamp: the bytes name a parametrized test, and every xdist worker must
    # collect the same name (the clock would differ between workers across a 2-second tick).
    member = zipfile.ZipInfo("artwork/readme.txt", date_time=(2026, 1, 1, 0, 0, 0))
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, "vector files inside")
    return buffer.getvalue()


# --- Upload rules --------------------------------------------------------------------------


def test_upload_is_stored_privately_under_a_random_tenant_key(in_acme):
    company = make_company(in_acme)
    stored = make_file(in_acme, company=company, filename="Bakery logo FINAL.pdf")
    assert KEY.match(stored.storage_key)
    assert "Bakery" not in stored.storage_key
    assert (stored.content_type, stored.extension) == ("application/pdf", "pdf")
    assert stored.size == len(TINY_PDF)
    assert stored.sha256 == hashlib.sha256(TINY_PDF).hexdigest()
    assert storage.read(stored.storage_key) == TINY_PDF
    assert stored.original_filename == "Bakery logo FINAL.pdf"


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (TINY_PDF, "application/pdf"),
        (TINY_PNG, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image/jpeg"),
        (b"GIF89a" + b"\x00" * 64, "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 64, "image/webp"),
        (b"II*\x00" + b"\x00" * 64, "image/tiff"),
        (b"8BPS\x00\x01" + b"\x00" * 64, "image/vnd.adobe.photoshop"),
        (zip_bytes(), "application/zip"),
    ],
)
def test_allowed_types_are_recognised_from_their_bytes(in_acme, data, content_type):
    stored = make_file(in_acme, company=make_company(in_acme), data=data, filename="upload.bin")
    assert stored.content_type == content_type


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (EXE_BYTES, "invoice.pdf"),  # a Windows executable renamed .pdf
        (HTML_BYTES, "logo.png"),  # HTML pretending to be an image
        (b"#!/bin/sh\nrm -rf /\n", "artwork.tif"),
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "logo.svg"),
    ],
)
def test_disguised_or_unlisted_files_are_refused_and_nothing_is_stored(in_acme, data, filename):
    company = make_company(in_acme)
    with pytest.raises(ValidationError) as excinfo:
        make_file(in_acme, company=company, data=data, filename=filename)
    assert excinfo.value.message_dict == {"upload": [services.FILE_TYPE_NOT_ALLOWED]}
    assert not StoredFile.objects.filter(company=company).exists()


def test_oversized_upload_is_refused_before_anything_is_stored(in_acme, settings):
    settings.FILE_UPLOAD_MAX_BYTES = 1024
    company = make_company(in_acme)
    big = TINY_PDF + b"%" * 2048
    with pytest.raises(ValidationError) as excinfo:
        make_file(in_acme, company=company, data=big)
    assert excinfo.value.message_dict == {"upload": ["The file is too large. The limit is 1 KB."]}
    assert excinfo.value.messages == [services.file_too_large_message()]
    assert not StoredFile.objects.filter(company=company).exists()


def test_empty_upload_is_refused(in_acme):
    with pytest.raises(ValidationError) as excinfo:
        make_file(in_acme, company=make_company(in_acme), data=b"")
    assert excinfo.value.message_dict == {"upload": [services.FILE_EMPTY]}


def test_file_cannot_be_attached_to_another_companys_order(in_acme):
    order = make_order(in_acme, company=make_company(in_acme, name="A Co"))
    with pytest.raises(ValidationError) as excinfo:
        make_file(in_acme, company=make_company(in_acme, name="B Co"), order=order)
    assert excinfo.value.message_dict == {"order": [services.FILE_ORDER_OTHER_COMPANY]}


def test_path_in_the_filename_is_dropped(in_acme):
    stored = make_file(in_acme, company=make_company(in_acme), filename="..\\..\\etc/passwd.pdf")
    assert stored.original_filename == "passwd.pdf"


def test_bytes_are_removed_again_when_the_row_cannot_be_saved(in_acme, monkeypatch):
    company = make_company(in_acme)
    written = []
    real_write = storage.write
    monkeypatch.setattr(
        storage, "write", lambda key, stream: (written.append(key), real_write(key, stream))
    )

    def broken_save(self, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(StoredFile, "save", broken_save)
    with pytest.raises(RuntimeError):
        make_file(in_acme, company=company)
    assert len(written) == 1
    assert not storage.private_storage().exists(written[0])


def test_customer_admin_can_upload_only_to_their_own_company(in_acme, as_role, company_two):
    with pytest.raises(PermissionDenied):
        make_file(in_acme, company=company_two, actor=as_role("company_admin"))


# --- Delete --------------------------------------------------------------------------------


def test_deleting_a_file_removes_the_bytes_only_after_commit(
    in_acme, owner, django_capture_on_commit_callbacks
):
    stored = make_file(in_acme, company=make_company(in_acme))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.file_delete(tenant=in_acme, actor=owner, stored_file=stored)
    assert not StoredFile.objects.filter(pk=stored.pk).exists()
    assert storage.private_storage().exists(stored.storage_key)  # not before the commit
    for callback in callbacks:
        callback()
    assert not storage.private_storage().exists(stored.storage_key)


# --- Download ------------------------------------------------------------------------------


def test_download_streams_an_attachment_with_the_sniffed_type_and_nosniff(in_acme, client_for):
    stored = make_file(in_acme, company=make_company(in_acme), filename="proof v2.pdf")
    response = client_for("acme", "designer").get(url("file-download", stored.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="proof v2.pdf"' in response["Content-Disposition"]
    assert response["Cache-Control"] == "private, no-store"
    assert body_of(response) == TINY_PDF


def test_download_name_gets_the_real_extension_when_the_name_lies(in_acme, client_for):
    stored = make_file(in_acme, company=make_company(in_acme), data=TINY_PNG, filename="x.html")
    response = client_for("acme", "owner").get(url("file-download", stored.pk))
    assert response["Content-Type"] == "image/png"
    assert 'filename="x.html.png"' in response["Content-Disposition"]


def test_download_on_s3_redirects_to_a_short_lived_presigned_url(
    in_acme, client_for, monkeypatch, settings
):
    stored = make_file(in_acme, company=make_company(in_acme))
    calls = []

    class FakeS3:
        querystring_auth = True

        def url(self, name, parameters=None, expire=None):
            calls.append((name, parameters, expire))
            return f"https://bucket.example/{name}?X-Amz-Expires={expire}&X-Amz-Signature=abc"

    settings.SIGNED_FILE_URL_SECONDS = 600  # a misconfiguration is capped at 60 seconds
    # The download is served by the ground floor's storage (shop.storage re-exports it).
    from kernel import storage as kernel_storage

    monkeypatch.setattr(kernel_storage, "private_storage", FakeS3)
    response = client_for("acme", "owner").get(url("file-download", stored.pk))
    assert response.status_code == 302
    location = urlparse(response["Location"])
    assert location.path == f"/{stored.storage_key}"
    assert parse_qs(location.query)["X-Amz-Expires"] == ["60"]
    _name, parameters, expire = calls[0]
    assert expire == 60
    assert parameters["ResponseContentType"] == "application/pdf"
    assert parameters["ResponseContentDisposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_customer_of_company_one_cannot_download_company_twos_file(
    in_acme, client_for, company_two
):
    two_file = StoredFile.objects.filter(company=company_two, quote__isnull=True).first()
    client = client_for("acme", "customer")
    forbidden = client.get(url("file-download", two_file.pk))
    missing = client.get(url("file-download", 999_999_999))
    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.content == missing.content
    assert body_of(forbidden).find(b"%PDF") == -1


def test_customer_cannot_download_artwork_of_a_draft_quote(in_acme, client_for, company_one):
    draft_file = StoredFile.objects.get(company=company_one, quote__status="draft")
    assert (
        client_for("acme", "customer").get(url("file-download", draft_file.pk)).status_code == 404
    )


def test_installer_downloads_files_of_assigned_orders_only(in_acme, client_for, member):
    company = make_company(in_acme)
    mine = make_file(
        in_acme,
        company=company,
        order=make_order(in_acme, company=company, assignee=member("acme", "installer")),
    )
    other = make_file(in_acme, company=company, order=make_order(in_acme, company=company))
    client = client_for("acme", "installer")
    assert client.get(url("file-download", mine.pk)).status_code == 200
    assert client.get(url("file-download", other.pk)).status_code == 404


# --- Upload through the page ---------------------------------------------------------------


def test_upload_page_stores_the_file_and_ignores_the_claimed_content_type(in_acme, client_for):
    company = make_company(in_acme)
    response = client_for("acme", "designer").post(
        url("file-upload"),
        {
            "upload": uploaded_file("mock-up.pdf", pdf_bytes("Mock-up"), "text/html"),
            "kind": "proof",
            "company": company.pk,
        },
    )
    stored = StoredFile.objects.get(company=company)
    assert response.status_code == 302
    assert response["Location"] == url("file-detail", stored.pk)
    assert stored.content_type == "application/pdf"


def test_html_claiming_to_be_a_png_is_refused_with_a_form_error(in_acme, client_for):
    company = make_company(in_acme)
    response = client_for("acme", "owner").post(
        url("file-upload"),
        {
            "upload": uploaded_file("cat.png", HTML_BYTES, "image/png"),
            "kind": "artwork",
            "company": company.pk,
        },
    )
    assert response.status_code == 400
    assert services.FILE_TYPE_NOT_ALLOWED.encode() in response.content
    assert not StoredFile.objects.filter(company=company).exists()


def test_oversized_upload_through_the_page_is_a_form_error(in_acme, client_for, settings):
    settings.FILE_UPLOAD_MAX_BYTES = 100
    company = make_company(in_acme)
    response = client_for("acme", "owner").post(
        url("file-upload"),
        {
            "upload": uploaded_file("big.png", png_bytes(64, 64), "image/png"),
            "kind": "artwork",
            "company": company.pk,
        },
    )
    assert response.status_code == 400
    assert b"The file is too large." in response.content
    assert not StoredFile.objects.filter(company=company).exists()


def test_company_admin_cannot_forge_another_companys_id_in_the_upload_form(
    in_acme, client_for, company_two
):
    before = StoredFile.objects.count()
    response = client_for("acme", "company_admin").post(
        url("file-upload"),
        {
            "upload": uploaded_file("a.pdf", TINY_PDF, "application/pdf"),
            "kind": "artwork",
            "company": company_two.pk,
        },
    )
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    assert StoredFile.objects.count() == before


def test_company_admin_uploads_to_their_company(in_acme, client_for, company_one):
    response = client_for("acme", "company_admin").post(
        url("file-upload"),
        {
            "upload": uploaded_file("brief.pdf", TINY_PDF, "application/pdf"),
            "kind": "document",
            "company": company_one.pk,
        },
    )
    assert response.status_code == 302
    stored = StoredFile.objects.get(original_filename="brief.pdf")
    assert stored.company_id == company_one.pk
    assert stored.uploaded_by == factories.membership(in_acme, "company_admin").user


def test_customer_without_upload_capability_gets_403(in_acme, client_for):
    assert client_for("acme", "customer").get(url("file-upload")).status_code == 403


def test_file_delete_page_confirms_then_deletes(in_acme, client_for):
    stored = make_file(in_acme, company=make_company(in_acme))
    client = client_for("acme", "designer")
    page = client.get(url("file-delete", stored.pk))
    assert page.status_code == 200
    assert b"Delete file" in page.content
    assert StoredFile.objects.filter(pk=stored.pk).exists()
    response = client.post(url("file-delete", stored.pk))
    assert response.status_code == 302
    assert not StoredFile.objects.filter(pk=stored.pk).exists()


def test_sample_pdf_has_a_consistent_cross_reference_table():
    data = pdf_bytes("Check (me)")
    startxref = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert data[startxref:].startswith(b"xref")
    offsets = [int(row[:10]) for row in data[startxref:].split(b"\n")[3:8]]
    for number, offset in enumerate(offsets, start=1):
        assert data[offset:].startswith(f"{number} 0 obj".encode())
