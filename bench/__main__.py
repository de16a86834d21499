"""`make bench` / ``python -m bench [NAME ...]``: run the benchmark modules ``bench/bench_*.py``.

A benchmark module exposes ``run() -> list[str]``: it does its own set-up (the runner
configures nothing, so modules may need different settings and usually start subprocesses)
and returns the result lines to print. ``python -m bench gate`` runs ``bench/bench_gate.py``
only; with no name every module runs, in name order. Results are also written to
``bench/results/<timestamp>.txt`` (git-ignored) so runs can be compared.
"""

from __future__ import annotations

import datetime
import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
RESULTS_DIR = PACKAGE_DIR / "results"


def discover() -> list[str]:
    """Names of the benchmark modules, without their ``bench_`` prefix."""
    return sorted(
        module.name.removeprefix("bench_")
        for module in pkgutil.iter_modules([str(PACKAGE_DIR)])
        if module.name.startswith("bench_")
    )


def main(argv: list[str]) -> int:
    available = discover()
    if any(arg in ("-h", "--help") for arg in argv):
        print(__doc__)
        print("Available:", ", ".join(available) or "(none)")
        return 0
    names = [arg.removeprefix("bench_").removesuffix(".py") for arg in argv] or available
    unknown = [name for name in names if name not in available]
    if unknown:
        print(f"Unknown benchmark(s): {', '.join(unknown)}. Available: {', '.join(available)}")
        return 2

    report: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        report.append(line)

    failures = 0
    for name in names:
        say(f"== {name}")
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.bench_{name}")
            for line in module.run():
                say(f"   {line}")
        except Exception:  # one broken benchmark must not hide the others' figures
            failures += 1
            say(f"   FAILED:\n{traceback.format_exc()}")
        say(f"   ({time.perf_counter() - started:.1f} s)")

    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(tz=datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"{stamp}.txt").write_text("\n".join(report) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
