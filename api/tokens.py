"""The token string: how it is made, recognised and hashed (pure functions, no database).

Format: ``shs_<workspace id in hex>_<43 url-safe base64 characters>``, that is 32 random bytes
(256 bits) after a prefix secret scanners can match (``shs_[0-9a-f]+_[A-Za-z0-9_-]{43}``).
The workspace id lets a host tell "a token of another workspace" (the 404 a missing object
gets: the host says nothing about the token) from "no such token" (401), without looking in
another workspace's schema. Only the SHA-256 of the whole string is stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

PREFIX = "shs_"
SECRET_BYTES = 32
DISPLAY_CHARS = 6  # of the secret, shown after the workspace part in token lists
_FORMAT = re.compile(r"^shs_([0-9a-f]{1,16})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class ParsedToken:
    workspace_id: int
    secret_hash: str


def token_new(workspace_id: int) -> str:
    return f"{PREFIX}{workspace_id:x}_{secrets.token_urlsafe(SECRET_BYTES)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_display_prefix(token: str) -> str:
    """``shs_<workspace>_`` and the first characters of the secret."""
    match = _FORMAT.match(token)
    if match is None:
        raise ValueError("not a token")
    return token[: match.start(2) + DISPLAY_CHARS]


def token_parse(value: str) -> ParsedToken | None:
    """The token's workspace and hash, or None for anything that is not a token's shape."""
    match = _FORMAT.match(value)
    if match is None:
        return None
    return ParsedToken(workspace_id=int(match.group(1), 16), secret_hash=token_hash(value))
