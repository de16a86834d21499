"""argon2id with cost parameters from settings (cheap in tests, OWASP's recommendation elsewhere).

Invariant: a failed password check costs about as much hashing as the costliest password hash
still stored, whatever the address, so its timing does not tell whether an account exists.
Hashes made with earlier parameters keep verifying and are re-hashed with the current ones at
the next successful sign-in (Django's ``must_update``). A stored hash that is cheaper than the
current parameters is padded up to them on a failed check (``harden_runtime``); one that is
costlier (parameters retired since, such as Django's m=64 MiB, t=3, p=8) is padded up to by
every other failed check, for as long as such a hash is stored (:func:`failure_runtime_pad`,
called by ``accounts.backends``).

Cost model: argon2's work is memory x passes (KiB x t); parallelism splits the same work
across threads, so it changes the wall time on an idle machine, not the CPU spent.
"""

from __future__ import annotations

import re
import secrets
import time

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher

# "argon2$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>": the parameter part of a stored hash.
_PARAMETERS = re.compile(r"^m=(\d+),t=(\d+),p=(\d+)$")
# How long a process trusts its reading of the costliest stored parameters.
STORED_COST_SECONDS = 600


def _cost(memory_kib: int, time_cost: int) -> int:
    return memory_kib * time_cost


def _parameters_of(encoded: str) -> tuple[int, int, int] | None:
    """(memory KiB, passes, lanes) of a stored argon2 hash, or None for anything else."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != "argon2":
        return None
    match = _PARAMETERS.match(parts[3])
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def _spend(password: str, memory_kib: int, time_cost: int, parallelism: int) -> None:
    """Hash ``password`` once with these parameters and throw the result away."""
    from argon2.low_level import Type, hash_secret_raw

    hash_secret_raw(
        (password or "").encode(),
        secrets.token_bytes(16),
        time_cost=max(1, time_cost),
        memory_cost=max(8 * parallelism, memory_kib),
        parallelism=parallelism,
        hash_len=32,
        type=Type.ID,
    )


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """Django's Argon2 hasher (argon2id) with time, memory and lanes from settings.

    The algorithm name stays ``argon2`` so hashes made with other parameters still verify;
    Django re-hashes on sign-in when parameters change. One lane by default (OWASP): Django's
    eight lanes spend the same CPU per verify and only occupy more cores at once.
    """

    @property
    def time_cost(self) -> int:  # type: ignore[override]
        return settings.ARGON2_TIME_COST

    @property
    def memory_cost(self) -> int:  # type: ignore[override]
        return settings.ARGON2_MEMORY_COST_KIB

    @property
    def parallelism(self) -> int:  # type: ignore[override]
        return settings.ARGON2_PARALLELISM

    def harden_runtime(self, password: str, encoded: str) -> None:
        """Django calls this after a failed check of a hash whose parameters are not the
        current ones: spend the work the stored hash saved against the current parameters
        (nothing when it cost as much or more)."""
        stored = _parameters_of(encoded)
        if stored is None:
            return
        missing = _cost(self.memory_cost, self.time_cost) - _cost(stored[0], stored[1])
        if missing > 0:
            _spend(password, self.memory_cost, -(-missing // self.memory_cost), self.parallelism)


_stored: dict[str, object] = {"parameters": None, "until": 0.0}


def costliest_stored_parameters() -> tuple[int, int, int] | None:
    """The parameters of the costliest argon2 hash any account holds (read at most every
    ``STORED_COST_SECONDS`` per process: one scan of the users' hash prefixes)."""
    now = time.monotonic()
    if now < float(_stored["until"]):  # type: ignore[arg-type]
        return _stored["parameters"]  # type: ignore[return-value]
    from .selectors import password_hash_parameters

    parsed = [_PARAMETERS.match(value) for value in password_hash_parameters()]
    found = [(int(m[1]), int(m[2]), int(m[3])) for m in parsed if m]
    costliest = max(found, key=lambda p: _cost(p[0], p[1])) if found else None
    _stored.update(parameters=costliest, until=now + STORED_COST_SECONDS)
    return costliest


def stored_parameters_forget() -> None:
    """Read the stored parameters afresh at the next failed check (tests, after a change)."""
    _stored.update(parameters=None, until=0.0)


def failure_runtime_pad(password: str, checked: str | None) -> None:
    """After a failed check of ``checked`` (None: no such account, a hash with the current
    parameters was spent on it), spend what a failed check of the costliest stored hash
    costs beyond it, so that no failure is faster than another."""
    costliest = costliest_stored_parameters()
    if costliest is None:
        return
    current = (settings.ARGON2_MEMORY_COST_KIB, settings.ARGON2_TIME_COST)
    spent = _parameters_of(checked) if checked else None
    # A hash cheaper than the current parameters was padded up to them (harden_runtime);
    # anything that is not argon2 (an unusable password) cost one hash at them.
    already = max(_cost(*current), _cost(*spent[:2]) if spent else 0)
    missing = _cost(costliest[0], costliest[1]) - already
    if missing > 0:
        _spend(password, costliest[0], -(-missing // costliest[0]), costliest[2])
