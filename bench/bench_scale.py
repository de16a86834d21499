"""Flat with the number of workspaces: the list page at 10 and at many workspaces, and what a
database connection costs in memory as it visits workspaces.

Two throw-away databases, each with the same signed-in ``bench`` workspace and its 500
companies, one holding ``SMALL`` workspaces and the other ``LARGE``
(``BENCH_SCALE_WORKSPACES``, default 1,000: on the shared 2-core machine the bulk path made
1.5 to 9 workspaces a second depending on the machine's load, so 10,000 takes between 20
minutes and two hours; set it for a full run). Each is set up by a process of its own and
then served by a fresh long-lived one (``bench.settings_stack``), and ``GET /companies/`` is
measured on both in interleaved rounds (``bench_gate``'s loop): the p50 ratio is what issue
#14 asks to keep within 10%; the CPU per request (client and database) is printed too, since
it does not wander with the machine's load.

The many workspaces are made by a bench-only bulk path, not by sign-up's (``tenant_provision``
clones the template through the owner's function; a fresh clone costs a few hundred
milliseconds, nearly all of it PostgreSQL 16 syncing each new index file to disk): the
template schema's DDL, taken once with ``pg_dump``, is run under each new name by several
owner connections in parallel (the syncs overlap), with the template's migration and content
type rows copied and the owner's own ``shopsafe_runtime_grants`` creating the workspace's role
and its grants, exactly as provisioning does; the workspace and domain rows are bulk-inserted.
Then ``ANALYZE`` brings the catalog statistics up to date (a database owner may analyze the
catalogs of its database).

Memory: on the large database, one connection visits ``MEMORY_VISITS`` workspaces in turn
(each: the list page's query and a read of every other table of the schema), first with
recycling switched off (the backend's private memory, ``RssAnon`` from /proc, sampled as it
grows: the slope is the catalog cache per workspace), then with ``WORKSPACES_PER_CONNECTION``
as configured, with a request boundary after each visit (the largest backend seen, and how
many connections it took).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from bench.bench_gate import (
    PATH,
    WARMUP_REQUESTS,
    Page,
    Side,
    _serve,
    companies_insert,
    cpu_per_request,
    interleaved,
    owner_signed_in,
    queries_per_request,
)
from bench.common import run_side, scratch_database

SMALL = 10
LARGE = int(os.environ.get("BENCH_SCALE_WORKSPACES", "1000"))
PARALLEL = int(
    os.environ.get("BENCH_SCALE_PARALLEL", "8")
)  # owner connections creating schemas at once
ROUNDS = 10
ROUND_REQUESTS = 150
MEMORY_VISITS = 400
MEMORY_SAMPLE_EVERY = 25


# --- The bulk path (this benchmark only) ----------------------------------------------------


def _owner_conninfo() -> str:
    import psycopg
    from django.conf import settings

    owner = settings.DATABASES["owner"]
    return psycopg.conninfo.make_conninfo(
        dbname=owner["NAME"],
        user=owner["USER"],
        password=owner["PASSWORD"] or None,
        host=owner["HOST"] or None,
        port=owner["PORT"] or None,
    )


def _pg_dump() -> str:
    try:
        from pgserver._commands import POSTGRES_BIN_PATH  # the embedded server's own tools

        embedded = POSTGRES_BIN_PATH / "pg_dump"
        if embedded.exists() and not os.environ.get("BENCH_PG_DUMP"):
            return str(embedded)
    except ImportError:
        pass
    found = os.environ.get("BENCH_PG_DUMP") or shutil.which("pg_dump")
    if not found:
        raise RuntimeError("bench_scale needs pg_dump (set BENCH_PG_DUMP)")
    return found


def template_ddl() -> str:
    """The template schema's DDL, with no owner or privileges (grants come from the owner's
    function, as for every workspace)."""
    from django.conf import settings

    dumped = subprocess.run(  # noqa: S603 - pg_dump with our own connection string
        [
            _pg_dump(),
            "--schema-only",
            f"--schema={settings.TENANT_BASE_SCHEMA}",
            "--no-owner",
            "--no-privileges",
            f"--dbname={_owner_conninfo()}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return "\n".join(line for line in dumped.splitlines() if not line.startswith("--"))


def workspaces_bulk_provision(count: int) -> float:
    """Create ``count`` workspaces (rows, domains, schemas, roles); returns the seconds taken."""
    import psycopg
    from django.conf import settings

    from tenants.models import Domain, Tenant
    from tenants.services import hostname_for, schema_name_for

    started = time.perf_counter()
    slugs = [f"scale-{index:05d}" for index in range(count)]
    Tenant.objects.bulk_create(
        (
            Tenant(slug=slug, name=f"Scale {slug}", schema_name=schema_name_for(slug))
            for slug in slugs
        ),
        batch_size=1000,
    )
    tenants = Tenant.objects.filter(slug__in=slugs).values_list("pk", "slug")
    Domain.objects.bulk_create(
        (Domain(domain=hostname_for(slug), tenant_id=pk, is_primary=True) for pk, slug in tenants),
        batch_size=1000,
    )
    template = settings.TENANT_BASE_SCHEMA
    ddl = template_ddl()
    name = re.compile(rf"\b{re.escape(template)}\b")

    def create(share: list[str]) -> None:
        with psycopg.connect(_owner_conninfo(), cursor_factory=psycopg.ClientCursor) as owner:
            for slug in share:
                schema = schema_name_for(slug)
                with owner.transaction():
                    owner.execute(name.sub(schema, ddl))
                    for table in ("django_migrations", "django_content_type"):
                        owner.execute(
                            f'INSERT INTO "{schema}"."{table}" '  # noqa: S608 - our names
                            f'SELECT * FROM "{template}"."{table}"'
                        )
                    owner.execute("SELECT public.shopsafe_runtime_grants(%s)", [schema])
                    owner.execute("SELECT public.shopsafe_sequences_catch_up(%s)", [schema])

    shares = [slugs[index::PARALLEL] for index in range(PARALLEL)]
    with ThreadPoolExecutor(PARALLEL) as pool:
        for future in [pool.submit(create, share) for share in shares]:
            future.result()
    with psycopg.connect(_owner_conninfo(), autocommit=True) as owner:
        owner.execute("ANALYZE")  # the catalogs' statistics too: the owner owns the database
    return time.perf_counter() - started


# --- Memory of one connection ---------------------------------------------------------------


def _rss_anon_mb() -> float | None:
    from django.db import connection

    connection.ensure_connection()
    try:
        status = open(f"/proc/{connection.connection.info.backend_pid}/status").read()  # noqa: SIM115
    except OSError:
        return None
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("RssAnon"))
    return int(kilobytes) / 1024


def _workspace_models() -> list:
    from django.apps import apps
    from django.conf import settings

    tenant_only = set(settings.TENANT_APPS) - set(settings.SHARED_APPS)
    return [model for model in apps.get_models() if model._meta.app_config.name in tenant_only]


def _visit(schema: str) -> None:
    """What a connection serving all of a workspace's pages reads: every table of its schema."""
    from django.db import connection

    from shop.models import Company

    connection.set_schema(schema)
    list(Company.objects.order_by("name", "-pk")[:25])
    for model in _workspace_models():
        model.objects.exists()


def memory_probe() -> dict:
    """RssAnon of the backend as one connection visits workspaces, without recycling and
    with it (a request boundary after each visit)."""
    from django.db import connection

    from tenants.models import Tenant

    schemas = list(
        Tenant.objects.filter(slug__startswith="scale-")
        .order_by("slug")
        .values_list("schema_name", flat=True)[:MEMORY_VISITS]
    )
    limit = connection.settings_dict.get("WORKSPACES_PER_CONNECTION") or 0
    connection.close()
    connection.settings_dict["WORKSPACES_PER_CONNECTION"] = 0
    samples = [(0, _rss_anon_mb())]
    for index, schema in enumerate(schemas, start=1):
        _visit(schema)
        if index % MEMORY_SAMPLE_EVERY == 0:
            samples.append((index, _rss_anon_mb()))
    connection.set_schema_to_public()
    connection.close()
    connection.settings_dict["WORKSPACES_PER_CONNECTION"] = limit
    largest, pids = 0.0, set()
    for schema in schemas:
        _visit(schema)
        largest = max(largest, _rss_anon_mb() or 0.0)
        pids.add(connection.connection.info.backend_pid)
        connection.set_schema_to_public()
        connection.close_if_unusable_or_obsolete()  # where a request or task ends
    return {"samples": samples, "limit": limit, "largest": largest, "connections": len(pids)}


# --- The sides --------------------------------------------------------------------------------


def _setup(workspaces: int) -> None:
    """Migrate, make the signed-in bench workspace and ``workspaces - 1`` others; print the
    session cookie and the provisioning time (the measuring process starts afresh)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import tenant_context

    from tenants.services import tenant_provision

    call_command("migrate_schemas", interactive=False, verbosity=0)
    tenant = tenant_provision(slug="bench", name="Bench Signs")
    cookie = owner_signed_in(tenant)
    with tenant_context(tenant):
        companies_insert()
    connection.set_schema_to_public()
    seconds = workspaces_bulk_provision(workspaces - 1)
    print(json.dumps({"cookie": cookie, "provision_seconds": seconds, "workspaces": workspaces}))


def _serve_page() -> None:
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    page = Page(WSGIHandler(), cookie=os.environ["BENCH_COOKIE"])
    page.check("Company 0000 Signs")
    page.timings(WARMUP_REQUESTS)
    _serve(page, {"body": "", "queries": queries_per_request(page)}, {"memory": memory_probe})


def _slope(samples: list) -> float:
    points = [(x, y) for x, y in samples if y is not None]
    if len(points) < 2:
        return float("nan")
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / sum(
        (x - mean_x) ** 2 for x, _ in points
    )


def run() -> list[str]:
    from config import embedded

    embedded.export_service_urls()
    with (
        scratch_database("bench_scale_small") as small_db,
        scratch_database("bench_scale_large") as large_db,
    ):
        made = {}
        for label, database, count in (("small", small_db, SMALL), ("large", large_db, LARGE)):
            environment = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "bench.settings_stack",
                "BENCH_DATABASE": database,
            }
            made[label] = run_side(
                "bench.bench_scale", "setup", str(count), environment=environment, timeout=7200
            )
        sides = []
        try:
            for label, database in (("small", small_db), ("large", large_db)):
                os.environ["BENCH_COOKIE"] = made[label]["cookie"]
                sides.append(Side("serve", "bench.settings_stack", database, "bench.bench_scale"))
            small, large = sides
            small_rounds, large_rounds = interleaved(small, large, ROUNDS, ROUND_REQUESTS)
            memory = large.ask("memory")
        finally:
            os.environ.pop("BENCH_COOKIE", None)
            for side in sides:
                side.close()

    def p50(rounds: list[dict]) -> float:
        return statistics.median(value for one in rounds for value in one["seconds"]) * 1000

    per_round = [
        statistics.median(big["seconds"]) / statistics.median(little["seconds"])
        for little, big in zip(small_rounds, large_rounds, strict=True)
    ]
    provisioned = made["large"]["workspaces"] - 1
    seconds = made["large"]["provision_seconds"]
    cpu_small, cpu_large = (
        sum(cpu_per_request(rounds).values()) for rounds in (small_rounds, large_rounds)
    )
    samples = memory["samples"]
    return [
        f"GET {PATH} (signed in, 25 of 500 companies), in-process WSGI, {ROUNDS} interleaved "
        f"rounds of {ROUND_REQUESTS} requests per database",
        f"bulk provisioning (bench only): {provisioned} workspaces in {seconds:.0f} s "
        f"({provisioned / seconds:.1f}/s, {PARALLEL} owner connections), then ANALYZE",
        f"p50 with {SMALL:>6} workspaces: {p50(small_rounds):.2f} ms "
        f"(CPU per request, client and database: {cpu_small:.2f} ms)",
        f"p50 with {LARGE:>6} workspaces: {p50(large_rounds):.2f} ms "
        f"(CPU per request, client and database: {cpu_large:.2f} ms)",
        f"p50 ratio large/small: {statistics.median(per_round):.3f} (median of the rounds; min "
        f"{min(per_round):.3f}, max {max(per_round):.3f}; target <= 1.10)",
        f"one connection visiting {samples[-1][0]} workspaces without recycling: backend "
        f"RssAnon {samples[0][1]:.1f} -> {samples[-1][1]:.1f} MB, "
        f"{_slope(samples) * 1024:.0f} KB per workspace",
        f"with WORKSPACES_PER_CONNECTION={memory['limit']}: largest backend "
        f"{memory['largest']:.1f} MB over {memory['connections']} connections",
    ]


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        _setup(int(sys.argv[2]))
    else:
        _serve_page()
