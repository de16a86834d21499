"""Recovery codes: generation, normalisation and slow hashing.

Invariant: a code exists in clear only in the response that shows it once. The database holds
its salted argon2id hash. Each code carries 60 bits from the operating system's CSPRNG
(12 characters of Crockford's base32, which leaves out I, L, O and U so nothing is misread).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher

RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_LENGTH = 12  # characters; 5 bits each -> 60 bits
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32, lower case
# Characters people (and fonts) confuse, read the way Crockford's base32 reads them.
_CONFUSABLE = str.maketrans({"i": "1", "l": "1", "o": "0"})


class RecoveryCodeHasher(Argon2PasswordHasher):
    """argon2id for recovery codes.

    A code has 60 random bits, far more than any password, so OWASP's argon2id floor (19 MiB,
    two passes) is ample; it keeps checking ten hashes at sign-in quick. Never cheaper than
    the password hasher's own settings (tests make those cheap).
    """

    @property
    def time_cost(self) -> int:  # type: ignore[override]
        return max(1, min(settings.ARGON2_TIME_COST, 2))

    @property
    def memory_cost(self) -> int:  # type: ignore[override]
        return min(settings.ARGON2_MEMORY_COST_KIB, 19 * 1024)

    parallelism = 1


_hasher = RecoveryCodeHasher()


def recovery_code_generate() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return f"{raw[0:4]}-{raw[4:8]}-{raw[8:12]}"


def recovery_code_normalise(typed: str) -> str | None:
    """The 12 code characters from what someone typed (case, spaces and dashes ignored,
    confusable letters mapped), or None when it cannot be a recovery code."""
    cleaned = "".join((typed or "").split()).replace("-", "").lower().translate(_CONFUSABLE)
    if len(cleaned) != RECOVERY_CODE_LENGTH or any(ch not in _ALPHABET for ch in cleaned):
        return None
    return cleaned


def recovery_code_hash(code: str) -> str:
    normalised = recovery_code_normalise(code)
    if normalised is None:
        raise ValueError("not a recovery code")
    return _hasher.encode(normalised, _hasher.salt())


def recovery_code_matches(normalised: str, encoded: str) -> bool:
    return _hasher.verify(normalised, encoded)
