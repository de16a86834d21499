"""argon2id with cost parameters from settings (cheap in tests, strong elsewhere)."""

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """Django's Argon2 hasher (argon2id) with configurable time and memory cost.

    The algorithm name stays ``argon2`` so hashes made with other parameters still verify;
    Django re-hashes on sign-in when parameters change.
    """

    @property
    def time_cost(self) -> int:  # type: ignore[override]
        return settings.ARGON2_TIME_COST

    @property
    def memory_cost(self) -> int:  # type: ignore[override]
        return settings.ARGON2_MEMORY_COST_KIB
