"""Load through a real gunicorn: requests per second, p50, p99 and errors for three pages.

gunicorn runs exactly as the Dockerfile starts it (``gunicorn config.wsgi --config
config/gunicorn.conf.py --workers 3``: three sync workers), bound to 127.0.0.1 only, with the
development settings and DEBUG off (``bench.settings_stack``) on a throw-away database;
``wrk`` drives it over loopback for ``DURATION`` seconds per scenario (``apt-get install
wrk``) after a short warm-up:

* **list page**: ``GET /companies/`` on a workspace host, signed in (session and CSRF cookies);
* **sign-in under the throttle**: ``POST /accounts/sign-in/`` with a wrong password for one
  account from one address, with a valid CSRF token: after a few failures every attempt is
  refused with 429 before it reaches the password hasher;
* **unknown host**: ``GET /`` on a host that is no workspace (the friendly 404; the host
  lookup caches the miss).

An "error" is a socket error, a timeout or a status other than the scenario's expected ones
(200; 400 or 429; 404).

Before and after: with ``BENCH_LOAD_BASELINE=<another checkout>`` (for example a worktree of
the commit before a change: ``git worktree add ../base <commit>``) the same scenarios also run
against that checkout's code, with this checkout's virtualenv, servers and settings, in
alternating order over ``ROUNDS`` rounds; the figures are the medians of the rounds.

The setup runs as a script inside the checkout it measures (``python bench/bench_load.py
setup``), so it uses only what every version has: migrations, ``tenant_provision``, users,
memberships and Django's test client.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DURATION = int(os.environ.get("BENCH_LOAD_SECONDS", "15"))
WARMUP_SECONDS = 3
CONNECTIONS = 6
ROUNDS = 2
HOST = "bench.localhost"
ROWS = 500
PASSWORD = "bench owner passphrase"  # a throw-away database's only user
EMAIL = "owner@bench.example"

WRK_SCRIPT = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  statuses = {}
  wrk.method = os.getenv("BENCH_METHOD") or "GET"
  wrk.body = os.getenv("BENCH_BODY")
  wrk.headers["Host"] = os.getenv("BENCH_HOST")
  wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
  if wrk.method == "POST" then
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local parts = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      parts[#parts + 1] = string.format('"%d": %d', status, count)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "microseconds": %d, "p50": %d, "p99": %d, ' ..
    '"socket_errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, table.concat(parts, ", ")))
end
"""

SCENARIOS = {
    "list page (signed in)": {"path": "/companies/", "expect": {200}},
    "sign-in POST (throttled)": {"path": "/accounts/sign-in/", "expect": {400, 429}},
    "unknown host": {"path": "/", "expect": {404}},
}


# --- Setup, run inside the measured checkout --------------------------------------------------


def _setup() -> None:
    import django

    django.setup()
    from datetime import UTC, datetime, timedelta

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import tenant_context

    from accounts.models import User
    from kernel.roles import Role
    from rbac.models import Membership
    from shop.models import Company
    from tenants.services import tenant_provision

    call_command("migrate_schemas", interactive=False, verbosity=0)
    tenant = tenant_provision(slug="bench", name="Bench Signs")
    owner = User.objects.create_user(email=EMAIL, password=PASSWORD, full_name="Bench Owner")
    Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with tenant_context(tenant):
        Company.objects.bulk_create(
            Company(name=f"Company {index:04d} Signs & Print", email=f"office@c{index}.example")
            for index in range(ROWS)
        )
        Company.objects.update(created_at=start + timedelta(hours=1))
    connection.set_schema_to_public()

    names = (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)
    member = Client(HTTP_HOST=HOST)
    if member.post("/accounts/sign-in/", {"email": EMAIL, "password": PASSWORD}).status_code != 302:
        raise RuntimeError("bench sign-in failed")
    member.get("/companies/")
    visitor = Client(HTTP_HOST=HOST)
    form = visitor.get("/accounts/sign-in/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    if token is None:
        raise RuntimeError("no CSRF token on the sign-in page")
    print(
        json.dumps(
            {
                "member_cookie": "; ".join(f"{n}={member.cookies[n].value}" for n in names),
                "visitor_cookie": f"{names[1]}={visitor.cookies[names[1]].value}",
                "sign_in_body": f"email={EMAIL.replace('@', '%40')}&password=wrong+guess"
                f"&csrfmiddlewaretoken={token.group(1)}",
            }
        )
    )


# --- The runner -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment(checkout: Path, database: str) -> dict:
    here = Path(__file__).resolve().parent.parent
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings_stack",
        "BENCH_DATABASE": database,
        "PYTHONPATH": str(checkout),
        # This checkout's embedded servers and development keys, whichever code runs.
        "EMBEDDED_STATE_DIR": os.environ.get("EMBEDDED_STATE_DIR", str(here / ".local")),
    }


class Gunicorn:
    """gunicorn with the Dockerfile's arguments, on a free loopback port."""

    def __init__(self, checkout: Path, environment: dict):
        self.port = _free_port()
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen(  # noqa: S603 - our virtualenv's gunicorn
            [
                str(gunicorn),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "3",
                "--config",
                "config/gunicorn.conf.py",
                "--chdir",
                str(checkout),
            ],
            env=environment,
            cwd=str(checkout),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _wrk(port: int, path: str, seconds: int, environment: dict, script: str) -> dict:
    completed = subprocess.run(  # noqa: S603 - wrk on loopback
        [
            shutil.which("wrk") or "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            script,
            f"http://127.0.0.1:{port}{path}",
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    line = next(row for row in completed.stdout.splitlines() if row.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def _prime(port: int, path: str, scenario: dict) -> None:
    """A few requests one after another, so every worker has started (imports, templates,
    its database connection) before wrk's clock runs."""
    import http.client

    headers = {"Host": scenario["BENCH_HOST"], "Cookie": scenario.get("BENCH_COOKIE", "")}
    for _ in range(9):
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            client.request("GET", path, headers=headers)
            client.getresponse().read()
        finally:
            client.close()


def _scenario_environment(name: str, made: dict) -> dict:
    if name.startswith("list page"):
        return {"BENCH_HOST": HOST, "BENCH_COOKIE": made["member_cookie"]}
    if name.startswith("sign-in"):
        return {
            "BENCH_HOST": HOST,
            "BENCH_COOKIE": made["visitor_cookie"],
            "BENCH_METHOD": "POST",
            "BENCH_BODY": made["sign_in_body"],
        }
    return {"BENCH_HOST": "no-such-workspace.localhost", "BENCH_COOKIE": ""}


def _measure(checkout: Path, database: str, made: dict, script: str) -> dict[str, dict]:
    server = Gunicorn(checkout, _environment(checkout, database))
    try:
        results = {}
        for name, scenario in SCENARIOS.items():
            scenario_environment = _scenario_environment(name, made)
            environment = {**os.environ, **scenario_environment}
            _prime(server.port, scenario["path"], scenario_environment)
            _wrk(server.port, scenario["path"], WARMUP_SECONDS, environment, script)
            result = _wrk(server.port, scenario["path"], DURATION, environment, script)
            unexpected = sum(
                count
                for status, count in result["statuses"].items()
                if int(status) not in scenario["expect"]
            )
            results[name] = {
                "rps": result["requests"] / (result["microseconds"] / 1e6),
                "p50_ms": result["p50"] / 1000,
                "p99_ms": result["p99"] / 1000,
                "errors": unexpected + result["socket_errors"],
                "requests": result["requests"],
                "statuses": result["statuses"],
            }
        return results
    finally:
        server.stop()


def _setup_in(checkout: Path, database: str) -> dict:
    """Run this file's setup inside ``checkout`` (its code, this virtualenv)."""
    from bench.common import side_result

    completed = subprocess.run(  # noqa: S603 - our interpreter and this file
        [sys.executable, str(Path(__file__).resolve()), "setup"],
        env={**_environment(checkout, database), "BENCH_AS_SCRIPT": "1"},
        cwd=str(checkout),
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"setup in {checkout} failed:\n{completed.stdout}\n{completed.stderr}")
    return side_result(completed.stdout)


def run() -> list[str]:
    from bench.common import scratch_database
    from config import embedded

    if shutil.which("wrk") is None:
        raise RuntimeError("bench_load needs wrk (apt-get install wrk)")
    embedded.export_service_urls()
    current = Path(__file__).resolve().parent.parent
    checkouts = {"after": current}
    if os.environ.get("BENCH_LOAD_BASELINE"):
        checkouts = {"before": Path(os.environ["BENCH_LOAD_BASELINE"]).resolve(), **checkouts}
    rounds: dict[str, list[dict]] = {label: [] for label in checkouts}
    with tempfile.TemporaryDirectory() as scratch:
        script = str(Path(scratch) / "bench.lua")
        Path(script).write_text(WRK_SCRIPT)
        with (
            scratch_database("bench_load_a") as first,
            scratch_database("bench_load_b") as second,
        ):
            databases = dict(zip(checkouts, (first, second), strict=False))
            made = {label: _setup_in(path, databases[label]) for label, path in checkouts.items()}
            for index in range(ROUNDS):
                order = list(checkouts) if index % 2 == 0 else list(reversed(checkouts))
                for label in order:
                    rounds[label].append(
                        _measure(checkouts[label], databases[label], made[label], script)
                    )

    lines = [
        f"gunicorn config.wsgi --workers 3 (sync) on 127.0.0.1, wrk -t1 -c{CONNECTIONS}, "
        f"{DURATION} s per scenario after {WARMUP_SECONDS} s of warm-up, {ROUNDS} rounds "
        f"(medians); code: " + ", ".join(f"{label} = {path}" for label, path in checkouts.items())
    ]
    for name in SCENARIOS:
        for label in checkouts:
            results = [one[name] for one in rounds[label]]
            statuses: dict[str, int] = {}
            for result in results:
                for status, count in result["statuses"].items():
                    statuses[status] = statuses.get(status, 0) + count
            lines.append(
                f"{name:26s} {label:6s}: {statistics.median(r['rps'] for r in results):7.1f} "
                f"req/s  p50 {statistics.median(r['p50_ms'] for r in results):7.2f} ms  "
                f"p99 {statistics.median(r['p99_ms'] for r in results):7.2f} ms  errors "
                f"{sum(r['errors'] for r in results)}  statuses {dict(sorted(statuses.items()))}"
            )
    return lines


if __name__ == "__main__" and os.environ.get("BENCH_AS_SCRIPT"):
    sys.path.insert(0, os.getcwd())  # the measured checkout, not this file's folder
    _setup()
