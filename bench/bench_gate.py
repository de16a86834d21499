"""What the tenancy stack costs per request, and how long provisioning a workspace takes.

Two figures from one run, on one throw-away database (created here, dropped at the end):

* **stack**: ``GET /companies/`` on a workspace host, signed in as its owner, through the whole
  stack: host -> tenant resolution (cached), session, user, the gate's membership and
  capability check, search_path, the shop's company list (page 1 of 25 rows) in the base
  layout.
* **bare**: the same page-1-of-25 query on a plain table holding the same rows, rendered by a
  bare Django view (plain ``postgresql`` backend, no django-tenants, no middleware).

* **enforcement**: the stack page as deployed, with the shared tables' policies disabled, and
  on the owner's connection (no role switch) with them disabled, interleaved over several
  rounds: the differences are what the policies and the whole database-side enforcement
  (per-cursor ``SET ROLE`` plus the policies) cost.

Both are driven by an in-process WSGI loop (no sockets, one thread), so the ratio is the
cost of the stack itself. Each side runs in its own subprocess, because each needs its own
settings module. Then the median time to provision one workspace (clone the template schema
and verify it) over PROVISION_COUNT workspaces.

Uses the embedded PostgreSQL and Redis, or DATABASE_URL / REDIS_URL when they are set.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from bench.common import run_side, scratch_database

ROWS = 500
WARMUP_REQUESTS = 50
MEASURE_REQUESTS = 1000
MEASURE_SECONDS_MAX = 20.0
PROVISION_COUNT = 7
ENFORCEMENT_ROUNDS = 6
ROUND_REQUESTS = 200
WORKSPACE = "bench"
HOST = f"{WORKSPACE}.localhost"
PATH = "/companies/"


def company_rows(count: int = ROWS) -> list[dict]:
    """The rows both sides list: identical values, so both render the same page."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return [
        {
            "name": f"Company {index:04d} Signs & Print",
            "email": f"office@company{index:04d}.example",
            "phone": f"+1 555 01{index:04d}",
            "created_at": start + timedelta(hours=index),
        }
        for index in range(count)
    ]


# --- Shared measuring loop ------------------------------------------------------------------


def _environ(cookie: str = "") -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": PATH,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": HOST,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": HOST,
        "HTTP_COOKIE": cookie,
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def _measure(application, *, cookie: str = "", expect: str, count: int = MEASURE_REQUESTS) -> dict:
    """Requests per second of GET PATH through ``application`` (a WSGI callable)."""
    status_seen: list[str] = []

    def start_response(status, headers, exc_info=None):
        status_seen.append(status)

    def one_request() -> bytes:
        return b"".join(application(_environ(cookie), start_response))

    first = one_request()
    if not status_seen[-1].startswith("200") or expect.encode() not in first:
        raise RuntimeError(f"unexpected response {status_seen[-1]}: {first[:300]!r}")
    for _ in range(WARMUP_REQUESTS):
        one_request()
    timings = []
    deadline = time.perf_counter() + MEASURE_SECONDS_MAX
    began = time.perf_counter()
    for _ in range(count):
        started = time.perf_counter()
        one_request()
        timings.append(time.perf_counter() - started)
        if started > deadline:
            break
    elapsed = time.perf_counter() - began
    if any(not status.startswith("200") for status in status_seen):
        raise RuntimeError(f"non-200 responses while measuring: {set(status_seen)}")
    return {
        "requests": len(timings),
        "rps": len(timings) / elapsed,
        "median_ms": statistics.median(timings) * 1000,
        "p95_ms": statistics.quantiles(timings, n=20)[18] * 1000,
        "bytes": len(first),
    }


# --- Subprocess sides -----------------------------------------------------------------------


def _stack_side() -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
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

    provision_seconds = []
    for index in range(PROVISION_COUNT):
        started = time.perf_counter()
        tenant_provision(slug=f"provision-{index}", name=f"Provisioned {index}")
        provision_seconds.append(time.perf_counter() - started)
    connection.set_schema_to_public()

    tenant = tenant_provision(slug=WORKSPACE, name="Bench Signs")
    password = "bench owner passphrase"  # a throw-away database's only user
    owner = User.objects.create_user(
        email="owner@bench.example", password=password, full_name="Bench Owner"
    )
    Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
    with tenant_context(tenant):
        Company.objects.bulk_create(Company(**row) for row in company_rows())
        # created_at is auto_now_add: give the rows the shared timestamps afterwards.
        for row in company_rows():
            Company.objects.filter(name=row["name"]).update(created_at=row["created_at"])
    connection.set_schema_to_public()

    # Sign in through the real sign-in view, so the session is exactly a browser's.
    client = Client(HTTP_HOST=HOST)
    response = client.post("/accounts/sign-in/", {"email": owner.email, "password": password})
    if response.status_code != 302:
        raise RuntimeError(f"bench sign-in failed with status {response.status_code}")
    name = settings.SESSION_COOKIE_NAME
    cookie = f"{name}={client.cookies[name].value}"

    result = _measure(WSGIHandler(), cookie=cookie, expect="Company 0000 Signs")
    result["provision_seconds"] = provision_seconds
    result["enforcement_rounds"] = _enforcement_rounds(
        lambda: _measure(
            WSGIHandler(), cookie=cookie, expect="Company 0000 Signs", count=ROUND_REQUESTS
        )
    )
    return result


def _enforcement_rounds(measure) -> dict[str, list[float]]:
    """Median ms per round of the same page in three set-ups, interleaved over ENFORCEMENT_ROUNDS
    rounds (the order rotating each round) so drift on a busy machine falls on all three:

    - ``on``: as deployed: the runtime role, switched into the workspace's role per cursor,
      with the shared tables' policies;
    - ``no_policies``: the same with every policy disabled (this throw-away database only);
    - ``off``: no policies and the OWNER's connection, which switches no role and is checked
      for nothing (what the stack did before the database enforced anything).
    """
    variants = {
        "on": measure,
        "no_policies": lambda: _without_row_level_security(measure),
        "off": lambda: _without_row_level_security(lambda: _as_owner(measure)),
    }
    names = list(variants)
    medians: dict[str, list[float]] = {name: [] for name in names}
    for index in range(ENFORCEMENT_ROUNDS):
        for name in names[index % 3 :] + names[: index % 3]:
            medians[name].append(variants[name]()["median_ms"])
    return medians


def _as_owner(measure) -> dict:
    """``measure()`` on the OWNER's connection: it owns every schema, so the backend switches
    no role (plain ``SET search_path``, as before issue #12) and nothing is checked per table."""
    from tenants.roles import owner_credentials

    with owner_credentials():
        return measure()


def _without_row_level_security(measure) -> dict:
    """``measure()`` with every shared table's policies switched off (this throw-away database
    only), then on again: the same page, so the difference is what the policies cost."""
    from django.db import connection

    from tenants.roles import owner_credentials

    def switch(tables: list[str] | None, verb: str) -> list[str]:
        # Only the owner role may alter the tables; the page itself is measured as the runtime.
        with owner_credentials(), connection.cursor() as cursor:
            if tables is None:
                cursor.execute(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relrowsecurity"
                )
                tables = [connection.ops.quote_name(row[0]) for row in cursor.fetchall()]
            for table in tables:
                cursor.execute(f"ALTER TABLE public.{table} {verb} ROW LEVEL SECURITY")
        return tables

    tables = switch(None, "DISABLE")
    try:
        return measure()
    finally:
        switch(tables, "ENABLE")


def _bare_side() -> dict:
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    from bench.bare.models import BareCompany

    with connection.schema_editor() as editor:
        editor.create_model(BareCompany)
    BareCompany.objects.bulk_create(BareCompany(**row) for row in company_rows())
    return _measure(WSGIHandler(), expect="Company 0000 Signs")


# --- The runner's entry point ---------------------------------------------------------------


def _run_side(side: str, settings_module: str, database: str) -> dict:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "BENCH_DATABASE": database,
    }
    return run_side("bench.bench_gate", side, environment=environment, timeout=900)


def run() -> list[str]:
    from config import embedded

    embedded.export_service_urls()
    with scratch_database("bench_gate") as database:
        stack = _run_side("stack", "bench.settings_stack", database)
        bare = _run_side("bare", "bench.settings_bare", database)

    provision = stack.pop("provision_seconds")
    rounds = {
        name: statistics.median(values) for name, values in stack.pop("enforcement_rounds").items()
    }

    def figures(label: str, result: dict) -> str:
        return (
            f"{label}: {result['rps']:7.1f} req/s  median {result['median_ms']:.2f} ms  "
            f"p95 {result['p95_ms']:.2f} ms  ({result['requests']} requests, "
            f"{result['bytes']} bytes)"
        )

    return [
        f"GET {PATH} page 1 of {ROWS} companies (25 rows), in-process WSGI, one thread",
        figures("stack (tenant host, session, gate, shop page)", stack),
        figures("bare  (plain Django view, same query)        ", bare),
        f"ratio bare/stack: {bare['rps'] / stack['rps']:.2f}x  "
        f"(stack costs {stack['median_ms'] - bare['median_ms']:.2f} ms more per request)",
        f"same page, {ENFORCEMENT_ROUNDS} interleaved rounds of {ROUND_REQUESTS} requests, "
        f"median of the rounds' medians:",
        f"  as deployed (workspace role per cursor, policies): {rounds['on']:.2f} ms",
        f"  policies off                                     : {rounds['no_policies']:.2f} ms",
        f"  owner's connection, no role switch, policies off : {rounds['off']:.2f} ms",
        f"row-level security costs {rounds['on'] - rounds['no_policies']:+.2f} ms per request; "
        f"the database's whole enforcement (role switch and policies) "
        f"{rounds['on'] - rounds['off']:+.2f} ms (the role travels in the statement that sets "
        f"the search_path: no extra round trip)",
        f"provision one workspace: median {statistics.median(provision) * 1000:.0f} ms "
        f"(min {min(provision) * 1000:.0f}, max {max(provision) * 1000:.0f}, "
        f"n={len(provision)})",
    ]


if __name__ == "__main__":
    side = {"stack": _stack_side, "bare": _bare_side}[sys.argv[1]]
    print(json.dumps(side()))
