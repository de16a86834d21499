"""The audit chain keys, read from settings (which read them from the environment).

Invariant: the HMAC keys that link each stream (``AUDIT_CHAIN_KEYS``, ``"id:base64,id:base64"``)
and the current key id (``AUDIT_CHAIN_KEY_ID``) come from the environment only; the database
holds key ids, never keys. Every configured key keeps verifying the events it made, so a key
rotates by adding its successor, pointing ``AUDIT_CHAIN_KEY_ID`` at it, and keeping the old one
listed for as long as its events exist. Keys are never logged: errors name the key id, not
the key.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
MIN_KEY_BYTES = 32


def parse_chain_keys(raw: str) -> dict[str, bytes]:
    """``"kid1:base64key,kid2:base64key"`` -> {kid: key}; a clear error for bad input."""
    keys: dict[str, bytes] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        key_id, separator, encoded = item.partition(":")
        key_id = key_id.strip()
        if not separator or not KEY_ID.match(key_id):
            raise ImproperlyConfigured(
                "AUDIT_CHAIN_KEYS: each entry is KEY_ID:BASE64KEY with a key id of 1-32 "
                "letters, digits, '.', '_' or '-'"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(
                f"AUDIT_CHAIN_KEYS: the key of {key_id!r} is not valid base64"
            ) from None
        if len(key) < MIN_KEY_BYTES:
            raise ImproperlyConfigured(
                f"AUDIT_CHAIN_KEYS: the key of {key_id!r} is shorter than {MIN_KEY_BYTES} bytes"
            )
        if key_id in keys:
            raise ImproperlyConfigured(f"AUDIT_CHAIN_KEYS: key id {key_id!r} is listed twice")
        keys[key_id] = key
    if not keys:
        raise ImproperlyConfigured("AUDIT_CHAIN_KEYS is empty: the audit chain needs a key")
    return keys


@cache
def _parsed(raw: str, current: str) -> tuple[dict[str, bytes], str]:
    keys = parse_chain_keys(raw)
    if current not in keys:
        raise ImproperlyConfigured(
            f"AUDIT_CHAIN_KEY_ID {current!r} is not one of the ids in AUDIT_CHAIN_KEYS"
        )
    return keys, current


def chain_keys() -> dict[str, bytes]:
    """Every configured key, for verification."""
    return dict(_parsed(settings.AUDIT_CHAIN_KEYS, settings.AUDIT_CHAIN_KEY_ID)[0])


def current_key_id() -> str:
    """The key id new events are linked with."""
    return _parsed(settings.AUDIT_CHAIN_KEYS, settings.AUDIT_CHAIN_KEY_ID)[1]
