"""A per-worker pool of ready workspace schemas, so a test's throwaway workspace costs a rename.

Why: cloning the template (django-tenants' ``clone_schema``) takes seconds per workspace on a
busy machine, and the lifecycle, sign-up, console and demo tests each provision their own.
Following design.md ("Sign-up takes a ready schema from a pool ... renamed into place"), the
session set-up clones the template into ``POOL_SIZE`` spare schemas (``ready_*``, the same
spares production keeps, ``tenants.services.ready_spares_fill``) once per test database (each
xdist worker has its own), and the owner's provisioning function renames one into place.
Everything else in ``tenant_provision`` runs for real: the rows, the hostname, the check
against the migration graph and the declared schema checks (the append-only triggers).

Invariant: a spare is an untouched clone of the current template. A test runs inside a
transaction that is rolled back, and the rename rolls back with it, so the spare returns to
the pool unchanged for the next test. A provisioning outside a test's transaction (it
commits: module fixtures for threads) clones for real and leaves the pool alone. Tests that
change the template itself (``REAL_CLONE_MODULES`` in conftest.py) always clone for real.
"""

from __future__ import annotations

from django.db import connection

from tenants import services

DISCARDED_PREFIX = "test_discarded_"
POOL_SIZE = 2  # the most workspaces one test provisions inside its transaction
_state = {"enabled": False}


def pool_fill() -> None:
    """Clone the current template into every missing spare (as the owner, committed)."""
    from tenants.services import ready_spares_fill

    ready_spares_fill(POOL_SIZE)


def schema_discard(schema_name: str) -> None:
    """Move a committed throwaway schema out of the way instead of dropping it.

    The test database is dropped at the end of the run, so a DROP SCHEMA at teardown is only
    cost; the rename frees the workspace's schema name for a later test in a moment. A rename
    is DDL: it runs as the owner (outside any test's transaction).
    """
    from tenants.roles import owner_credentials, workspace_role_drop

    quote = connection.ops.quote_name
    with owner_credentials(), connection.cursor() as cursor:
        workspace_role_drop(schema_name)  # its role goes with the name; the schema is inert
        cursor.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE %s",
            [_pattern(DISCARDED_PREFIX)],
        )
        discarded = f"{DISCARDED_PREFIX}{cursor.fetchone()[0]}"
        cursor.execute(f"ALTER SCHEMA {quote(schema_name)} RENAME TO {quote(discarded)}")


def _pattern(prefix: str) -> str:
    return prefix.replace("_", r"\_") + "%"


def _inside_a_test_transaction() -> bool:
    """True inside pytest-django's per-test transaction, which is always rolled back."""
    blocks = connection.atomic_blocks
    return bool(blocks) and getattr(blocks[0], "_from_testcase", False)


def pooled_spare_allowed() -> bool:
    """Only work that will be rolled back borrows a spare (the rename rolls back with it, so
    the spare returns to the pool unchanged); a provisioning that commits (module fixtures,
    threads) clones for real, so the pool never runs dry."""
    return _state["enabled"] and _inside_a_test_transaction()


def pool_install() -> None:
    """Route every provisioning of the session through the pool."""
    services.spare_allowed = pooled_spare_allowed  # type: ignore[assignment]
    _state["enabled"] = True


def pool_enabled(enabled: bool) -> None:
    _state["enabled"] = enabled
