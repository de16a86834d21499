"""Secrets of the second factor: seed encryption at rest and the TOTP arithmetic.

Invariant: a TOTP seed exists in plain form only in memory. It is written to the database as
a Fernet token made with the newest key of ``settings.TOTP_ENCRYPTION_KEYS`` (comma-separated,
newest first, from the environment); every listed key still decrypts, so keys rotate by
prepending a new one and, once ``seed_rotate`` has re-encrypted the stored seeds, dropping the
old one. The TOTP arithmetic is django-otp's (``django_otp.oath``); the parameters are the
defaults of its ``TOTPDevice``: 6 digits, 30-second steps, one step of tolerance either side
(RFC 6238 with HMAC-SHA1, what every authenticator app implements).
"""

from __future__ import annotations

import secrets
import time
from base64 import b32encode
from functools import cache
from urllib.parse import quote, urlencode

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django_otp.oath import TOTP

SEED_BYTES = 20  # 160 bits, RFC 4226's recommendation for HMAC-SHA1
TOTP_DIGITS = 6
TOTP_STEP_SECONDS = 30
TOTP_TOLERANCE_STEPS = 1
# The name authenticator apps show next to the account.
TOTP_ISSUER = "Shopsafe"


class SeedUnreadable(Exception):
    """A stored seed that none of the configured keys decrypts (a key was dropped too early)."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("TOTP_ENCRYPTION_KEYS lists no key.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as error:
        raise ImproperlyConfigured(
            "TOTP_ENCRYPTION_KEYS must hold Fernet keys (32 url-safe base64-encoded bytes), "
            "comma-separated, newest first."
        ) from error


def _keys() -> MultiFernet:
    return _fernet(tuple(settings.TOTP_ENCRYPTION_KEYS))


def seed_generate() -> bytes:
    return secrets.token_bytes(SEED_BYTES)


def seed_encrypt(seed: bytes) -> str:
    """The Fernet token (ASCII) to store, made with the newest key."""
    return _keys().encrypt(seed).decode("ascii")


def seed_decrypt(token: str) -> bytes:
    try:
        return _keys().decrypt(token.encode("ascii"))
    except InvalidToken as error:
        raise SeedUnreadable("no configured TOTP encryption key decrypts this seed") from error


def seed_rotate(token: str) -> str:
    """The same seed re-encrypted with the newest key (MultiFernet.rotate)."""
    try:
        return _keys().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken as error:
        raise SeedUnreadable("no configured TOTP encryption key decrypts this seed") from error


def seed_base32(seed: bytes) -> str:
    """The manual-entry key authenticator apps accept (RFC 4648 base32, no padding)."""
    return b32encode(seed).decode("ascii").rstrip("=")


def seed_base32_grouped(seed: bytes) -> str:
    """The manual key in groups of four characters, easier to read and type."""
    key = seed_base32(seed)
    return " ".join(key[index : index + 4] for index in range(0, len(key), 4))


def provisioning_uri(
    *,
    seed: bytes,
    account: str,
    issuer: str,
    digits: int = TOTP_DIGITS,
    period: int = TOTP_STEP_SECONDS,
) -> str:
    """The otpauth:// URI the QR code carries (Google Authenticator's Key Uri Format)."""
    issuer = issuer.replace(":", "")
    label = quote(f"{issuer}:{account}")
    params = urlencode(
        {
            "secret": seed_base32(seed),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": digits,
            "period": period,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{params}"


def time_step(at: float | None = None, *, step: int = TOTP_STEP_SECONDS) -> int:
    """RFC 6238's T: whole steps since the Unix epoch."""
    return int(at if at is not None else time.time()) // step


def totp_code(seed: bytes, at: float | None = None, *, digits: int = TOTP_DIGITS) -> str:
    """The code for ``seed`` at Unix time ``at`` (now when omitted), zero-padded."""
    generator = TOTP(seed, step=TOTP_STEP_SECONDS, t0=0, digits=digits)
    generator.time = at if at is not None else time.time()
    return str(generator.token()).zfill(digits)


def totp_verify(
    seed: bytes,
    code: str,
    *,
    at: float | None = None,
    after_step: int = -1,
    step: int = TOTP_STEP_SECONDS,
    t0: int = 0,
    digits: int = TOTP_DIGITS,
    tolerance: int = TOTP_TOLERANCE_STEPS,
    drift: int = 0,
) -> TOTP | None:
    """django-otp's TOTP verification (``TOTP.verify``: ``tolerance`` steps either side of
    ``at`` shifted by ``drift``, nothing at or before ``after_step``) behind our stricter input
    rule: exactly ``digits`` ASCII digits (``int()`` alone would also take " 123456" or
    full-width digits). The matched generator, whose ``t()`` is the step the code belongs to
    and ``drift`` the offset that matched, or None.
    """
    if len(code) != digits or not code.isascii() or not code.isdigit():
        return None
    generator = TOTP(seed, step=step, t0=t0, digits=digits, drift=drift)
    generator.time = at if at is not None else time.time()
    if not generator.verify(int(code), tolerance=tolerance, min_t=after_step + 1):
        return None
    return generator


def totp_match(
    seed: bytes, code: str, *, at: float | None = None, after_step: int = -1
) -> int | None:
    """The time step ``code`` belongs to, searching one step either side of ``at``, or None.

    Steps at or before ``after_step`` (the last accepted one) never match, so a code is
    accepted once: a replay within its window, or an older code, fails.
    """
    matched = totp_verify(seed, code, at=at, after_step=after_step)
    return None if matched is None else matched.t()
