"""Sign-up at a few workspaces and at many: the time to provision one workspace, and where it
goes, in one run.

Two throw-away databases, one holding ``SMALL`` workspaces and the other ``LARGE``
(``BENCH_SIGNUP_WORKSPACES``, default 1,000; the many are made by ``bench_scale``'s bulk path,
which creates each workspace's role and grants exactly as provisioning does). Each gets
``ROUNDS + 1`` ready spares from the owner's pool fill, as production keeps them. Then a
long-lived runtime-role process per database (``bench.settings_stack``) provisions one
workspace per round through ``tenants.services.tenant_provision``, the call sign-up makes
(row and hostname, the owner's function that renames a spare into place and grants, the
verification in the new workspace's own context), the two databases interleaved round by
round so that a busy machine slows both alike. Printed: the medians and their ratio
(large/small; issue #14 asks for <= 150 ms at 10,000 and flat), the statements sign-up sends
with their median times, and, on the owner's connection inside a transaction that is rolled
back, the steps of the owner's function one by one (the schema-name check, the spare pick,
the rename, the revokes, the role's creation, its two memberships, the grants), so that a
step that grows with the workspace count shows itself.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

from bench.bench_gate import Side
from bench.common import run_side, scratch_database

SMALL = 10
LARGE = int(os.environ.get("BENCH_SIGNUP_WORKSPACES", "1000"))
ROUNDS = 7


def _setup(workspaces: int) -> None:
    """Migrate, make ``workspaces`` workspaces (the bulk path) and ROUNDS + 1 ready spares."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.bench_scale import workspaces_bulk_provision
    from tenants.roles import owner_credentials
    from tenants.services import ready_spares_fill

    call_command("migrate_schemas", interactive=False, verbosity=0)
    seconds = workspaces_bulk_provision(workspaces)
    with owner_credentials():
        ready_spares_fill(ROUNDS + 1)
    connection.set_schema_to_public()
    print(json.dumps({"provision_seconds": seconds, "workspaces": workspaces}))


def _statement_kind(sql: str) -> str:
    """A short label for a statement sign-up sends (the parameters aside)."""
    text = " ".join(sql.split())
    for marker, label in (
        ("shopsafe_schema_provision", "owner's function (rename spare, role, grants)"),
        ("to_regprocedure", "is the owner's function installed"),
        ('INSERT INTO "tenants_tenant"', "INSERT workspace row"),
        ('INSERT INTO "tenants_domain"', "INSERT hostname row"),
        ('"tenants_tenant"."slug"', "slug taken?"),
        ("django_migrations", "verify migrations (in the workspace's role)"),
    ):
        if marker in text:
            return label
    return text[:60]


def provision_once(index: int) -> dict:
    """One sign-up's provisioning, timed whole and statement by statement."""
    from django.db import connection

    from tenants.services import tenant_provision

    statements: dict[str, float] = {}

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = _statement_kind(sql)
            statements[kind] = statements.get(kind, 0.0) + time.perf_counter() - started

    with connection.execute_wrapper(timed):
        started = time.perf_counter()
        tenant_provision(slug=f"signup-{index:03d}", name=f"Sign-up {index}")
        seconds = time.perf_counter() - started
    connection.set_schema_to_public()
    return {"seconds": seconds, "statements": statements}


def owner_steps() -> dict:
    """The owner's function's steps one at a time, inside a transaction rolled back."""
    import psycopg
    from django.conf import settings

    from bench.bench_scale import _owner_conninfo
    from tenants.roles import READY_PREFIX
    from tenants.workspace_roles import workspace_group_name, workspace_role_name

    database = settings.DATABASES["default"]["NAME"]
    runtime = settings.DATABASES["default"]["USER"]
    template = settings.TENANT_BASE_SCHEMA
    target = "ws_signup_steps"
    role = workspace_role_name(database, target)
    group = workspace_group_name(database)
    steps: dict[str, float] = {}
    with psycopg.connect(_owner_conninfo()) as owner:

        def step(label: str, sql: str, params: list | None = None):
            started = time.perf_counter()
            cursor = owner.execute(sql, params)
            rows = cursor.fetchall() if cursor.description else None
            steps[label] = time.perf_counter() - started
            return rows

        step(
            "schema name free? (lower(nspname) scan)",
            "SELECT EXISTS (SELECT FROM pg_namespace WHERE lower(nspname) = lower(%s))",
            [target],
        )
        step(
            "schema name free? (exact, by index)",
            "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = %s)",
            [target],
        )
        rows = step(
            "pick a current spare",
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY nspname LIMIT 1",
            [READY_PREFIX.replace("_", "\\_") + "%"],
        )
        spare = rows[0][0]
        step(
            "  and compare its migrations with the template's",
            f'SELECT NOT EXISTS (SELECT app, name FROM "{spare}".django_migrations '  # noqa: S608
            f'EXCEPT SELECT app, name FROM "{template}".django_migrations)',
        )
        step("rename the spare", f'ALTER SCHEMA "{spare}" RENAME TO "{target}"')
        step(
            "revoke the runtime's schema privileges",
            f'REVOKE ALL ON SCHEMA "{target}" FROM "{runtime}"',
        )
        step(
            "find the schema's tables (pg_depend)",
            "SELECT public.shopsafe_schema_relations(%s, ARRAY['r','p','v','m','f']::\"char\"[])",
            [target],
        )
        step("CREATE ROLE workspace role", f'CREATE ROLE "{role}" NOLOGIN INHERIT')
        step(
            "GRANT group TO workspace role",
            "SELECT public.shopsafe_member_grant(%s, %s, true)",
            [group, role],
        )
        step(
            "GRANT workspace role TO runtime",
            "SELECT public.shopsafe_member_grant(%s, %s, false)",
            [role, runtime],
        )
        step(
            "grants on the schema's tables",
            "SELECT public.shopsafe_schema_grants(%s, %s)",
            [target, role],
        )
        counts = owner.execute(
            "SELECT (SELECT count(*) FROM pg_roles),"
            " (SELECT count(*) FROM pg_auth_members),"
            " (SELECT count(*) FROM pg_namespace)"
        ).fetchone()
        owner.rollback()
    return {
        "steps": steps,
        "roles": counts[0],
        "memberships": counts[1],
        "namespaces": counts[2],
    }


def _serve() -> None:
    import django

    django.setup()
    from django.db import connection

    counter = iter(range(10**6))
    connection.ensure_connection()
    print(json.dumps({}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "provision":
            print(json.dumps(provision_once(next(counter))), flush=True)
        elif command == "steps":
            print(json.dumps(owner_steps()), flush=True)
        else:
            raise SystemExit(f"unknown command {command!r}")


def run() -> list[str]:
    from config import embedded

    embedded.export_service_urls()
    with (
        scratch_database("bench_signup_small") as small_db,
        scratch_database("bench_signup_large") as large_db,
    ):
        made = {}
        for label, database, count in (("small", small_db, SMALL), ("large", large_db, LARGE)):
            environment = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "bench.settings_stack",
                "BENCH_DATABASE": database,
            }
            made[label] = run_side(
                "bench.bench_signup", "setup", str(count), environment=environment, timeout=7200
            )
        sides = []
        try:
            for database in (small_db, large_db):
                sides.append(Side("serve", "bench.settings_stack", database, "bench.bench_signup"))
            results: list[list[dict]] = [[], []]
            steps: list[list[dict]] = [[], []]
            for index in range(ROUNDS):
                order = (0, 1) if index % 2 == 0 else (1, 0)
                for which in order:
                    results[which].append(sides[which].ask("provision"))
                    steps[which].append(sides[which].ask("steps"))
        finally:
            for side in sides:
                side.close()

    def ms(values) -> float:
        return statistics.median(values) * 1000

    small, large = (
        [one["seconds"] for one in results[0][1:]],
        [one["seconds"] for one in results[1][1:]],
    )  # the first round warms each side's caches
    lines = [
        f"tenant_provision (what sign-up calls; a ready spare renamed into place), "
        f"{ROUNDS - 1} interleaved rounds after one warm-up; the large database made by the "
        f"bulk path ({made['large']['workspaces']} workspaces in "
        f"{made['large']['provision_seconds']:.0f} s)",
        f"  with {SMALL:>6} workspaces: median {ms(small):.1f} ms (min {min(small) * 1000:.1f}, "
        f"max {max(small) * 1000:.1f})",
        f"  with {LARGE:>6} workspaces: median {ms(large):.1f} ms (min {min(large) * 1000:.1f}, "
        f"max {max(large) * 1000:.1f})",
        f"  large/small: {statistics.median(large) / statistics.median(small):.2f}x "
        f"(target: <= 150 ms at 10,000, flat)",
        "statements sign-up sends, median ms (small -> large):",
    ]
    kinds = list(results[0][-1]["statements"])
    for kind in kinds:
        values = [[one["statements"].get(kind, 0.0) for one in side[1:]] for side in results]
        lines.append(f"  {kind:<48} {ms(values[0]):7.1f} -> {ms(values[1]):7.1f}")
    catalog = [side[-1] for side in steps]
    lines.append(
        "the owner's function step by step (owner connection, rolled back), median ms "
        f"(small -> large; roles {catalog[0]['roles']} -> {catalog[1]['roles']}, memberships "
        f"{catalog[0]['memberships']} -> {catalog[1]['memberships']}, schemas "
        f"{catalog[0]['namespaces']} -> {catalog[1]['namespaces']}):"
    )
    for label in catalog[0]["steps"]:
        values = [[one["steps"][label] for one in side[1:]] for side in steps]
        lines.append(f"  {label:<48} {ms(values[0]):7.2f} -> {ms(values[1]):7.2f}")
    return lines


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        _setup(int(sys.argv[2]))
    else:
        _serve()
