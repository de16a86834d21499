"""A per-worker pool of ready workspace schemas, so a test's throwaway workspace costs a rename.

Why: cloning the template (django-tenants' ``clone_schema``) takes seconds per workspace on a
busy machine, and the lifecycle, sign-up, console and demo tests each provision their own.
Following design.md ("Sign-up takes a ready schema from a pool ... renamed into place"), the
session set-up clones the template into ``POOL_SIZE`` spare schemas once per test database
(each xdist worker has its own), and while the suite runs ``CloneSchema.clone_schema`` first
tries to take a spare and rename it into place. Everything else in ``tenant_provision`` runs
for real: the rows, the hostname, the check against the migration graph and the declared
schema checks (the append-only triggers).

Invariant: a spare is an untouched clone of the current template. A test runs inside a
transaction that is rolled back, and the rename rolls back with it, so the spare returns to
the pool unchanged for the next test. A provisioning outside a test's transaction (it
commits: module fixtures for threads) clones for real and leaves the pool alone. Tests that
change the template itself (``REAL_CLONE_MODULES`` in conftest.py) always clone for real.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django_tenants.clone import CloneSchema
from django_tenants.utils import schema_exists

POOL_PREFIX = "test_pool_"
DISCARDED_PREFIX = "test_discarded_"
POOL_SIZE = 2  # the most workspaces one test provisions inside its transaction
_real_clone_schema = CloneSchema.clone_schema
_state = {"enabled": False}


def pool_fill() -> None:
    """Clone the current template into every missing spare (committed: call outside a test)."""
    from tenants.services import template_ensure_current

    template_ensure_current()
    for index in range(POOL_SIZE):
        name = f"{POOL_PREFIX}{index}"
        if not schema_exists(name):
            _real_clone_schema(CloneSchema(), settings.TENANT_BASE_SCHEMA, name)
    connection.set_schema_to_public()


def schema_discard(schema_name: str) -> None:
    """Move a committed throwaway schema out of the way instead of dropping it.

    The test database is dropped at the end of the run, so a DROP SCHEMA at teardown is only
    cost; the rename frees the workspace's schema name for a later test in a moment.
    """
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE %s",
            [_pattern(DISCARDED_PREFIX)],
        )
        discarded = f"{DISCARDED_PREFIX}{cursor.fetchone()[0]}"
        cursor.execute(f"ALTER SCHEMA {quote(schema_name)} RENAME TO {quote(discarded)}")


def _pattern(prefix: str) -> str:
    return prefix.replace("_", r"\_") + "%"


def _spare_take(new_schema_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY nspname LIMIT 1",
            [_pattern(POOL_PREFIX)],
        )
        row = cursor.fetchone()
        if row is None:
            return False
        quote = connection.ops.quote_name
        cursor.execute(f"ALTER SCHEMA {quote(row[0])} RENAME TO {quote(new_schema_name)}")
    return True


def _inside_a_test_transaction() -> bool:
    """True inside pytest-django's per-test transaction, which is always rolled back."""
    blocks = connection.atomic_blocks
    return bool(blocks) and getattr(blocks[0], "_from_testcase", False)


def pooled_clone_schema(
    self, base_schema_name, new_schema_name, clone_mode="DATA", set_connection=True
):
    """``CloneSchema.clone_schema`` that renames a spare into place when one is left.

    Only work that will be rolled back borrows a spare; a provisioning that commits (module
    fixtures, threads) clones for real, so the pool never runs dry."""
    if (
        not _state["enabled"]
        or base_schema_name != settings.TENANT_BASE_SCHEMA
        or not _inside_a_test_transaction()
    ):
        _real_clone_schema(self, base_schema_name, new_schema_name, clone_mode, set_connection)
        return
    if set_connection:
        connection.set_schema_to_public()
    if schema_exists(new_schema_name, case_sensitive=False):
        raise ValidationError("New schema name already exists")  # as the real clone says
    if not _spare_take(new_schema_name):
        _real_clone_schema(self, base_schema_name, new_schema_name, clone_mode, False)


def pool_install() -> None:
    """Route every provisioning of the session through the pool."""
    CloneSchema.clone_schema = pooled_clone_schema  # type: ignore[method-assign]
    _state["enabled"] = True


def pool_enabled(enabled: bool) -> None:
    _state["enabled"] = enabled
