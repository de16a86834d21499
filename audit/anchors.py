"""Signed digests of every stream's head, anchored outside the database.

Invariant: a digest states, for one stream at one moment, how many events it held, the last
event's sequence, id and keyed link, the keyless ``content_root`` (a SHA-256 fold over every
event's canonical bytes, which an owner can recompute from an export without the chain key),
the chain key id and the time. It is canonical JSON signed with Ed25519 under
``AUDIT_ANCHOR_SIGNING_KEY`` (from the environment; the database never sees it) and written to
the private storage alias under the stream's own prefix (``<schema>/audit-digests/``, the
platform stream under ``public/audit-digests/``), never overwriting an existing name. Only a
stream that verifies under the chain keys is anchored: a digest never vouches for a broken
chain. ``audit_verify`` reads the newest digest of each stream back, checks its signature and
checks the stream still holds the anchored head.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

from .chain import GENESIS_HASH, ChainReport, content_sha256

DIGEST_FORMAT = "shopsafe-audit-digest/1"
DIGEST_FOLDER = "audit-digests"
PLATFORM_LABEL = "platform"
TIME_FORMAT = "%Y%m%dT%H%M%S%fZ"


class AnchorRefused(Exception):
    """The stream cannot be anchored (its chain is broken, or the name exists already)."""


def content_root_step(root: str, event) -> str:
    """One step of the keyless fold: sha256(previous root bytes + content hash bytes)."""
    return hashlib.sha256(bytes.fromhex(root) + bytes.fromhex(content_sha256(event))).hexdigest()


class ContentRoot:
    """Folds events' keyless content hashes while the chain verifier walks them."""

    def __init__(self) -> None:
        self.root = GENESIS_HASH
        self.last_id: int | None = None

    def fold(self, events: Iterable) -> Iterable:
        for event in events:
            self.root = content_root_step(self.root, event)
            self.last_id = event.id
            yield event


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def digest_document(
    *,
    stream: str,
    schema_name: str,
    report: ChainReport,
    root: ContentRoot,
    key_id: str,
    now,
    previous: StoredDigest | None = None,
) -> dict[str, Any]:
    return {
        "format": DIGEST_FORMAT,
        "stream": stream,
        "schema": schema_name,
        "count": report.events,
        "last_sequence": report.head_sequence,
        "last_id": root.last_id,
        "last_link": report.head_hash,
        "content_root": root.root,
        "chain_key_id": key_id,
        "time": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "signing_key": public_key_fingerprint(),
        # The digests of a stream form a chain of their own: sha256 of the previous digest's
        # bytes (null for the first).
        "previous_digest": (
            hashlib.sha256(previous.document_bytes).hexdigest() if previous else None
        ),
    }


# --- Keys ------------------------------------------------------------------------------------


@cache
def _private_key(raw: str) -> Ed25519PrivateKey:
    try:
        seed = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured("AUDIT_ANCHOR_SIGNING_KEY is not valid base64") from None
    if len(seed) != 32:
        raise ImproperlyConfigured(
            "AUDIT_ANCHOR_SIGNING_KEY must be a raw Ed25519 private key: 32 bytes, base64"
        )
    return Ed25519PrivateKey.from_private_bytes(seed)


def signing_key() -> Ed25519PrivateKey:
    return _private_key(settings.AUDIT_ANCHOR_SIGNING_KEY)


def public_key() -> Ed25519PublicKey:
    return signing_key().public_key()


def public_key_pem() -> str:
    """The published verification key (SubjectPublicKeyInfo PEM, what openssl reads)."""
    return (
        public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def public_key_fingerprint() -> str:
    raw = public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:32]


def signature_valid(document_bytes: bytes, signature: bytes) -> bool:
    try:
        public_key().verify(signature, document_bytes)
    except InvalidSignature:
        return False
    return True


# --- Storage ---------------------------------------------------------------------------------


def digest_prefix(schema_name: str) -> str:
    return f"{schema_name}/{DIGEST_FOLDER}/"


def _storage() -> Storage:
    return storages["private"]


@dataclass(frozen=True)
class StoredDigest:
    name: str  # the .json name; the signature is the same name with .sig
    document: dict[str, Any]
    document_bytes: bytes
    signature: bytes

    @property
    def signature_ok(self) -> bool:
        return signature_valid(self.document_bytes, self.signature)


def digest_write(document: dict[str, Any]) -> str:
    """Write ``document`` and its signature under the stream's prefix; never overwrite."""
    storage = _storage()
    body = canonical(document)
    stamp = document["time"].replace("-", "").replace(":", "").replace(".", "")
    name = f"{digest_prefix(document['schema'])}{stamp}-{document['last_sequence']:012d}.json"
    signature_name = name[: -len(".json")] + ".sig"
    if storage.exists(name) or storage.exists(signature_name):
        raise AnchorRefused(f"digest {name} exists already; digests are never overwritten")
    saved = storage.save(name, ContentFile(body))
    if saved != name:  # the store picked another name rather than overwrite: refuse it
        storage.delete(saved)
        raise AnchorRefused(f"digest {name} exists already; digests are never overwritten")
    storage.save(signature_name, ContentFile(signing_key().sign(body)))
    return name


def digest_names(schema_name: str) -> list[str]:
    storage = _storage()
    prefix = digest_prefix(schema_name)
    try:
        _, files = storage.listdir(prefix.rstrip("/"))
    except FileNotFoundError:
        return []
    return sorted(prefix + name for name in files if name.endswith(".json"))


def digest_read(name: str) -> StoredDigest:
    storage = _storage()
    with storage.open(name, "rb") as handle:
        body = handle.read()
    signature_name = name[: -len(".json")] + ".sig"
    signature = b""
    if storage.exists(signature_name):
        with storage.open(signature_name, "rb") as handle:
            signature = handle.read()
    try:
        document = json.loads(body)
    except ValueError:
        document = {}
    return StoredDigest(name, document if isinstance(document, dict) else {}, body, signature)


def digest_latest(schema_name: str) -> StoredDigest | None:
    names = digest_names(schema_name)
    return digest_read(names[-1]) if names else None


OFFLINE_README = """Signed digests of this workspace's audit stream.

key.pem                  the Ed25519 public key that signs every digest (also on the
                         public security page)
digests/NAME.json        one digest: the stream's head at one moment (canonical JSON)
digests/NAME.sig         its Ed25519 signature
verify_export.py         checks a JSON Lines audit export against the digests (Python 3,
                         standard library only)

1. Check each signature:
   for d in digests/*.json; do
     openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in "$d" -sigfile "${d%.json}.sig"
   done
2. Export the audit log as JSON Lines from its first event (Audit, From: the workspace's
   creation date), then:
   python3 verify_export.py audit-export.jsonl digests/*.json
"""


def digest_bundle(names: list[str]) -> bytes:
    """A ZIP of the public key, the named digests with their signatures, the offline verifier
    and a README: everything an owner needs to check an export without us."""
    import io
    import zipfile
    from pathlib import Path

    script = Path(__file__).with_name("offline") / "verify_export.py"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("README.txt", OFFLINE_README)
        bundle.writestr("key.pem", public_key_pem())
        bundle.writestr("verify_export.py", script.read_bytes())
        for name in names:
            digest = digest_read(name)
            base = name.rsplit("/", 1)[-1][: -len(".json")]
            bundle.writestr(f"digests/{base}.json", digest.document_bytes)
            bundle.writestr(f"digests/{base}.sig", digest.signature)
    return buffer.getvalue()
