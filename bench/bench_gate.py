"""What the tenancy stack costs per request, and how long provisioning a workspace takes.

Two sides, each a long-lived process of its own (each needs its own settings module), driven
in interleaved rounds so that drift on a busy machine falls on both alike:

* **stack**: ``GET /companies/`` on a workspace host, signed in as its owner (session and CSRF
  cookies, as a browser sends them), through the whole stack: host -> tenant resolution
  (cached), every middleware, the gate's one lookup (session, user, tracked session,
  membership and banner, with the workspace context in the same round trip), the shop's
  company list (page 1 of 25 rows) in the base layout.
* **bare**: the same page code (``kernel.views.list_page``), the same query, the same
  template with the same context, on a plain Django (plain ``postgresql`` backend, no
  middleware, no tenancy; ``bench/bare/``), in a database of its own holding the same rows.
  The two pages are compared byte for byte (CSRF tokens aside) before anything is measured.

The ratio printed is the stack's throughput over the bare view's (issue #14 asks for at
least 0.90), the median of the rounds' ratios. Both are driven by an in-process WSGI loop (no
sockets, one thread), so the ratio is the cost of the stack itself; ``bench_load`` measures
the same pages through gunicorn.

A third side serves the stack's page with the per-process host map switched off
(``TENANT_HOST_LOCAL_SECONDS=0``: each request asks Redis for its host, as before the map),
interleaved with the other two: the ratio printed is what the map saves.

Then, on the stack side: the same page as deployed, with the shared tables' policies
disabled, and on the owner's connection (no role switch) with them disabled, interleaved over
several rounds: the differences are what the policies and the whole database-side
enforcement (the context switch plus the policies) cost. And the median time to provision one
workspace (clone the template schema and verify it) over PROVISION_COUNT workspaces.

Uses the embedded PostgreSQL and Redis, or DATABASE_URL / REDIS_URL when they are set.
"""

from __future__ import annotations

import io
import json
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from bench.common import scratch_database

ROWS = 500
WARMUP_REQUESTS = 100
ROUNDS = 8
ROUND_REQUESTS = 150
PROVISION_COUNT = 7
ENFORCEMENT_ROUNDS = 6
ENFORCEMENT_ROUND_REQUESTS = 150
WORKSPACE = "bench"
HOST = f"{WORKSPACE}.localhost"
PATH = "/companies/"
SIDE_TIMEOUT = 900
# A CSRF token (masked or not) in a page or a cookie: the only bytes allowed to differ.
CSRF_TOKEN = re.compile(rb"[A-Za-z0-9]{32,64}")


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


def companies_insert(count: int = ROWS) -> None:
    """Insert the rows (in the current schema) with their fixed timestamps."""
    from shop.models import Company

    Company.objects.bulk_create(Company(**row) for row in company_rows(count))
    # created_at is auto_now_add: give the rows the shared timestamps afterwards.
    for row in company_rows(count):
        Company.objects.filter(name=row["name"]).update(created_at=row["created_at"])


# --- Shared measuring loop ------------------------------------------------------------------


def wsgi_environ(cookie: str = "", host: str = HOST, path: str = PATH) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": host,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
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


class Page:
    """One page through a WSGI application, timed request by request."""

    def __init__(self, application, *, cookie: str = "", host: str = HOST, path: str = PATH):
        self.application = application
        self.cookie = cookie
        self.host = host
        self.path = path

    def get(self) -> tuple[str, bytes]:
        statuses: list[str] = []

        def start_response(status, headers, exc_info=None):
            statuses.append(status)

        body = b"".join(
            self.application(wsgi_environ(self.cookie, self.host, self.path), start_response)
        )
        return statuses[-1], body

    def check(self, expect: str) -> bytes:
        status, body = self.get()
        if not status.startswith("200") or expect.encode() not in body:
            raise RuntimeError(f"unexpected response {status}: {body[:300]!r}")
        return body

    def timings(self, count: int) -> list[float]:
        """Seconds per request over ``count`` requests (each must answer 200)."""
        seconds = []
        for _ in range(count):
            started = time.perf_counter()
            status, _ = self.get()
            seconds.append(time.perf_counter() - started)
            if not status.startswith("200"):
                raise RuntimeError(f"non-200 response while measuring: {status}")
        return seconds


def backend_cpu_seconds() -> float | None:
    """CPU time the default connection's PostgreSQL backend has used so far, read from /proc
    (None when the server is not on this machine or /proc cannot be read)."""
    from django.db import connection

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def redis_cpu_seconds() -> float | None:
    """CPU time the Redis server has used so far (its INFO), or None without one in use."""
    from django.conf import settings
    from django.core.cache import caches

    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        return None
    info = caches["default"]._cache.get_client().info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def measured_round(page: Page, count: int) -> dict:
    """One round: each request's wall time, and the CPU the round cost this process, its
    PostgreSQL backend and Redis (CPU does not count time spent waiting for a busy machine)."""
    client, backend, redis = time.process_time(), backend_cpu_seconds(), redis_cpu_seconds()
    seconds = page.timings(count)
    cpu = {"client": time.process_time() - client}
    backend_after, redis_after = backend_cpu_seconds(), redis_cpu_seconds()
    if backend is not None and backend_after is not None:
        cpu["database"] = backend_after - backend
    if redis is not None and redis_after is not None:
        cpu["redis"] = redis_after - redis
    return {"seconds": seconds, "cpu": cpu}


def queries_per_request(page: Page) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        page.get()
    return [query["sql"][:120] for query in captured.captured_queries]


# --- The sides: long-lived processes answering one JSON line per command --------------------


def _serve(page: Page, ready: dict, commands: dict) -> None:
    """Announce ``ready``, then answer commands read from stdin until it closes."""
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        name, _, argument = line.strip().partition(" ")
        if name == "measure":
            print(json.dumps(measured_round(page, int(argument))), flush=True)
        elif name in commands:
            print(json.dumps(commands[name]()), flush=True)
        else:
            raise SystemExit(f"unknown command {line!r}")


def _stack_side() -> None:
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import tenant_context

    from tenants.services import tenant_provision

    call_command("migrate_schemas", interactive=False, verbosity=0)

    provision_seconds = []
    for index in range(PROVISION_COUNT):
        started = time.perf_counter()
        tenant_provision(slug=f"provision-{index}", name=f"Provisioned {index}")
        provision_seconds.append(time.perf_counter() - started)
    connection.set_schema_to_public()

    tenant = tenant_provision(slug=WORKSPACE, name="Bench Signs")
    cookie = owner_signed_in(tenant)
    with tenant_context(tenant):
        companies_insert()
    connection.set_schema_to_public()

    page = Page(WSGIHandler(), cookie=cookie)
    body = page.check("Company 0000 Signs")
    page.timings(WARMUP_REQUESTS)
    _serve(
        page,
        {
            "body": body.decode(),
            "queries": queries_per_request(page),
            "provision_seconds": provision_seconds,
            "cookie": cookie,
        },
        {"enforcement": lambda: _enforcement_rounds(page)},
    )


def _stack_again_side() -> None:
    """The stack side's page, signed in with its cookie, in a process of its own: run with
    TENANT_HOST_LOCAL_SECONDS=0, it is the stack without the per-process host map (every
    request asks Redis for its host), interleaved with the stack as configured."""
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    page = Page(WSGIHandler(), cookie=os.environ["BENCH_COOKIE"])
    body = page.check("Company 0000 Signs")
    page.timings(WARMUP_REQUESTS)
    _serve(page, {"body": body.decode(), "queries": queries_per_request(page)}, {})


def owner_signed_in(tenant, email: str = "owner@bench.example") -> str:
    """Create the workspace's owner, sign in through the real sign-in view (so the session is
    exactly a browser's) and return the Cookie header a browser would send."""
    from django.conf import settings
    from django.test import Client

    from accounts.models import User
    from kernel.roles import Role
    from rbac.models import Membership

    password = "bench owner passphrase"  # a throw-away database's only users
    owner = User.objects.create_user(email=email, password=password, full_name="Bench Owner")
    Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
    client = Client(HTTP_HOST=f"{tenant.slug}.localhost")
    response = client.post("/accounts/sign-in/", {"email": owner.email, "password": password})
    if response.status_code != 302:
        raise RuntimeError(f"bench sign-in failed with status {response.status_code}")
    names = (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)
    return "; ".join(f"{name}={client.cookies[name].value}" for name in names)


def _enforcement_rounds(page: Page) -> dict[str, list[float]]:
    """Median ms per round of the same page in three set-ups, interleaved over ENFORCEMENT_ROUNDS
    rounds (the order rotating each round) so drift on a busy machine falls on all three:

    - ``on``: as deployed: the runtime role, switched into the workspace's role, with the
      shared tables' policies;
    - ``no_policies``: the same with every policy disabled (this throw-away database only);
    - ``off``: no policies and the OWNER's connection, which switches no role and is checked
      for nothing (what the stack did before the database enforced anything).
    """

    def measure() -> float:
        return statistics.median(page.timings(ENFORCEMENT_ROUND_REQUESTS)) * 1000

    variants = {
        "on": measure,
        "no_policies": lambda: _without_row_level_security(measure),
        "off": lambda: _without_row_level_security(lambda: _as_owner(measure)),
    }
    names = list(variants)
    medians: dict[str, list[float]] = {name: [] for name in names}
    for index in range(ENFORCEMENT_ROUNDS):
        for name in names[index % 3 :] + names[: index % 3]:
            medians[name].append(variants[name]())
    return medians


def _as_owner(measure):
    """``measure()`` on the OWNER's connection: it owns every schema, so the backend switches
    no role (plain ``SET search_path``, as before issue #12) and nothing is checked per table."""
    from tenants.roles import owner_credentials

    with owner_credentials():
        return measure()


def _without_row_level_security(measure):
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


def _bare_side() -> None:
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    from shop.models import Company

    with connection.schema_editor() as editor:
        editor.create_model(Company)
    companies_insert()
    page = Page(WSGIHandler())
    body = page.check("Company 0000 Signs")
    page.timings(WARMUP_REQUESTS)
    _serve(page, {"body": body.decode(), "queries": queries_per_request(page)}, {})


# --- The runner's entry point ---------------------------------------------------------------


class Side:
    """A side's process: started with its settings, then asked for rounds of requests."""

    def __init__(
        self, side: str, settings_module: str, database: str, module: str = "bench.bench_gate"
    ):
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "BENCH_DATABASE": database,
        }
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter and module
            [sys.executable, "-m", module, side],
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ready = self._answer()

    def _answer(self) -> dict:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=SIDE_TIMEOUT)
            raise RuntimeError(f"the side exited with {self.process.returncode}")
        return json.loads(line)

    def ask(self, command: str) -> dict:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._answer()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=SIDE_TIMEOUT)


def same_page(stack_body: str, bare_body: str) -> bool:
    """Whether both sides rendered the same bytes, CSRF tokens aside."""
    return CSRF_TOKEN.sub(b"T", stack_body.encode()) == CSRF_TOKEN.sub(b"T", bare_body.encode())


def interleaved(first: Side, second: Side, rounds: int, requests: int) -> list[list[dict]]:
    """Per side, each round's measurements (``measured_round``); the order alternates."""
    results: list[list[dict]] = [[], []]
    sides = [first, second]
    for index in range(rounds):
        order = (0, 1) if index % 2 == 0 else (1, 0)
        for which in order:
            results[which].append(sides[which].ask(f"measure {requests}"))
    return results


def interleaved_sides(sides: list[Side], rounds: int, requests: int) -> list[list[dict]]:
    """``interleaved`` for any number of sides: the order rotates each round."""
    results: list[list[dict]] = [[] for _ in sides]
    for index in range(rounds):
        shift = index % len(sides)
        for which in [*range(shift, len(sides)), *range(shift)]:
            results[which].append(sides[which].ask(f"measure {requests}"))
    return results


def cpu_per_request(rounds: list[dict]) -> dict[str, float]:
    """Milliseconds of CPU per request, per process (client, database, redis)."""
    requests = sum(len(one["seconds"]) for one in rounds)
    totals: dict[str, float] = {}
    for one in rounds:
        for name, value in one["cpu"].items():
            totals[name] = totals.get(name, 0.0) + value
    return {name: total * 1000 / requests for name, total in totals.items()}


def figures(label: str, rounds: list[dict], body: str, queries: list[str]) -> str:
    flat = [value for one in rounds for value in one["seconds"]]
    cpu = cpu_per_request(rounds)
    cpu_text = " + ".join(f"{name} {value:.2f}" for name, value in cpu.items())
    return (
        f"{label}: {len(flat) / sum(flat):7.1f} req/s  median {statistics.median(flat) * 1000:.2f} "
        f"ms  p95 {statistics.quantiles(flat, n=20)[18] * 1000:.2f} ms  ({len(flat)} requests, "
        f"{len(body.encode())} bytes, {len(queries)} queries)\n"
        f"      CPU per request: {sum(cpu.values()):.2f} ms ({cpu_text})"
    )


def run() -> list[str]:
    from config import embedded

    embedded.export_service_urls()
    with scratch_database("bench_gate") as database, scratch_database("bench_bare") as bare_db:
        stack = Side("stack", "bench.settings_stack", database)
        bare = Side("bare", "bench.settings_bare", bare_db)
        os.environ.update(BENCH_COOKIE=stack.ready["cookie"], TENANT_HOST_LOCAL_SECONDS="0")
        try:
            no_map = Side("stack_again", "bench.settings_stack", database)
        finally:
            os.environ.pop("BENCH_COOKIE", None)
            os.environ.pop("TENANT_HOST_LOCAL_SECONDS", None)
        try:
            if not same_page(stack.ready["body"], bare.ready["body"]):
                raise RuntimeError("the bare view does not render the stack's page")
            stack_rounds, bare_rounds, no_map_rounds = interleaved_sides(
                [stack, bare, no_map], ROUNDS, ROUND_REQUESTS
            )
            enforcement = stack.ask("enforcement")
        finally:
            stack.close()
            bare.close()
            no_map.close()

    ratios = [
        sum(b["seconds"]) / sum(s["seconds"])
        for s, b in zip(stack_rounds, bare_rounds, strict=True)
    ]
    cpu_ratio = sum(cpu_per_request(bare_rounds).values()) / sum(
        cpu_per_request(stack_rounds).values()
    )
    map_ratios = [
        sum(off["seconds"]) / sum(on["seconds"])
        for on, off in zip(stack_rounds, no_map_rounds, strict=True)
    ]
    map_cpu_ratio = sum(cpu_per_request(no_map_rounds).values()) / sum(
        cpu_per_request(stack_rounds).values()
    )
    provision = stack.ready["provision_seconds"]
    rounds = {name: statistics.median(values) for name, values in enforcement.items()}
    stack_queries = stack.ready["queries"]
    return [
        f"GET {PATH} page 1 of {ROWS} companies (25 rows), in-process WSGI, one thread, "
        f"{ROUNDS} interleaved rounds of {ROUND_REQUESTS} requests per side",
        figures("stack (host, session, gate, shop page)", stack_rounds, *_of(stack)),
        figures("bare  (same page code and template)   ", bare_rounds, *_of(bare)),
        "same page on both sides (byte for byte, CSRF tokens aside): yes",
        f"stack/bare throughput: {statistics.median(ratios):.2f}x (median of the rounds; "
        f"min {min(ratios):.2f}, max {max(ratios):.2f}; target >= 0.90)",
        f"stack/bare by CPU per request (what a saturated server's throughput follows, "
        f"unaffected by waiting for a busy machine): {cpu_ratio:.2f}x",
        figures("stack without the host map (Redis)  ", no_map_rounds, *_of(no_map)),
        f"stack with the per-process host map / without it: throughput "
        f"{statistics.median(map_ratios):.2f}x (min {min(map_ratios):.2f}, max "
        f"{max(map_ratios):.2f}), CPU per request {map_cpu_ratio:.2f}x",
        f"stack queries: {len(stack_queries)} = the page's {len(bare.ready['queries'])} + "
        f"{len(stack_queries) - len(bare.ready['queries'])} (the gate's lookup with the "
        f"workspace context)",
        f"same page, {ENFORCEMENT_ROUNDS} interleaved rounds of {ENFORCEMENT_ROUND_REQUESTS} "
        f"requests, median of the rounds' medians:",
        f"  as deployed (workspace role, policies)            : {rounds['on']:.2f} ms",
        f"  policies off                                      : {rounds['no_policies']:.2f} ms",
        f"  owner's connection, no role switch, policies off  : {rounds['off']:.2f} ms",
        f"row-level security costs {rounds['on'] - rounds['no_policies']:+.2f} ms per request; "
        f"the database's whole enforcement (role switch and policies) "
        f"{rounds['on'] - rounds['off']:+.2f} ms (the role travels with the search_path, in the "
        f"gate's lookup: no extra round trip)",
        f"provision one workspace: median {statistics.median(provision) * 1000:.0f} ms "
        f"(min {min(provision) * 1000:.0f}, max {max(provision) * 1000:.0f}, "
        f"n={len(provision)})",
    ]


def _of(side: Side) -> tuple[str, list[str]]:
    return side.ready["body"], side.ready["queries"]


if __name__ == "__main__":
    {"stack": _stack_side, "bare": _bare_side, "stack_again": _stack_again_side}[sys.argv[1]]()
