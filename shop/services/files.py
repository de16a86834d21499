"""Private files: upload (bytes checked and stored first), download record, delete."""

from __future__ import annotations

from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.events import Event
from audit.services import audit_event_record
from kernel import capabilities as caps
from rbac.models import Membership
from tenants.models import Tenant
from tenants.writability import require_writable

from .. import selectors, storage
from ..models import Company, Order, Quote, StoredFile
from ._common import _authorize, _full_clean, _locked_visible, _require_visible, _write

FILE_REQUIRED = "Choose a file to upload."
FILE_EMPTY = "The file is empty."
FILE_TOO_LARGE = "The file is too large. The limit is {limit}."
FILE_TYPE_NOT_ALLOWED = (
    "This kind of file is not allowed. Upload a " + storage.ALLOWED_TYPE_NAMES + " file."
)
FILE_QUOTE_OTHER_COMPANY = "That quote belongs to another company."
FILE_ORDER_OTHER_COMPANY = "That order belongs to another company."
FILE_KIND_UNKNOWN = "Choose whether this is a proof, artwork or a document."


def file_too_large_message() -> str:
    return FILE_TOO_LARGE.format(limit=human_size(settings.FILE_UPLOAD_MAX_BYTES))


def human_size(size: int) -> str:
    """``26214400`` -> ``"25 MB"``; ``1536`` -> ``"1.5 KB"``."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            return f"{round(size / factor, 1):g} {unit}"
    return f"{size} bytes"


def _clean_filename(name: str) -> str:
    # Keep only the last path component and drop control characters; this is shown to people
    # and used in Content-Disposition, never as a storage key.
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().strip(".")
    return (name or "file")[:200]


def file_upload(
    *,
    tenant: Tenant,
    actor: Membership,
    company: Company,
    upload: IO[bytes],
    filename: str,
    kind: str = StoredFile.Kind.DOCUMENT,
    quote: Quote | None = None,
    order: Order | None = None,
) -> StoredFile:
    """Store an upload privately after checking its size and what its bytes really are."""
    _authorize(tenant=tenant, actor=actor, capability=caps.FILES_UPLOAD)
    # Refused before the upload is read and its bytes stored, not only when the row is
    # written; _write below checks again inside the transaction, where it counts.
    require_writable(tenant)
    _require_visible(selectors.company_list(viewer=actor), company)
    if upload is None:
        raise ValidationError({"upload": FILE_REQUIRED})
    if kind not in StoredFile.Kind.values:
        raise ValidationError({"kind": FILE_KIND_UNKNOWN})
    if quote is not None:
        _require_visible(selectors.quote_list(viewer=actor), quote)
        if quote.company_id != company.pk:
            raise ValidationError({"quote": FILE_QUOTE_OTHER_COMPANY})
    if order is not None:
        _require_visible(selectors.order_list(viewer=actor), order)
        if order.company_id != company.pk:
            raise ValidationError({"order": FILE_ORDER_OTHER_COMPANY})
    upload.seek(0, 2)
    size = upload.tell()
    upload.seek(0)
    if size == 0:
        raise ValidationError({"upload": FILE_EMPTY})
    if size > settings.FILE_UPLOAD_MAX_BYTES:
        raise ValidationError({"upload": file_too_large_message()})
    sniffed = storage.sniff(upload)
    if sniffed is None:
        raise ValidationError({"upload": FILE_TYPE_NOT_ALLOWED})
    stored = StoredFile(
        company=company,
        quote=quote,
        order=order,
        kind=kind,
        original_filename=_clean_filename(filename),
        content_type=sniffed.content_type,
        extension=sniffed.extension,
        size=size,
        sha256=storage.sha256_of(upload),
        storage_key=storage.storage_key_for(tenant.schema_name),
        uploaded_by=actor.user,
    )
    _full_clean(stored, exclude=["company", "quote", "order", "uploaded_by"])
    # Bytes first, row second: if the row cannot be written, the object is removed again,
    # so no row ever points at missing bytes.
    storage.write(stored.storage_key, upload)
    try:
        with _write(tenant=tenant, actor=actor, capability=caps.FILES_UPLOAD):
            stored.save()
    except BaseException:
        storage.delete(stored.storage_key)
        raise
    return stored


def file_delete(*, tenant: Tenant, actor: Membership, stored_file: StoredFile) -> None:
    """Delete the row now and the stored object once the deletion has committed."""
    with _write(tenant=tenant, actor=actor, capability=caps.FILES_DELETE):
        stored_file = _locked_visible(stored_file, selectors.file_list(viewer=actor))
        key = stored_file.storage_key
        stored_file.delete()
        transaction.on_commit(lambda: storage.delete(key))


def file_record_download(*, tenant: Tenant, actor: Membership, stored_file: StoredFile) -> None:
    """Checks a download again before bytes are handed out (and is where it gets audited).

    Not a ``_write``: downloading is reading, which a cancelled (read-only) workspace still
    allows; the audit event it records is not a change to the workspace's data."""
    _authorize(tenant=tenant, actor=actor, capability=caps.FILES_VIEW)
    _require_visible(selectors.file_list(viewer=actor), stored_file)
    with transaction.atomic():
        audit_event_record(event_type=Event.FILE_DOWNLOADED, target=stored_file)
