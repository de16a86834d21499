"""Issue #12, "Least privilege": the purge's schema drop belongs to the owner side only.

The finding (docs/security-model.md, "Provisioning and purge without owner credentials in the
web"): the runtime role may UPDATE ``tenants_tenant`` and EXECUTE the owner's
``shopsafe_schema_drop``, so SQL injected into a runtime connection can set any workspace to
PURGING and drop its schema. These tests state the intended behaviour and are pinned with
``xfail(strict=True)`` until the drop moves to an owner-queue task: the day the fix lands they
XPASS, strict turns that into a failure, and the marker must be removed with the fix.

Every test here runs on the default connection, which is the RUNTIME role (conftest.py gives
the OWNER role only to the test database's set-up), so a refusal is PostgreSQL's, not ours.
"""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from tenants.models import Tenant
from tenants.roles import runtime_role
from tenants.services import tenant_provision

pytestmark = pytest.mark.django_db

INSUFFICIENT_PRIVILEGE = "42501"
NOT_YET_OWNER_SIDE = (
    "issue #12: the purge still drops the schema from the runtime process through "
    "shopsafe_schema_drop; the owner-queue drop task is not done yet"
)


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


@pytest.mark.xfail(strict=True, reason=NOT_YET_OWNER_SIDE)
def test_runtime_role_cannot_execute_the_owners_schema_drop_function():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT has_function_privilege(%s, 'public.shopsafe_schema_drop(text)', 'EXECUTE')",
            [runtime_role()],
        )
        assert cursor.fetchone()[0] is False


@pytest.mark.xfail(strict=True, reason=NOT_YET_OWNER_SIDE)
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

    assert _refused("SELECT public.shopsafe_schema_drop(%s)", [victim.schema_name]) == (
        INSUFFICIENT_PRIVILEGE
    )
    assert _schema_present(victim.schema_name)
