"""Development keys for the audit chain and its anchors, generated once per checkout into the
local state dir (never committed). Production reads them from the environment with no default.

``export_development_audit_keys`` fills ``AUDIT_CHAIN_KEYS`` / ``AUDIT_CHAIN_KEY_ID`` (HMAC key
of the chain) and ``AUDIT_ANCHOR_SIGNING_KEY`` (Ed25519 private key of the signed digests) when
they are unset, like ``config.embedded`` does for the secret key.
"""

from __future__ import annotations

import base64
import os
import secrets

from config.embedded import STATE_DIR, _file_lock

DEVELOPMENT_KEY_ID = "dev-1"


def _generated(name: str, make) -> str:
    key_file = STATE_DIR / name
    with _file_lock("secret"):
        if not key_file.exists():
            key_file.write_text(make())
            key_file.chmod(0o600)
        return key_file.read_text().strip()


def export_development_audit_keys() -> None:
    if not os.environ.get("AUDIT_CHAIN_KEYS"):
        key = _generated(
            "dev-audit-chain-key", lambda: base64.b64encode(secrets.token_bytes(32)).decode()
        )
        os.environ["AUDIT_CHAIN_KEYS"] = f"{DEVELOPMENT_KEY_ID}:{key}"
        os.environ.setdefault("AUDIT_CHAIN_KEY_ID", DEVELOPMENT_KEY_ID)
    if not os.environ.get("AUDIT_ANCHOR_SIGNING_KEY"):
        os.environ["AUDIT_ANCHOR_SIGNING_KEY"] = _generated(
            "dev-audit-anchor-signing-key",
            lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
        )
