"""The demo's document requests (declared as DocRequestsConfig.demo_seeder, run by
workspace.demo inside the workspace's schema): for the first five companies, one request in
each state a member meets: open with everything missing, partly received, complete and
accepted (its files among the company's files), expired, and revoked (companies are reused
when a workspace has fewer).

Invariants: seeding creates only what is missing (the demo's requests are recognised by their
titles) and sends no email. Like the demo password, the one usable link is never printed or
logged: the open request's link is written to ``.local/demo-document-request-<slug>`` (mode
0600, git-ignored), and `make run` prints only that path. Only the token's hash is in the
database, so when the file is missing its request gets a fresh token (the old link dies).
Demo rows are not audited (auditlog is off while it runs, as for the desk's demo): the demo
workspace is not a customer's data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from io import BytesIO
from pathlib import Path

from auditlog.context import disable_auditlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from kernel import storage
from kernel.roles import Role
from kernel.samples import pdf_bytes
from rbac.companies import company_choices
from rbac.models import Membership
from tenants.models import Tenant
from tenants.selectors import workspace_url

from . import services
from .files import company_files
from .models import DocumentRequest, RequestItem, Upload

DEMO_LINK_FILE_PREFIX = "demo-document-request-"
ITEMS = (("Signed contract", True), ("Passport (both pages)", True), ("Last payslip", False))


@dataclass(frozen=True)
class DemoRequest:
    title: str
    age_days: int  # created this many days ago
    lifetime_days: int
    received: int  # how many items the client sent
    accepted: bool = False
    revoked: bool = False


DEMO_REQUESTS = (
    DemoRequest("Onboarding documents (open, nothing sent yet)", 2, 30, received=0),
    DemoRequest("Annual review papers (partly received)", 5, 30, received=1),
    DemoRequest("Lease renewal (complete, accepted)", 12, 30, received=3, accepted=True),
    DemoRequest("Insurance claim (expired)", 40, 30, received=1),
    DemoRequest("Grant application (revoked)", 10, 30, received=0, revoked=True),
)
LINK_REQUEST = DEMO_REQUESTS[0].title


def demo_link_file(slug: str) -> Path:
    return Path(settings.LOCAL_STATE_DIR) / f"{DEMO_LINK_FILE_PREFIX}{slug}"


def seed_demo_records(*, tenant: Tenant, staff_users: dict[str, User]) -> dict[str, int]:
    with disable_auditlog():
        return _seed(tenant=tenant, staff_users=staff_users)


def _seed(*, tenant: Tenant, staff_users: dict[str, User]) -> dict[str, int]:
    counts = {"document_requests": 0}
    issuer = staff_users.get(Role.MANAGER.value) or staff_users[Role.OWNER.value]
    owner = Membership.objects.select_related("tenant").get(
        tenant=tenant, user=staff_users[Role.OWNER.value]
    )
    existing = set(
        DocumentRequest.objects.filter(
            title__in=[demo.title for demo in DEMO_REQUESTS]
        ).values_list("title", flat=True)
    )
    companies = company_choices(viewer=owner)
    now = timezone.now()
    written: list[str] = []
    try:
        with transaction.atomic():
            for index, demo in enumerate(DEMO_REQUESTS if companies else ()):
                # One company each while there are enough (the demo has dozens).
                company_id = companies[index % len(companies)][0]
                if demo.title in existing:
                    continue
                written += _create(tenant, issuer, company_id, demo, now)
                counts["document_requests"] += 1
            _link_file_write(tenant)
    except BaseException:
        for key in written:
            storage.delete(key)
        raise
    return counts


def _create(tenant: Tenant, issuer: User, company_id: int, demo: DemoRequest, now) -> list[str]:
    """One demo request with its items and uploads; returns the storage keys written."""
    created = now - timedelta(days=demo.age_days)
    document_request = DocumentRequest(
        company_id=company_id,
        recipients=[f"client{company_id}@{tenant.slug}-clients.example"],
        title=demo.title,
        message="Please send these documents through the link; no account needed.",
        issued_by=issuer,
        created_at=created,
        expires_at=created + timedelta(days=demo.lifetime_days),
    )
    services._new_token(document_request, tenant)  # this token is thrown away
    if demo.revoked:
        document_request.status = DocumentRequest.Status.REVOKED
        document_request.revoked_at = now - timedelta(days=3)
    document_request.save()
    keys: list[str] = []
    for position, (description, required) in enumerate(ITEMS):
        item = RequestItem.objects.create(
            request=document_request,
            position=position,
            description=description,
            required=required,
            accepted_types=["pdf", "jpg", "png"],
            max_size_bytes=10 * 1024 * 1024,
        )
        if position >= demo.received:
            continue
        data = pdf_bytes(f"{description} - demo")
        key = storage.storage_key_for(tenant.schema_name)
        storage.write(key, BytesIO(data))
        keys.append(key)
        filename = description.split(" (")[0].lower().replace(" ", "-") + ".pdf"
        upload = Upload.objects.create(
            item=item,
            original_filename=filename,
            content_type="application/pdf",
            extension="pdf",
            size=len(data),
            sha256=storage.sha256_of(BytesIO(data)),
            storage_key=key,
            uploaded_by_email=document_request.recipients[0],
            uploaded_at=created + timedelta(days=1, hours=position),
        )
        item.status = RequestItem.Status.RECEIVED
        provider = company_files()
        if demo.accepted and provider is not None:
            item.status = RequestItem.Status.ACCEPTED
            item.comment = "Thank you, received in good order."
            copy_key = storage.storage_key_for(tenant.schema_name)
            storage.write(copy_key, BytesIO(data))
            keys.append(copy_key)
            upload.stored_file_id = provider.add(
                company_id=company_id,
                storage_key=copy_key,
                filename=filename,
                content_type=upload.content_type,
                extension=upload.extension,
                size=upload.size,
                sha256=upload.sha256,
            )
            upload.save(update_fields=["stored_file_id"])
        item.save(update_fields=["status", "comment"])
    return keys


def _link_file_write(tenant: Tenant) -> None:
    """Give the open demo request a link whose token only the 0600 file holds."""
    path = demo_link_file(tenant.slug)
    open_request = DocumentRequest.objects.filter(title=LINK_REQUEST).first()
    if open_request is None or path.exists():
        return
    token = services._new_token(open_request, tenant)
    open_request.save(update_fields=["token_hash"])
    # Only once the hash is committed: a file never holds a link the database forgot.
    link = workspace_url(tenant, services.link_path(token))
    transaction.on_commit(partial(_secret_write, path, link))


def _secret_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text + "\n")
