"""Document request links after an export and import: the archive carries the requests
exactly (token hashes included, and the accepted upload's link to its company file), but a
link issued before the export opens nothing in the imported workspace until a member there
resends it (docs/security-model.md, "Document request links")."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import tenant_context

from docrequests import services
from docrequests.models import DocumentRequest, Upload
from kernel import storage
from kernel.roles import Role
from rbac.models import Membership
from shop.models import StoredFile
from shop.tests.factories import TINY_PDF, upload_of
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

CLIENT = "import-client@example.org"


def _open(tenant: Tenant, token: str):
    return Client(HTTP_HOST=f"{tenant.slug}.localhost").get(f"/r/{token}/")


def _page(response) -> str:
    return re.sub(r'"X-CSRFToken": "[^"]*"', "", response.content.decode())


def test_links_issued_before_an_export_open_nothing_in_the_imported_copy_until_resent(
    acme, run_export, archive_copy, django_capture_on_commit_callbacks
):
    manager = Membership.objects.get(tenant=acme, role=Role.MANAGER)
    company_id = (
        Membership.objects.filter(tenant=acme, role=Role.CUSTOMER)
        .order_by("pk")
        .values_list("company_id", flat=True)
        .first()
    )
    with tenant_context(acme), django_capture_on_commit_callbacks(execute=True):
        issued = services.document_request_create(
            tenant=acme,
            actor=manager,
            company_id=company_id,
            recipients=[CLIENT],
            title="Before the move",
            items=[services.ItemSpec("Passport")],
            lifetime_days=30,
        )
        item = issued.document_request.items.get()
        services.item_upload(
            tenant=acme,
            document_request=issued.document_request,
            item=item,
            email=CLIENT,
            upload=services.FileIn(upload_of(TINY_PDF), "passport.pdf"),
            ip="192.0.2.44",
        )
        services.item_review(tenant=acme, actor=manager, item=item, accept=True)
        upload = Upload.objects.get(item=item)
    path = archive_copy(run_export(acme))
    call_command(
        "import_workspace", str(path), "--slug", "acme-links", "--restore-members",
        stdout=io.StringIO(),
    )  # fmt: skip
    copy = Tenant.objects.get(slug="acme-links")

    with tenant_context(copy):
        restored = DocumentRequest.objects.get(pk=issued.document_request.pk)
        # Exact: the same hash, the same link between the upload and its company file.
        assert restored.token_hash == issued.document_request.token_hash
        restored_upload = Upload.objects.get(pk=upload.pk)
        assert restored_upload.stored_file_id == upload.stored_file_id
        company_file = StoredFile.objects.get(pk=upload.stored_file_id)
        assert storage.read(company_file.storage_key) == TINY_PDF

    # The original still opens on its own host; on the copy's host the same link is an
    # unknown one, and says nothing more.
    assert _open(acme, issued.token).status_code == 302
    on_copy = _open(copy, issued.token)
    unknown = _open(copy, "z" * 43)
    assert on_copy.status_code == unknown.status_code == 404
    assert _page(on_copy) == _page(unknown)
    assert "Before the move" not in on_copy.content.decode()

    # A member of the copy emails a fresh link, which opens the request there (only there).
    copy_manager = Membership.objects.get(tenant=copy, role=Role.MANAGER)
    with tenant_context(copy), django_capture_on_commit_callbacks(execute=True):
        again = services.document_request_resend(
            tenant=copy, actor=copy_manager, document_request=restored
        )
    assert _open(copy, again.token).status_code == 302
    assert _open(acme, again.token).status_code == 404
