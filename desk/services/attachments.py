"""Ticket attachments: checked and stored before their row is written (as shop files are),
and the audited download."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from audit.events import Event
from audit.services import audit_event_record
from kernel import capabilities as caps
from kernel import storage
from kernel.capabilities import Capability
from rbac.models import Membership
from tenants.models import Tenant

from .. import selectors
from ..models import Ticket, TicketAttachment, TicketMessage
from ._common import _authorize

MAX_ATTACHMENTS = 5
ATTACHMENT_EMPTY = "The file “{name}” is empty."
ATTACHMENT_TOO_LARGE = "The file “{name}” is too large. The limit is {limit} MB."
ATTACHMENT_TYPE_NOT_ALLOWED = (
    "“{name}” is not a kind of file we accept. Attach a " + storage.ALLOWED_TYPE_NAMES + " file."
)
TOO_MANY_ATTACHMENTS = f"Attach at most {MAX_ATTACHMENTS} files at a time."


@dataclass
class Upload:
    stream: IO[bytes]
    name: str


@dataclass
class _Stored:
    name: str
    sniffed: storage.SniffedType
    size: int
    sha256: str
    key: str


def _clean_filename(name: str) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().strip(".")
    return (name or "file")[:200]


def _check(upload: Upload) -> tuple[int, storage.SniffedType]:
    name = _clean_filename(upload.name)
    upload.stream.seek(0, os.SEEK_END)
    size = upload.stream.tell()
    upload.stream.seek(0)
    if size == 0:
        raise ValidationError({"attachments": ATTACHMENT_EMPTY.format(name=name)})
    if size > settings.FILE_UPLOAD_MAX_BYTES:
        limit = round(settings.FILE_UPLOAD_MAX_BYTES / (1024 * 1024), 1)
        raise ValidationError(
            {"attachments": ATTACHMENT_TOO_LARGE.format(name=name, limit=f"{limit:g}")}
        )
    sniffed = storage.sniff(upload.stream)
    if sniffed is None:
        raise ValidationError({"attachments": ATTACHMENT_TYPE_NOT_ALLOWED.format(name=name)})
    return size, sniffed


@contextmanager
def stored_uploads(tenant: Tenant, uploads: Sequence[Upload]) -> Iterator[list[_Stored]]:
    """Check every upload, then store the bytes; if the block that writes the rows fails, the
    stored objects are removed again (no row ever points at missing bytes, no bytes stay
    behind a rolled-back row). Call after the actor was authorised, before ``_write``."""
    if len(uploads) > MAX_ATTACHMENTS:
        raise ValidationError({"attachments": TOO_MANY_ATTACHMENTS})
    checked = [(upload, *_check(upload)) for upload in uploads]
    stored: list[_Stored] = []
    try:
        for upload, size, sniffed in checked:
            key = storage.storage_key_for(tenant.schema_name)
            sha = storage.sha256_of(upload.stream)
            storage.write(key, upload.stream)
            stored.append(_Stored(_clean_filename(upload.name), sniffed, size, sha, key))
        yield stored
    except BaseException:
        for item in stored:
            storage.delete(item.key)
        raise


def _attach(
    *,
    ticket: Ticket,
    message: TicketMessage | None,
    stored: Sequence[_Stored],
    internal: bool,
    actor: Membership,
) -> list[TicketAttachment]:
    """The rows of already stored uploads, each audited (inside the caller's _write)."""
    rows = []
    for item in stored:
        attachment = TicketAttachment.objects.create(
            ticket=ticket,
            message=message,
            internal=internal,
            original_filename=item.name,
            content_type=item.sniffed.content_type,
            extension=item.sniffed.extension,
            size=item.size,
            sha256=item.sha256,
            storage_key=item.key,
            uploaded_by=actor.user,
        )
        audit_event_record(
            event_type=Event.TICKET_ATTACHMENT_ADDED,
            target=ticket,
            data={
                "attachment_id": attachment.pk,
                "filename": attachment.original_filename,
                "internal": internal,
            },
        )
        rows.append(attachment)
    return rows


def attachment_record_download(
    *, tenant: Tenant, actor: Membership, attachment: TicketAttachment
) -> None:
    """Checks a download again before bytes are handed out, and audits it (a read, so not a
    ``_write``: a cancelled workspace still allows it)."""
    capability: Capability = caps.REQUESTS_VIEW if actor.is_customer else caps.TICKETS_VIEW
    current = _authorize(tenant=tenant, actor=actor, capability=capability)
    if not selectors.attachments_visible(current).filter(pk=attachment.pk).exists():
        raise PermissionDenied("You cannot download a file you cannot see.")
    with transaction.atomic():
        audit_event_record(
            event_type=Event.TICKET_ATTACHMENT_DOWNLOADED,
            target=attachment.ticket,
            data={"attachment_id": attachment.pk, "filename": attachment.original_filename},
        )
