"""Every write of document requests: the member's side (create, send, extend, revoke, review)
and the client's side through the link (code request and confirmation, uploads).

Each service authorises (a member through ``rbac.authz``; a client through a live link and,
when the request requires it, a confirmed code), validates, writes and records its audit event
(``audit.services``) in one transaction, and sends email on commit. A client's events have
actor kind "document request link": the actor email is the address the client gave or
verified, and the data names the request and the member who issued it. The link's token
never reaches the database, a log line or an audit row: only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from functools import partial
from io import BytesIO
from typing import IO

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import throttle
from audit.events import Event
from audit.models import Outcome
from audit.services import audit_event_record
from kernel import capabilities as caps
from kernel import storage
from kernel.capabilities import Capability
from kernel.context import ActorKind
from kernel.email import email_send
from kernel.text import record_check
from rbac.authz import authorize
from rbac.companies import company_exists
from rbac.models import Membership
from tenants.models import Tenant
from tenants.selectors import workspace_url
from tenants.writability import require_writable

from . import scanning
from .files import company_files
from .models import (
    MAX_LIFETIME_DAYS,
    MIN_LIFETIME_DAYS,
    DocumentRequest,
    LinkCode,
    RequestItem,
    Upload,
)

TOKEN_BYTES = 32  # 256 bits
CODE_DIGITS = 6
CODE_SECONDS = 10 * 60
CODE_MAX_FAILURES = 5
MAX_ITEMS = 30
REMIND_DAYS_BEFORE_EXPIRY = 3

# Messages users see.
LIFETIME_OUT_OF_RANGE = (
    f"A link lives from {MIN_LIFETIME_DAYS} to {MAX_LIFETIME_DAYS} days. Choose a lifetime "
    "in that range."
)
EXTEND_PAST_LIMIT = (
    f"A link cannot live past {MAX_LIFETIME_DAYS} days from when the request was created."
)
NO_ITEMS = "List at least one document you are asking for."
TOO_MANY_ITEMS = f"Ask for at most {MAX_ITEMS} documents in one request."
NO_RECIPIENTS = "Send the request to at least one contact's email address."
UNKNOWN_COMPANY = "Choose one of the workspace's companies."
NOT_LIVE = "This request's link has expired or was revoked."
ALREADY_REVOKED = "This request's link was already revoked."
UNKNOWN_TYPE = "Accept only these kinds of file: " + storage.ALLOWED_TYPE_NAMES + "."
ITEM_SIZE_OUT_OF_RANGE = "A document's size limit must be between 1 and {limit} MB."
CODE_INVALID = (
    "That code is not right, has expired or was already used. Check the latest email we sent, "
    "or ask for a new code."
)
NOT_A_RECIPIENT = "Enter the email address this request was sent to."
FILE_EMPTY = "The file “{name}” is empty."
FILE_TOO_LARGE = "The file “{name}” is too large. This document may be at most {limit} MB."
FILE_TYPE_NOT_ACCEPTED = "“{name}” is not a kind of file accepted here. Send {types}."
REQUEST_TOTAL_TOO_LARGE = (
    "This upload would take the request past its total of {limit} MB. Send smaller files."
)
ITEM_ALREADY_ACCEPTED = "This document was already accepted and can no longer be replaced."
FILE_INFECTED = "“{name}” was refused: our malware scan flagged it."
SCAN_UNAVAILABLE = "We cannot check files for malware right now. Please try again later."
REVIEW_NOTHING_RECEIVED = "Nothing was uploaded for this document yet."
REJECT_NEEDS_COMMENT = "Tell the client why the document is rejected."
NOT_ACCEPTING_UPLOADS = "This workspace is not accepting uploads."

TYPE_NAMES = {
    "pdf": "PDF",
    "png": "PNG",
    "jpg": "JPEG",
    "gif": "GIF",
    "webp": "WebP",
    "tif": "TIFF",
    "psd": "Photoshop (PSD)",
    "zip": "ZIP",
}
ACCEPTABLE_TYPES = tuple(TYPE_NAMES)

# The one limiter (accounts.throttle): per link (the request), per address and per email.
CODE_REQUEST = throttle.Limit(
    name="docrequest_code_request",
    rules=(
        throttle.Rate(throttle.Per.IP, 20, 60 * 60),
        throttle.Rate(throttle.Per.LINK, 10, 60 * 60),
        throttle.Rate(throttle.Per.EMAIL, 5, 60 * 60),
    ),
    message="Too many codes were asked for. Please wait a while and try again.",
    event=Event.REQUEST_THROTTLED,
)
CODE_CONFIRM = throttle.Limit(
    name="docrequest_code_confirm",
    rules=(
        throttle.Rate(throttle.Per.IP, 30, 60 * 60),
        throttle.Rate(throttle.Per.LINK, 15, 60 * 60),
    ),
    message="Too many codes were tried. Please wait a while and try again.",
    event=Event.REQUEST_THROTTLED,
)
UPLOAD = throttle.Limit(
    name="docrequest_upload",
    rules=(
        throttle.Rate(throttle.Per.IP, 100, 60 * 60),
        throttle.Rate(throttle.Per.LINK, 60, 60 * 60),
    ),
    message="Too many uploads. Please wait a while and try again.",
    event=Event.REQUEST_THROTTLED,
)


def token_hash(token: str, tenant: Tenant) -> str:
    """The SHA-256 of the token bound to the workspace that issued it (its id and the instant
    it was created). The same token in any other workspace hashes differently and opens
    nothing, and that includes a copy of this workspace imported from an export: the archive
    carries the hashes unchanged (the round trip stays exact), but the imported workspace is
    a new one, so links issued before the export are dead there until a member resends them
    (docs/security-model.md, "Document request links")."""
    created = tenant.created_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%f")
    bound = f"{tenant.pk}:{created}:{token}"
    return hashlib.sha256(bound.encode("utf-8", "replace")).hexdigest()


def link_subject(document_request: DocumentRequest) -> str:
    """What the limiter counts a link by: the request, never its token."""
    return f"docrequest:{document_request.pk}"


def link_path(token: str) -> str:
    return reverse("docrequests:link-open", kwargs={"token": token})


@dataclass(frozen=True)
class ItemSpec:
    description: str
    required: bool = True
    accepted_types: Sequence[str] = ()
    max_size_mb: int = 10


@dataclass(frozen=True)
class LinkClient:
    """The actor of a client's event: nobody's account, the address given or verified."""

    email: str
    pk: None = None
    full_name: str = "Document request link"


@dataclass
class FileIn:
    stream: IO[bytes]
    name: str


@dataclass
class Issued:
    document_request: DocumentRequest
    token: str = field(repr=False)


# --- The member's side


def _authorize(*, tenant: Tenant, actor: Membership | None, capability: Capability) -> Membership:
    schema_name: str = connection.schema_name  # type: ignore[attr-defined]
    if schema_name != tenant.schema_name:
        raise RuntimeError(f"docrequests service for {tenant.schema_name} on {schema_name}")
    return authorize(tenant, actor, capability)


def _new_token(document_request: DocumentRequest, tenant: Tenant) -> str:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    document_request.token_hash = token_hash(token, tenant)
    return token


def _lifetime_check(days: int) -> None:
    if not MIN_LIFETIME_DAYS <= days <= MAX_LIFETIME_DAYS:
        raise ValidationError({"lifetime_days": LIFETIME_OUT_OF_RANGE})


def _item_check(spec: ItemSpec) -> None:
    if any(kind not in ACCEPTABLE_TYPES for kind in spec.accepted_types):
        raise ValidationError({"items": UNKNOWN_TYPE})
    limit = settings.FILE_UPLOAD_MAX_BYTES // (1024 * 1024)
    if not 1 <= spec.max_size_mb <= limit:
        raise ValidationError({"items": ITEM_SIZE_OUT_OF_RANGE.format(limit=limit)})


def _send_link(tenant: Tenant, document_request: DocumentRequest, token: str) -> None:
    """One message per recipient (they do not see each other), after commit."""
    link = workspace_url(tenant, link_path(token))
    subject = f"{tenant.name}: {document_request.title}"
    lines = [
        f"{tenant.name} asks you for documents: {document_request.title}",
        "",
        document_request.message,
        "",
        "Send them here (no account needed):",
        link,
        "",
        f"This link works until {document_request.expires_at:%d %B %Y}.",
    ]
    body = "\n".join(lines)
    for address in list(document_request.recipients):
        transaction.on_commit(partial(email_send, to=[address], subject=subject, body=body))


def document_request_create(
    *,
    tenant: Tenant,
    actor: Membership,
    company_id: int,
    recipients: Sequence[str],
    title: str,
    message: str = "",
    items: Sequence[ItemSpec],
    lifetime_days: int,
    require_code: bool = True,
) -> Issued:
    """Create the request with its checklist, email the link to every recipient, and return
    the token once (for the member to copy); only its hash is kept."""
    current = _authorize(tenant=tenant, actor=actor, capability=caps.DOCREQUESTS_MANAGE)
    _lifetime_check(lifetime_days)
    if not items:
        raise ValidationError({"items": NO_ITEMS})
    if len(items) > MAX_ITEMS:
        raise ValidationError({"items": TOO_MANY_ITEMS})
    for spec in items:
        _item_check(spec)
    addresses = sorted({address.strip().lower() for address in recipients if address.strip()})
    if not addresses:
        raise ValidationError({"recipients": NO_RECIPIENTS})
    if not company_exists(tenant, company_id):
        raise ValidationError({"company_id": UNKNOWN_COMPANY})
    with transaction.atomic():
        require_writable(tenant)
        now = timezone.now()
        document_request = DocumentRequest(
            company_id=company_id,
            recipients=addresses,
            title=title,
            message=message,
            require_code=require_code,
            issued_by=current.user,
            created_at=now,
            expires_at=now + timedelta(days=lifetime_days),
        )
        token = _new_token(document_request, tenant)
        record_check(document_request)
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError as error:
                raise ValidationError(
                    {"recipients": f"“{address}” is not an email address."}
                ) from error
        document_request.save()
        for position, spec in enumerate(items):
            item = RequestItem(
                request=document_request,
                position=position,
                description=spec.description,
                required=spec.required,
                accepted_types=list(spec.accepted_types),
                max_size_bytes=spec.max_size_mb * 1024 * 1024,
            )
            record_check(item, exclude=["request"])
            item.save()
        audit_event_record(
            event_type=Event.DOCUMENT_REQUEST_CREATED,
            target=document_request,
            data={
                "company_id": company_id,
                "recipients": addresses,
                "items": len(items),
                "lifetime_days": lifetime_days,
                "require_code": require_code,
            },
        )
        audit_event_record(
            event_type=Event.DOCUMENT_REQUEST_SENT,
            target=document_request,
            data={"recipients": addresses},
        )
        _send_link(tenant, document_request, token)
    return Issued(document_request, token)


def _locked(document_request: DocumentRequest) -> DocumentRequest:
    return DocumentRequest.objects.select_for_update().get(pk=document_request.pk)


def document_request_resend(
    *, tenant: Tenant, actor: Membership, document_request: DocumentRequest
) -> Issued:
    """Email a fresh link (the previous one stops working: only one hash is kept)."""
    _authorize(tenant=tenant, actor=actor, capability=caps.DOCREQUESTS_MANAGE)
    with transaction.atomic():
        require_writable(tenant)
        locked = _locked(document_request)
        if not locked.is_live():
            raise ValidationError(NOT_LIVE)
        token = _new_token(locked, tenant)
        locked.save(update_fields=["token_hash"])
        audit_event_record(
            event_type=Event.DOCUMENT_REQUEST_SENT,
            target=locked,
            data={"recipients": locked.recipients, "resent": True},
        )
        _send_link(tenant, locked, token)
    return Issued(locked, token)


def document_request_extend(
    *, tenant: Tenant, actor: Membership, document_request: DocumentRequest, days: int
) -> DocumentRequest:
    """Move the expiry ``days`` later, never past ``MAX_LIFETIME_DAYS`` from creation."""
    _authorize(tenant=tenant, actor=actor, capability=caps.DOCREQUESTS_MANAGE)
    if days < 1:
        raise ValidationError({"days": "Extend by at least one day."})
    with transaction.atomic():
        require_writable(tenant)
        locked = _locked(document_request)
        if locked.status == DocumentRequest.Status.REVOKED:
            raise ValidationError(ALREADY_REVOKED)
        start = max(locked.expires_at, timezone.now())
        new_expiry = start + timedelta(days=days)
        if new_expiry > locked.created_at + timedelta(days=MAX_LIFETIME_DAYS):
            raise ValidationError({"days": EXTEND_PAST_LIMIT})
        before = locked.expires_at
        locked.expires_at = new_expiry
        locked.reminded_at = None
        locked.save(update_fields=["expires_at", "reminded_at"])
        audit_event_record(
            event_type=Event.DOCUMENT_REQUEST_EXTENDED,
            target=locked,
            changes={"expires_at": [before.isoformat(), new_expiry.isoformat()]},
        )
    return locked


def document_request_revoke(
    *, tenant: Tenant, actor: Membership, document_request: DocumentRequest
) -> DocumentRequest:
    """End the link now; a client's session ends at their next request."""
    _authorize(tenant=tenant, actor=actor, capability=caps.DOCREQUESTS_MANAGE)
    with transaction.atomic():
        require_writable(tenant)
        locked = _locked(document_request)
        if locked.status == DocumentRequest.Status.REVOKED:
            raise ValidationError(ALREADY_REVOKED)
        locked.status = DocumentRequest.Status.REVOKED
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["status", "revoked_at"])
        audit_event_record(event_type=Event.DOCUMENT_REQUEST_REVOKED, target=locked)
    return locked


def item_review(
    *, tenant: Tenant, actor: Membership, item: RequestItem, accept: bool, comment: str = ""
) -> RequestItem:
    """Accept or reject what the client sent for ``item``; the client sees the comment.

    Accepting puts a copy of the upload among the company's files, linked to the item
    (``docrequests.files``: the shop's ``company_files`` declaration writes the row, which
    django-auditlog records, in this transaction); accepting again keeps that copy.
    Rejecting takes the copy out again, so a rejected upload is never among the files and a
    replacement accepted later gets its own. The accepted or rejected event names the file."""
    _authorize(tenant=tenant, actor=actor, capability=caps.DOCREQUESTS_MANAGE)
    comment = comment.strip()
    if not accept and not comment:
        raise ValidationError({"comment": REJECT_NEEDS_COMMENT})
    copied_key = None
    try:
        with transaction.atomic():
            require_writable(tenant)
            locked = (
                RequestItem.objects.select_for_update().select_related("request").get(pk=item.pk)
            )
            upload = Upload.objects.select_for_update().filter(item=locked).first()
            if upload is None:
                raise ValidationError(REVIEW_NOTHING_RECEIVED)
            before = locked.status
            locked.status = RequestItem.Status.ACCEPTED if accept else RequestItem.Status.REJECTED
            locked.comment = comment
            record_check(locked, exclude=["request"])
            locked.save(update_fields=["status", "comment"])
            file_data: dict[str, int | None] = {}
            provider = company_files()
            if provider is not None and accept:
                linked = upload.stored_file_id
                if linked is None or not provider.describe({linked}):
                    copied_key = storage.storage_key_for(tenant.schema_name)
                    storage.write(copied_key, BytesIO(storage.read(upload.storage_key)))
                    upload.stored_file_id = provider.add(
                        company_id=locked.request.company_id,
                        storage_key=copied_key,
                        filename=upload.original_filename,
                        content_type=upload.content_type,
                        extension=upload.extension,
                        size=upload.size,
                        sha256=upload.sha256,
                    )
                    upload.save(update_fields=["stored_file_id"])
                file_data["stored_file_id"] = upload.stored_file_id
            elif provider is not None and upload.stored_file_id is not None:
                provider.remove(upload.stored_file_id)
                file_data["removed_file_id"] = upload.stored_file_id
                upload.stored_file_id = None
                upload.save(update_fields=["stored_file_id"])
            audit_event_record(
                event_type=(
                    Event.DOCUMENT_REQUEST_ITEM_ACCEPTED
                    if accept
                    else Event.DOCUMENT_REQUEST_ITEM_REJECTED
                ),
                target=locked.request,
                changes={"status": [before, locked.status]},
                data={
                    "item_id": locked.pk,
                    "item": locked.description,
                    "comment": comment,
                    "upload_id": upload.pk,
                    **file_data,
                },
            )
    except BaseException:
        if copied_key is not None:
            storage.delete(copied_key)
        raise
    return locked


def upload_record_download(*, tenant: Tenant, actor: Membership, upload: Upload) -> None:
    """Check the download again and audit it (a read: a cancelled workspace allows it)."""
    _authorize(tenant=tenant, actor=actor, capability=caps.DOCREQUESTS_VIEW)
    with transaction.atomic():
        audit_event_record(
            event_type=Event.DOCUMENT_REQUEST_UPLOAD_DOWNLOADED,
            target=upload.item.request,
            data={"upload_id": upload.pk, "filename": upload.original_filename},
        )


# --- The client's side (no account: the link, then the code)


def request_for_token(token: str, *, tenant: Tenant) -> DocumentRequest | None:
    """The live request this token opens in ``tenant`` (the current schema's workspace), or
    None (unknown, expired and revoked links, and links of another workspace or issued
    before an import, look the same)."""
    found = DocumentRequest.objects.filter(token_hash=token_hash(token, tenant)).first()
    if found is None or not found.is_live():
        return None
    return found


def _client_event(
    document_request: DocumentRequest,
    event_type: Event,
    email: str,
    *,
    outcome: str = Outcome.SUCCESS,
    data: dict | None = None,
) -> None:
    issuer = document_request.issued_by
    audit_event_record(
        event_type=event_type,
        target=document_request,
        outcome=outcome,
        actor=LinkClient(email=email),
        actor_kind=ActorKind.DOCUMENT_REQUEST_LINK,
        data={
            "request_id": document_request.pk,
            "email": email,
            "issued_by_id": issuer.pk,
            "issued_by": issuer.email,
            **(data or {}),
        },
    )


def _code_digest(document_request: DocumentRequest, email: str, code: str) -> str:
    message = f"{document_request.pk}:{email}:{code}"
    return salted_hmac("docrequests.link_code", message, algorithm="sha256").hexdigest()


def _require_accepting(tenant: Tenant) -> None:
    try:
        require_writable(tenant)
    except PermissionDenied as error:
        raise PermissionDenied(NOT_ACCEPTING_UPLOADS) from error


def _is_recipient(document_request: DocumentRequest, email: str) -> bool:
    return email in document_request.recipients


def normalised_email(email: str) -> str:
    return (email or "").strip().lower()[:254]


def link_code_request(
    *, tenant: Tenant, document_request: DocumentRequest, email: str, ip: str
) -> None:
    """Email a 6-digit code to ``email`` if the request was sent there. An address the request
    was not sent to gets the same answer and no email (the page reveals no recipient)."""
    email = normalised_email(email)
    throttle.limit(CODE_REQUEST, ip=ip, link=link_subject(document_request), email=email)
    with transaction.atomic():
        _require_accepting(tenant)
        locked = _locked(document_request)
        if not locked.is_live():
            raise PermissionDenied(NOT_LIVE)
        if not _is_recipient(locked, email):
            _client_event(
                locked,
                Event.DOCUMENT_REQUEST_CODE_REQUESTED,
                email,
                outcome=Outcome.FAILURE,
                data={"reason": "not a recipient"},
            )
            return
        now = timezone.now()
        # A newer code replaces every earlier one for this request and address.
        for old in LinkCode.objects.filter(request=locked, email=email, used_at__isnull=True):
            old.used_at = now
            old.save(update_fields=["used_at"])
        code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        LinkCode.objects.create(
            request=locked,
            email=email,
            code_hash=_code_digest(locked, email, code),
            created_at=now,
            expires_at=now + timedelta(seconds=CODE_SECONDS),
        )
        _client_event(locked, Event.DOCUMENT_REQUEST_CODE_REQUESTED, email)
        body = (
            f"Your code for “{locked.title}” from {tenant.name} is {code}.\n\n"
            f"It works for {CODE_SECONDS // 60} minutes, once. If you did not ask for it, "
            "ignore this email."
        )
        transaction.on_commit(
            partial(email_send, to=[email], subject=f"{tenant.name}: your code", body=body)
        )


def link_code_confirm(
    *, tenant: Tenant, document_request: DocumentRequest, email: str, code: str, ip: str
) -> str:
    """Check ``code`` for ``email``; return the verified address or raise ValidationError.
    A wrong code counts against the code (dead after ``CODE_MAX_FAILURES``) and is
    audited; the count is committed even though this raises."""
    email = normalised_email(email)
    throttle.limit(CODE_CONFIRM, ip=ip, link=link_subject(document_request))
    code = (code or "").strip().replace(" ", "")
    accepted = False
    with transaction.atomic():
        _require_accepting(tenant)
        locked = _locked(document_request)
        if not locked.is_live():
            raise PermissionDenied(NOT_LIVE)
        now = timezone.now()
        live = (
            LinkCode.objects.select_for_update()
            .filter(request=locked, email=email, used_at__isnull=True, expires_at__gt=now)
            .order_by("-created_at")
            .first()
        )
        if live is not None and constant_time_compare(
            live.code_hash, _code_digest(locked, email, code)
        ):
            live.used_at = now
            live.save(update_fields=["used_at"])
            _client_event(locked, Event.DOCUMENT_REQUEST_CODE_CONFIRMED, email)
            accepted = True
        else:
            if live is not None:
                live.failures += 1
                if live.failures >= CODE_MAX_FAILURES:
                    live.used_at = now
                live.save(update_fields=["failures", "used_at"])
            _client_event(
                locked, Event.DOCUMENT_REQUEST_CODE_FAILED, email, outcome=Outcome.FAILURE
            )
    if not accepted:
        raise ValidationError({"code": CODE_INVALID})
    return email


def link_open_without_code(*, document_request: DocumentRequest, email: str) -> str:
    """A request that needs no code: the client names the address it was sent to."""
    email = normalised_email(email)
    if document_request.require_code:
        raise PermissionDenied(NOT_LIVE)
    if not _is_recipient(document_request, email):
        raise ValidationError({"email": NOT_A_RECIPIENT})
    with transaction.atomic():
        _client_event(document_request, Event.DOCUMENT_REQUEST_OPENED, email)
    return email


def clean_filename(name: str) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*').strip()
    return (name.strip(".") or "file")[:200]


def _types_text(item: RequestItem) -> str:
    kinds = item.accepted_types or ACCEPTABLE_TYPES
    names = [TYPE_NAMES[kind] for kind in kinds if kind in TYPE_NAMES]
    return ", ".join(names[:-1]) + (" or " if len(names) > 1 else "") + names[-1]


def item_upload(
    *,
    tenant: Tenant,
    document_request: DocumentRequest,
    item: RequestItem,
    email: str,
    upload: FileIn,
    ip: str,
) -> Upload:
    """Store the client's file for ``item`` (replacing an earlier one until the item is
    accepted): sniffed type among the item's accepted types, within the item's size and the
    request's total, scanned when a scanner is configured, under the workspace's prefix."""
    throttle.limit(UPLOAD, ip=ip, link=link_subject(document_request))
    name = clean_filename(upload.name)
    upload.stream.seek(0, os.SEEK_END)
    size = upload.stream.tell()
    upload.stream.seek(0)
    if size == 0:
        raise ValidationError({"file": FILE_EMPTY.format(name=name)})
    if size > min(item.max_size_bytes, settings.FILE_UPLOAD_MAX_BYTES):
        limit = min(item.max_size_bytes, settings.FILE_UPLOAD_MAX_BYTES) / (1024 * 1024)
        raise ValidationError({"file": FILE_TOO_LARGE.format(name=name, limit=f"{limit:g}")})
    sniffed = storage.sniff(upload.stream)
    if sniffed is None or (item.accepted_types and sniffed.extension not in item.accepted_types):
        raise ValidationError(
            {"file": FILE_TYPE_NOT_ACCEPTED.format(name=name, types=_types_text(item))}
        )
    backend = scanning.scanner()
    if backend is not None:
        try:
            found = backend.infected(upload.stream)
        except scanning.ScanUnavailable as error:
            raise ValidationError({"file": SCAN_UNAVAILABLE}) from error
        if found:
            with transaction.atomic():
                _client_event(
                    document_request,
                    Event.DOCUMENT_REQUEST_ITEM_UPLOADED,
                    email,
                    outcome=Outcome.FAILURE,
                    data={"item_id": item.pk, "filename": name, "malware": found[:200]},
                )
            raise ValidationError({"file": FILE_INFECTED.format(name=name)})
    key = storage.storage_key_for(tenant.schema_name)
    sha = storage.sha256_of(upload.stream)
    storage.write(key, upload.stream)
    try:
        with transaction.atomic():
            _require_accepting(tenant)
            locked = _locked(document_request)
            if not locked.is_live():
                raise PermissionDenied(NOT_LIVE)
            current = RequestItem.objects.select_for_update().get(pk=item.pk, request=locked)
            if current.status == RequestItem.Status.ACCEPTED:
                raise ValidationError({"file": ITEM_ALREADY_ACCEPTED})
            previous = list(current.uploads.all())
            total = (
                Upload.objects.filter(item__request=locked)
                .exclude(item=current)
                .aggregate(total=Sum("size"))["total"]
                or 0
            )
            if total + size > settings.DOCUMENT_REQUEST_TOTAL_MAX_BYTES:
                limit = settings.DOCUMENT_REQUEST_TOTAL_MAX_BYTES / (1024 * 1024)
                raise ValidationError({"file": REQUEST_TOTAL_TOO_LARGE.format(limit=f"{limit:g}")})
            for old in previous:
                old.delete()
                transaction.on_commit(partial(storage.delete, old.storage_key))
            row = Upload.objects.create(
                item=current,
                original_filename=name,
                content_type=sniffed.content_type,
                extension=sniffed.extension,
                size=size,
                sha256=sha,
                storage_key=key,
                uploaded_by_email=email,
            )
            current.status = RequestItem.Status.RECEIVED
            current.comment = ""
            current.save(update_fields=["status", "comment"])
            _client_event(
                locked,
                Event.DOCUMENT_REQUEST_ITEM_UPLOADED,
                email,
                data={
                    "item_id": current.pk,
                    "item": current.description,
                    "filename": name,
                    "size": size,
                    "replaced": len(previous),
                },
            )
            issuer_email = locked.issued_by.email
            body = (
                f"{email} sent “{name}” for “{current.description}” "
                f"(request “{locked.title}”).\n\n"
                + workspace_url(tenant, reverse("docrequests:detail", kwargs={"pk": locked.pk}))
            )
            transaction.on_commit(
                partial(
                    email_send,
                    to=[issuer_email],
                    subject=f"Document received: {locked.title}",
                    body=body,
                )
            )
    except BaseException:
        storage.delete(key)
        raise
    return row


def reminders_send(*, tenant: Tenant) -> int:
    """Remind the recipients of every live request expiring within
    ``REMIND_DAYS_BEFORE_EXPIRY`` days whose required items are not all received; once per
    request (``reminded_at``), so a redelivered task sends nothing twice. The caller has set
    ``tenant``'s schema. Returns how many requests were reminded."""
    now = timezone.now()
    due = DocumentRequest.objects.filter(
        status=DocumentRequest.Status.OPEN,
        expires_at__gt=now,
        expires_at__lte=now + timedelta(days=REMIND_DAYS_BEFORE_EXPIRY),
        reminded_at__isnull=True,
        items__required=True,
        items__status__in=[RequestItem.Status.MISSING, RequestItem.Status.REJECTED],
    ).distinct()
    reminded = 0
    for candidate in due:
        with transaction.atomic():
            locked = _locked(candidate)
            if locked.reminded_at is not None or not locked.is_live(now):
                continue
            locked.reminded_at = now
            locked.save(update_fields=["reminded_at"])
            audit_event_record(
                event_type=Event.DOCUMENT_REQUEST_REMINDED,
                target=locked,
                data={"recipients": locked.recipients},
            )
            body = (
                f"{tenant.name} is still waiting for documents for “{locked.title}”. "
                f"The link in their earlier email works until {locked.expires_at:%d %B %Y}."
            )
            for address in list(locked.recipients):
                transaction.on_commit(
                    partial(
                        email_send,
                        to=[address],
                        subject=f"Reminder: {locked.title}",
                        body=body,
                    )
                )
        reminded += 1
    return reminded
