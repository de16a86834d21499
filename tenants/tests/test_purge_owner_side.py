"""Issue #12, "Least privilege": the purge's schema drop belongs to the owner side only.

The finding (docs/security-model.md, "Provisioning and purge without owner credentials in the
web"): the runtime role could UPDATE ``tenants_tenant`` and EXECUTE the owner's
``shopsafe_schema_drop``, so SQL injected into a runtime connection could set any workspace to
PURGING and drop its schema. The function is gone (``tenants.roles`` drops it from older
databases); the drop is an owner-queue task that acts only on a keyed receipt
(``workspace/tests/test_purge_proof.py`` holds the owner side's own tests).

The tests run on the default connection, which is the RUNTIME role (conftest.py gives the
OWNER role only to the test database's set-up), so a refusal is PostgreSQL's, not ours; the
owner's side appears only where named (``owner_sql``, ``owner_run``: a connection of its own,
which is how the owner-queue task runs even when Celery runs it inline in a test).
"""

from __future__ import annotations

import psycopg
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, transaction

from tenants.models import Tenant
from tenants.roles import OWNER_CREDENTIALS_MISSING, _functions_sql, owner_run, runtime_role
from tenants.services import tenant_provision
from workspace.lifecycle import PurgeNotAuthorized, workspace_purge
from workspace.lifecycle.proof import NO_DECISION, NO_RECEIPT
from workspace.lifecycle.schema_drop import SchemaDropOutcome, purged_schema_drop

pytestmark = pytest.mark.django_db

UNDEFINED_FUNCTION = "42883"


def _schema_present(schema_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", [schema_name])
        return cursor.fetchone()[0] == 1


def _refused(statement: str, params=()) -> str | None:
    """Run ``statement`` in a savepoint; return the SQLSTATE PostgreSQL refused it with."""
    with (
        pytest.raises(DatabaseError) as raised,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, params)
    return getattr(raised.value.__cause__, "sqlstate", None)


def test_runtime_role_cannot_execute_the_owners_schema_drop_function():
    with connection.cursor() as cursor:
        # Gone; were it ever installed again, the runtime role must hold no EXECUTE on it.
        cursor.execute(
            "SELECT to_regprocedure('public.shopsafe_schema_drop(text)') IS NULL,"
            " coalesce(has_function_privilege(%s,"
            " to_regprocedure('public.shopsafe_schema_drop(text)'), 'EXECUTE'), false)",
            [runtime_role()],
        )
        assert cursor.fetchone() == (True, False)


def test_injected_sql_setting_purging_cannot_drop_a_schema_from_a_runtime_connection():
    victim = tenant_provision(slug="victim-signs", name="Victim Signs")
    assert _schema_present(victim.schema_name)

    with connection.cursor() as cursor:
        # What injected SQL on a runtime connection can do: the row is the runtime's to
        # UPDATE, so it marks the victim PURGING, then asks for the drop.
        cursor.execute(
            f"UPDATE {Tenant._meta.db_table} SET state = %s WHERE schema_name = %s",  # noqa: S608
            [Tenant.State.PURGING.value, victim.schema_name],
        )

    # Nothing a runtime connection may call drops a schema (test_roles.py checks every
    # function the runtime role may execute).
    assert _refused("SELECT public.shopsafe_schema_drop(%s)", [victim.schema_name]) == (
        UNDEFINED_FUNCTION
    )
    # Nor does the purge the daily run would start on that row (no keyed decision allows it),
    # nor the owner side's drop (no keyed receipt proves it), run here on this connection.
    with pytest.raises(PurgeNotAuthorized) as refused:
        workspace_purge(tenant_id=victim.pk)
    assert refused.value.reason == NO_DECISION
    assert purged_schema_drop(schema_name=victim.schema_name) == SchemaDropOutcome(
        victim.schema_name, dropped=False, reason=NO_RECEIPT
    )
    assert _schema_present(victim.schema_name)


def test_applying_the_privileges_removes_an_older_databases_schema_drop_function(owner_sql):
    # What a database migrated before the fix still holds (the owner's function, EXECUTE for
    # the runtime role); after every run migrate_schemas has the owner install the functions
    # (runtime_privileges_apply runs this SQL), here on the owner's own connection.
    owner_sql.execute(
        "CREATE FUNCTION public.shopsafe_schema_drop(target text) RETURNS void"
        " LANGUAGE plpgsql SECURITY DEFINER AS 'BEGIN END'"
    )
    try:
        owner_sql.execute(
            psycopg.sql.SQL(
                "GRANT EXECUTE ON FUNCTION public.shopsafe_schema_drop(text) TO {}"
            ).format(psycopg.sql.Identifier(runtime_role()))
        )
        owner_sql.execute(_functions_sql(runtime_role()))
        found = owner_sql.execute("SELECT to_regprocedure('public.shopsafe_schema_drop(text)')")
        assert found.fetchone() == (None,)
    finally:
        owner_sql.execute("DROP FUNCTION IF EXISTS public.shopsafe_schema_drop(text)")


def test_owner_work_runs_on_its_own_owner_connection_and_leaves_the_callers_transaction_alone():
    tenant = tenant_provision(slug="uncommitted-signs", name="Uncommitted Signs")

    def look() -> tuple:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_user, (SELECT count(*) FROM pg_namespace WHERE nspname = %s)",
                [tenant.schema_name],
            )
            return cursor.fetchone()

    owner = settings.DATABASES["owner"]["USER"]
    assert owner_run(look) == (owner, 0)  # the owner, seeing only what is committed
    assert look() == (runtime_role(), 1)  # the caller: still the runtime, same transaction
    assert connection.in_atomic_block


def test_owner_work_is_refused_where_the_owner_url_is_not(monkeypatch):
    monkeypatch.delitem(settings.DATABASES, "owner")  # what a web process is given
    with pytest.raises(ImproperlyConfigured) as refused:
        owner_run(lambda: None)
    assert str(refused.value) == OWNER_CREDENTIALS_MISSING
