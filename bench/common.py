"""What every benchmark's runner needs: a throw-away database and a measured side run in its
own process (so one side's imports, caches and memory never colour another's figures)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def _admin_sql(statement: str) -> None:
    """Run CREATE/DROP DATABASE as the OWNER role (it has CREATEDB; the runtime role has not,
    and the owner then owns the throw-away database and runs its migrations)."""
    import psycopg

    url = os.environ.get("DATABASE_OWNER_URL") or os.environ["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(statement)


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A database of its own for one benchmark run, dropped afterwards whatever happens."""
    database = f"{prefix}_{os.getpid()}"
    _admin_sql(f'CREATE DATABASE "{database}"')
    try:
        yield database
    finally:
        _sessions_gone_wait(database)
        _admin_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        _roles_of_dropped_databases_drop()


def _sessions_gone_wait(database: str, seconds: float = 30.0) -> None:
    """Wait for the sides' sessions to end: a backend goes on for a moment after its client
    exits (longer with a large catalog cache), and the owner may not terminate the runtime
    role's backends, so DROP DATABASE ... WITH (FORCE) would be refused."""
    import time

    import psycopg

    url = os.environ.get("DATABASE_OWNER_URL") or os.environ["DATABASE_URL"]
    deadline = time.monotonic() + seconds
    with psycopg.connect(url, autocommit=True) as admin:
        while time.monotonic() < deadline:
            (others,) = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [database]
            ).fetchone()
            if not others:
                return
            time.sleep(0.2)


def _roles_of_dropped_databases_drop() -> None:
    """Workspace roles are cluster-wide and outlive the throw-away database: drop them too."""
    import psycopg

    from tenants.workspace_roles import ROLES_OF_DROPPED_DATABASES_SQL

    url = os.environ.get("DATABASE_OWNER_URL") or os.environ["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as admin:
        for (role,) in admin.execute(ROLES_OF_DROPPED_DATABASES_SQL).fetchall():
            admin.execute(f"DROP ROLE IF EXISTS {psycopg.sql.Identifier(role).as_string(admin)}")


def side_result(stdout: str) -> dict:
    """A side prints its figures as one JSON object on its last line."""
    return json.loads(stdout.strip().splitlines()[-1])


def run_side(module: str, *arguments: str, environment: dict, timeout: int) -> dict:
    """Run ``python -m <module> <arguments>`` and return its figures; a failure raises with
    the side's whole output."""
    completed = subprocess.run(  # noqa: S603 - our interpreter and module
        [sys.executable, "-m", module, *arguments],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{arguments} failed:\n{completed.stdout}\n{completed.stderr}")
    return side_result(completed.stdout)
