"""Private file storage: keys, sniffing, writing, and handing bytes back to an allowed viewer.

Shared by every business app (shop files, desk attachments) and the export; it knows no app.

Invariants: every object lives in ``storages["private"]`` under
``<tenant schema>/files/<uuid4>``; the user's filename never reaches the key. What a file is
comes from its bytes (the ``filetype`` package), never from the client's content type or
extension. Bytes leave only through :func:`download_response`, which callers reach after the
capability and visibility checks: either streamed as an attachment with ``nosniff``, or (on
S3-compatible storage) as a redirect to a presigned URL that expires within
``settings.SIGNED_FILE_URL_SECONDS``.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import IO, Protocol, TypeGuard

import filetype
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import Storage, storages
from django.http import FileResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header


class StoredObject(Protocol):
    """What a download needs: a private-storage key, a name to save as and a media type
    (a ``StoredFile``, or an export archive)."""

    @property
    def storage_key(self) -> str: ...
    @property
    def download_filename(self) -> str: ...
    @property
    def content_type(self) -> str: ...


# filetype's extension -> the MIME type we record and serve. Anything else is refused.
ALLOWED_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "png": "image/png",
    "apng": "image/png",  # an animated PNG is still a PNG
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "tif": "image/tiff",
    "psd": "image/vnd.adobe.photoshop",
    "zip": "application/zip",
}
ALLOWED_TYPE_NAMES = "PDF, PNG, JPEG, GIF, WebP, TIFF, Photoshop (PSD) or ZIP"
# Bytes filetype needs to see to recognise every type above.
SNIFF_BYTES = 8192
# Longest presigned URL lifetime we ever hand out, whatever the settings say (design.md).
MAX_SIGNED_URL_SECONDS = 60


@dataclass(frozen=True)
class SniffedType:
    extension: str
    content_type: str


def private_storage() -> Storage:
    return storages["private"]


def storage_key_for(schema_name: str) -> str:
    """A fresh key in the tenant's prefix; random so it reveals nothing and never collides."""
    return f"{schema_name}/files/{uuid.uuid4()}"


def sniff(stream: IO[bytes]) -> SniffedType | None:
    """What the bytes are, if they are one of the allowed types; None otherwise."""
    stream.seek(0)
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    kind = filetype.guess(head) if head else None
    if kind is None or kind.extension not in ALLOWED_TYPES:
        return None
    extension = "png" if kind.extension == "apng" else kind.extension
    return SniffedType(extension=extension, content_type=ALLOWED_TYPES[kind.extension])


def sha256_of(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    for chunk in iter(lambda: stream.read(1024 * 1024), b""):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def write(key: str, stream: IO[bytes]) -> None:
    """Store ``stream`` at exactly ``key`` (the storage must not rename it)."""
    stream.seek(0)
    saved_as = private_storage().save(key, File(stream))
    if saved_as != key:
        private_storage().delete(saved_as)
        raise RuntimeError("private storage renamed a new object; refusing to continue")


def delete(key: str) -> None:
    private_storage().delete(key)


def read(key: str) -> bytes:
    with private_storage().open(key, "rb") as handle:
        return handle.read()


class _PresigningStorage(Protocol):
    """What django-storages' S3Storage adds to ``Storage.url``: response headers the signed
    URL sets, and how long it stays valid."""

    def url(
        self, name: str, parameters: dict[str, str] | None = None, expire: int | None = None
    ) -> str: ...


def _presigns_urls(storage: Storage) -> TypeGuard[_PresigningStorage]:
    # django-storages' S3Storage signs URLs when querystring_auth is on; the filesystem
    # storage has no such attribute and is served by streaming.
    return bool(getattr(storage, "querystring_auth", False)) and hasattr(storage, "url")


def signed_url_seconds() -> int:
    """How long a presigned URL stays valid: the setting, never more than 60 seconds."""
    return min(settings.SIGNED_FILE_URL_SECONDS, MAX_SIGNED_URL_SECONDS)


def signed_url(stored_file: StoredObject) -> str | None:
    """The presigned URL a checked viewer is sent to, when the storage signs URLs (S3);
    ``None`` on storage that does not (the bytes are then streamed by the caller)."""
    storage = private_storage()
    if not _presigns_urls(storage):
        return None
    disposition = content_disposition_header(True, stored_file.download_filename)
    return storage.url(
        stored_file.storage_key,
        parameters={
            "ResponseContentDisposition": disposition,
            "ResponseContentType": stored_file.content_type,
        },
        expire=signed_url_seconds(),
    )


def download_response(stored_file: StoredObject) -> HttpResponseBase:
    """The response that hands a stored object to a viewer who has already been checked."""
    storage = private_storage()
    url = signed_url(stored_file)
    if url is not None:
        response: HttpResponseBase = HttpResponseRedirect(url)
    else:
        response = FileResponse(
            storage.open(stored_file.storage_key, "rb"),
            as_attachment=True,
            filename=stored_file.download_filename,
            content_type=stored_file.content_type,
        )
        # Even if a browser tried to render it, it gets no origin to act in.
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
