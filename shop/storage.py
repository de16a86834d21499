"""The shop's name for the private file storage, which lives on the ground floor
(``kernel.storage``) because every business app and the export use the same one."""

from kernel.storage import (
    ALLOWED_TYPE_NAMES,
    ALLOWED_TYPES,
    MAX_SIGNED_URL_SECONDS,
    SNIFF_BYTES,
    SniffedType,
    StoredObject,
    delete,
    download_response,
    private_storage,
    read,
    sha256_of,
    sniff,
    storage_key_for,
    write,
)

__all__ = [
    "ALLOWED_TYPES",
    "ALLOWED_TYPE_NAMES",
    "MAX_SIGNED_URL_SECONDS",
    "SNIFF_BYTES",
    "SniffedType",
    "StoredObject",
    "delete",
    "download_response",
    "private_storage",
    "read",
    "sha256_of",
    "sniff",
    "storage_key_for",
    "write",
]
