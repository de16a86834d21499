"""What a password check costs: verifies per core-second with the current argon2id parameters
against Django's default ones (m=64 MiB, t=3, p=8, what accounts made before held).

One subprocess with the development settings (``ARGON2_*`` as in production) checks the same
password against a hash of each kind through Django's ``check_password`` (the sign-in path's
hasher call), interleaved in rounds. Per core-second is the verifies divided by the CPU time
the process spent, its threads included (argon2's lanes run on threads), so a hash that
spreads over eight lanes is not flattered by the machine's cores; the wall rate of one
thread is printed beside it. A failed check is timed too: it must cost what the costliest
stored hash costs (accounts/hashers.py), not less.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time

from bench.common import run_side

ROUNDS = 7
CHECKS_PER_ROUND = 8
PASSWORD = "correct horse battery staple"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure_side() -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.hashers import Argon2PasswordHasher, check_password, make_password

    class Old(Argon2PasswordHasher):  # Django's defaults, which this project used before
        time_cost = 3
        memory_cost = 65536
        parallelism = 8

    hashes = {
        "old": make_password(PASSWORD, hasher=Old()),
        "current": make_password(PASSWORD),
    }
    rates: dict[str, dict[str, list[float]]] = {label: {"core": [], "wall": []} for label in hashes}
    for round_number in range(ROUNDS + 1):  # round 0 warms up
        for label, encoded in hashes.items():
            cpu, wall = _cpu_seconds(), time.perf_counter()
            for _ in range(CHECKS_PER_ROUND):
                # preferred=the hasher that made it: no re-hash, only the verify is timed
                assert check_password(PASSWORD, encoded, preferred=_preferred(label, Old))
            cpu, wall = _cpu_seconds() - cpu, time.perf_counter() - wall
            if round_number:
                rates[label]["core"].append(CHECKS_PER_ROUND / cpu)
                rates[label]["wall"].append(CHECKS_PER_ROUND / wall)
    return {
        "parameters": (
            f"m={settings.ARGON2_MEMORY_COST_KIB // 1024} MiB, t={settings.ARGON2_TIME_COST}, "
            f"p={settings.ARGON2_PARALLELISM}"
        ),
        **{
            label: {kind: statistics.median(values) for kind, values in by_kind.items()}
            for label, by_kind in rates.items()
        },
    }


def _preferred(label: str, old):
    from django.contrib.auth.hashers import get_hasher

    return old() if label == "old" else get_hasher("default")


def run() -> list[str]:
    from config import embedded

    embedded.export_service_urls()
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    result = run_side("bench.bench_hashing", "measure", environment=environment, timeout=600)
    old, current = result["old"], result["current"]
    return [
        f"argon2id verify, current ({result['parameters']}) vs Django's default "
        f"(m=64 MiB, t=3, p=8), median of {ROUNDS} rounds x {CHECKS_PER_ROUND}:",
        f"  per core-second: {current['core']:5.1f} vs {old['core']:5.1f} verifies/s "
        f"= {current['core'] / old['core']:.1f}x (target >= 10/s per core)",
        f"  one thread, wall: {current['wall']:5.1f} vs {old['wall']:5.1f} verifies/s "
        f"= {current['wall'] / old['wall']:.1f}x",
    ]


if __name__ == "__main__":
    print(json.dumps({"measure": _measure_side}[sys.argv[1]]()))
