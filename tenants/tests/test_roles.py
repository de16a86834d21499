"""The two database roles, read from the catalog and proved by statements PostgreSQL refuses.

Every test here runs on the default connection, which is the RUNTIME role (conftest.py gives
the OWNER role only to the test database's set-up), so a refusal is PostgreSQL's, not ours.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context

from audit.schema import REFUSED_MESSAGE
from tenants.models import Tenant
from tenants.roles import (
    OWNER_CREDENTIALS_MISSING,
    READY_PREFIX,
    audit_tables,
    owner_credentials,
    runtime_role,
)
from tenants.services import tenant_provision
from tenants.workspace_roles import (
    WORKSPACE_ROLE_PREFIX,
    database_role_prefix,
    workspace_group_name,
    workspace_role_name,
)

pytestmark = pytest.mark.django_db

TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
INSUFFICIENT_PRIVILEGE = "42501"


def _rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _checked_schemas() -> list[str]:
    workspaces = list(
        Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).values_list(
            "schema_name", flat=True
        )
    )
    spares = [
        row[0]
        for row in _rows(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s",
            [READY_PREFIX.replace("_", "\\_") + "%"],
        )
    ]
    return [settings.PUBLIC_SCHEMA_NAME, settings.TENANT_BASE_SCHEMA, *workspaces, *spares]


def _refused(statement: str, params=()) -> str:
    """Run ``statement`` in a savepoint; return the SQLSTATE PostgreSQL refused it with."""
    with (
        pytest.raises(DatabaseError) as raised,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, params)
    return getattr(raised.value.__cause__, "sqlstate", None)


def test_the_app_connects_as_the_runtime_role_not_the_owner():
    (current,) = _rows("SELECT current_user")[0]
    assert current == runtime_role()
    assert current != settings.DATABASES["owner"]["USER"]


def _workspace_schemas() -> list[str]:
    return list(
        Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).values_list(
            "schema_name", flat=True
        )
    )


def _role_of(schema_name: str) -> str:
    return workspace_role_name(connection.settings_dict["NAME"], schema_name)


def test_runtime_role_attributes_are_exactly_least_privilege():
    row = _rows(
        "SELECT rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolreplication, rolcanlogin,"
        " rolinherit FROM pg_roles WHERE rolname = %s",
        [runtime_role()],
    )
    assert row == [(False, False, False, False, False, True, False)]


def test_runtime_role_is_a_member_of_exactly_the_workspace_roles_and_inherits_none():
    # It may SET ROLE into a workspace's role (the tenant hook does, per cursor) and into
    # nothing else: not the owner, not the group, not a predefined role.
    expected = {_role_of(schema) for schema in _workspace_schemas()}
    assert len(expected) >= 2
    members = _rows(
        "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
        " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
        [runtime_role()],
    )
    # Roles are cluster-wide: other databases' workspace roles (another test worker's, the
    # development database's) show up too, and are workspace roles as well.
    ours = database_role_prefix(connection.settings_dict["NAME"])
    assert {name for (name,) in members if name.startswith(ours)} == expected
    assert all(name.startswith(WORKSPACE_ROLE_PREFIX) for (name,) in members)
    for role in expected:
        assert _rows("SELECT pg_has_role(%s, %s, 'USAGE')", [runtime_role(), role]) == [(False,)]
        assert _rows("SELECT pg_has_role(%s, %s, 'MEMBER')", [runtime_role(), role]) == [(True,)]


def test_each_workspace_role_is_nologin_least_privilege_and_inherits_only_the_group():
    group = workspace_group_name(connection.settings_dict["NAME"])
    for schema in _workspace_schemas():
        role = _role_of(schema)
        assert _rows(
            "SELECT rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolcanlogin"
            " FROM pg_roles WHERE rolname = %s",
            [role],
        ) == [(False, False, False, False, False)], schema
        granted = _rows(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
            " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
            [role],
        )
        assert granted == [(group,)], schema


def test_runtime_role_owns_no_database_schema_table_or_function():
    role = runtime_role()
    assert _rows("SELECT datname FROM pg_database WHERE datdba = %s::regrole", [role]) == []
    assert _rows("SELECT nspname FROM pg_namespace WHERE nspowner = %s::regrole", [role]) == []
    assert _rows("SELECT relname FROM pg_class WHERE relowner = %s::regrole", [role]) == []
    assert _rows("SELECT proname FROM pg_proc WHERE proowner = %s::regrole", [role]) == []
    assert _rows("SELECT typname FROM pg_type WHERE typowner = %s::regrole", [role]) == []


def test_owner_role_owns_every_application_schema():
    owner = settings.DATABASES["owner"]["USER"]
    schemas = _checked_schemas()
    assert {"ws_acme", "ws_globex", settings.TENANT_BASE_SCHEMA} <= set(schemas)
    owners = dict(
        _rows(
            "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = ANY(%s)",
            [schemas],
        )
    )
    # PostgreSQL 15+ gives public to pg_database_owner: whoever owns the database.
    if owners.get("public") == "pg_database_owner":
        owners["public"] = _rows(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        )[0][0]
    assert owners == dict.fromkeys(schemas, owner)


def test_runtime_role_cannot_create_in_the_database_or_any_schema():
    role = runtime_role()
    database = connection.settings_dict["NAME"]
    assert _rows("SELECT has_database_privilege(%s, %s, 'CREATE')", [role, database]) == [(False,)]
    for schema in _checked_schemas():
        # USAGE on public only: a workspace schema, the template and a spare are reachable
        # only through the workspace's own role.
        usage = schema == settings.PUBLIC_SCHEMA_NAME
        assert _rows(
            "SELECT has_schema_privilege(%s, %s, 'USAGE'), has_schema_privilege(%s, %s, 'CREATE')",
            [role, schema, role, schema],
        ) == [(usage, False)], schema


def test_each_workspace_role_may_use_its_own_schema_and_public_only():
    schemas = _checked_schemas()
    for workspace in _workspace_schemas():
        role = _role_of(workspace)
        usable = {
            schema
            for schema in schemas
            if _rows("SELECT has_schema_privilege(%s, %s, 'USAGE')", [role, schema])[0][0]
        }
        assert usable == {settings.PUBLIC_SCHEMA_NAME, workspace}, workspace
        creatable = [
            schema
            for schema in schemas
            if _rows("SELECT has_schema_privilege(%s, %s, 'CREATE')", [role, schema])[0][0]
        ]
        assert creatable == [], workspace


def _table_privileges_wrong(role: str, reachable: set[str]) -> dict[str, list[str]]:
    """Every table of every checked schema whose privileges for ``role`` are not exactly CRUD
    (INSERT and SELECT on audit tables) in ``reachable`` schemas and nothing elsewhere."""
    audit = set(audit_tables())
    assert "audit_auditevent" in audit
    # By oid: resolving a name would need USAGE on its schema, which the runtime lacks.
    tables = _rows(
        "SELECT n.nspname, c.relname, c.oid FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(%s) ORDER BY 1, 2",
        [_checked_schemas()],
    )
    names = {(schema, table) for schema, table, _ in tables}
    assert {("ws_acme", "audit_auditevent"), ("public", "audit_auditevent")} <= names
    wrong = {}
    for schema, table, oid in tables:
        qualified = f'"{schema}"."{table}"'
        granted = {
            privilege
            for privilege in TABLE_PRIVILEGES
            if _rows("SELECT has_table_privilege(%s, %s::oid, %s)", [role, oid, privilege])[0][0]
        }
        if schema not in reachable:
            expected = set()
        elif table in audit:
            expected = {"SELECT", "INSERT"}
        else:
            expected = {"SELECT", "INSERT", "UPDATE", "DELETE"}
        if granted != expected:
            wrong[qualified] = sorted(granted)
    return wrong


def test_runtime_table_privileges_are_exactly_crud_and_insert_select_on_audit_tables():
    assert _table_privileges_wrong(runtime_role(), {settings.PUBLIC_SCHEMA_NAME}) == {}


@pytest.mark.parametrize("workspace", ["ws_acme", "ws_globex"])
def test_workspace_role_table_privileges_are_its_schema_and_public_only(workspace):
    reachable = {settings.PUBLIC_SCHEMA_NAME, workspace}
    assert _table_privileges_wrong(_role_of(workspace), reachable) == {}


def test_runtime_role_may_use_every_public_sequence_and_no_workspace_one():
    role = runtime_role()
    sequences = _rows(
        "SELECT n.nspname, c.relname, c.oid FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind = 'S' AND n.nspname = ANY(%s)",
        [_checked_schemas()],
    )
    assert {schema for schema, _, _ in sequences} >= {"public", "ws_acme"}

    def wrong_for(grantee: str, reachable: set[str]) -> list[tuple[str, str]]:
        return [
            (schema, name)
            for schema, name, oid in sequences
            if _rows("SELECT has_sequence_privilege(%s, %s::oid, 'USAGE')", [grantee, oid])[0][0]
            != (schema in reachable)
        ]

    assert wrong_for(role, {"public"}) == []
    assert wrong_for(_role_of("ws_acme"), {"public", "ws_acme"}) == []


@pytest.mark.parametrize("schema", ["public", "ws_acme"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET remote_addr = NULL",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
        "ALTER TABLE audit_auditevent ADD COLUMN forged text",
        "ALTER TABLE audit_auditevent DISABLE TRIGGER ALL",
        "ALTER TABLE audit_auditevent DISABLE TRIGGER USER",
        "ALTER TABLE audit_auditevent OWNER TO CURRENT_USER",
        "DROP TABLE audit_auditevent",
    ],
)
def test_postgres_refuses_rewriting_the_audit_table_as_the_runtime_role(schema, statement):
    # In the public context the runtime login role; in acme's, acme's workspace role.
    with schema_context(schema):
        assert _refused(statement) == INSUFFICIENT_PRIVILEGE


@pytest.mark.parametrize("schema", ["public", "ws_acme"])
def test_postgres_refuses_dropping_each_audit_trigger_as_the_runtime_role(schema):
    with schema_context(schema):
        triggers = _rows(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = %s::regclass",
            [f'"{schema}"."audit_auditevent"'],
        )
        assert triggers  # the append-only triggers exist to be refused
        for (name,) in triggers:
            statement = f'DROP TRIGGER "{name}" ON "{schema}"."audit_auditevent"'  # test-only SQL
            assert _refused(statement) == INSUFFICIENT_PRIVILEGE


def test_runtime_role_may_still_insert_and_read_audit_events():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        assert cursor.fetchone()[0] >= 0
    assert _rows(
        "SELECT has_table_privilege(%s, 'public.audit_auditevent', 'INSERT')", [runtime_role()]
    ) == [(True,)]


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE SCHEMA ws_forged",
        "ALTER SCHEMA ws_acme RENAME TO ws_stolen",
        "DROP SCHEMA ws_globex CASCADE",
        "ALTER SCHEMA ready_0 RENAME TO ws_forged",
        "CREATE TABLE public.forged (id int)",
        "CREATE TABLE ws_acme.forged (id int)",
        "CREATE FUNCTION public.forged() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "SELECT public.shopsafe_runtime_grants('ws_acme')",
        "SELECT public.clone_schema('tenant_template', 'ws_forged', 'DATA')",
    ],
)
def test_provisioning_ddl_is_impossible_with_runtime_credentials(statement):
    assert _refused(statement) == INSUFFICIENT_PRIVILEGE


def test_owners_provision_function_refuses_a_schema_without_its_workspace_row():
    assert (
        _refused("SELECT public.shopsafe_schema_provision('ws_norow', true)")
        == INSUFFICIENT_PRIVILEGE
    )


def test_owners_provision_function_refuses_a_name_that_is_not_a_workspace_schema():
    for name in ("public", "tenant_template", "ws_acme; DROP SCHEMA public", "ready_0"):
        assert _refused("SELECT public.shopsafe_schema_provision(%s, true)", [name]) == "22023"


def test_the_runtime_role_may_execute_no_owner_function_but_provisioning_and_sequence_catch_up():
    # Every SECURITY DEFINER function runs as its owner: each one the runtime role may call is
    # DDL it can cause. None drops a schema or a role: the purge's drop is the owner queue's
    # (workspace.lifecycle.schema_drop).
    assert _rows(
        "SELECT p.oid::regprocedure::text FROM pg_proc p"
        " WHERE p.prosecdef AND has_function_privilege(%s, p.oid, 'EXECUTE') ORDER BY 1",
        [runtime_role()],
    ) == [
        ("shopsafe_schema_provision(text,boolean)",),
        ("shopsafe_sequences_catch_up(text)",),
    ]


def test_a_process_without_the_owner_url_cannot_take_the_owner_credentials(monkeypatch):
    monkeypatch.delitem(settings.DATABASES, "owner")  # what a web process is given
    with pytest.raises(ImproperlyConfigured) as raised, owner_credentials():
        pass  # pragma: no cover - never entered
    assert str(raised.value) == OWNER_CREDENTIALS_MISSING


def test_runtime_provisioning_lands_a_schema_owned_by_the_owner_with_its_workspace_role():
    tenant = tenant_provision(slug="roles-check", name="Roles Check")
    owner = settings.DATABASES["owner"]["USER"]
    assert _rows(
        "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s",
        [tenant.schema_name],
    ) == [(owner,)]
    role = _role_of(tenant.schema_name)  # created by the owner's function, with the schema
    runtime_usage = "SELECT has_schema_privilege(%s, %s, 'USAGE')"
    assert _rows(runtime_usage, [runtime_role(), tenant.schema_name]) == [(False,)]
    with schema_context(tenant.schema_name):  # resolving the names needs the schema's USAGE
        granted = _rows(
            "SELECT has_table_privilege(%s, %s, 'INSERT'), has_table_privilege(%s, %s, 'UPDATE'),"
            " has_table_privilege(%s, %s, 'UPDATE')",
            [
                role,
                f'"{tenant.schema_name}"."audit_auditevent"',
                role,
                f'"{tenant.schema_name}"."audit_auditevent"',
                role,
                f'"{tenant.schema_name}"."shop_company"',
            ],
        )
    assert granted == [(True, False, True)]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ws_acme.audit_auditevent SET target_label = 'nothing happened'",
        "DELETE FROM ws_acme.audit_auditevent",
        "TRUNCATE ws_acme.audit_auditevent",
    ],
)
def test_the_append_only_triggers_still_refuse_the_owner_role_itself(owner_sql, statement):
    import psycopg

    with pytest.raises(psycopg.Error) as raised, owner_sql.transaction():
        owner_sql.execute(statement)
    assert REFUSED_MESSAGE in str(raised.value)


def _spares() -> list[str]:
    return [
        row[0]
        for row in _rows(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY 1",
            [READY_PREFIX.replace("_", "\\_") + "%"],
        )
    ]


def test_runtime_provisioning_renames_a_ready_spare_into_place_without_ddl_rights():
    before = _spares()
    assert before  # the owner filled the pool at set-up (conftest.py, tests/schema_pool.py)
    tenant = tenant_provision(slug="spare-taker", name="Spare Taker")
    assert _spares() == before[1:]
    assert tenant.schema_name == "ws_spare_taker"
    assert _rows("SELECT count(*) FROM pg_namespace WHERE nspname = %s", [tenant.schema_name]) == [
        (1,)
    ]


def test_the_spare_refill_runs_only_on_the_owner_queue():
    from tenants.tasks import OWNER_QUEUE

    assert settings.CELERY_TASK_ROUTES["tenants.tasks.ready_spares_refill"] == {
        "queue": OWNER_QUEUE
    }
    schedule = settings.CELERY_BEAT_SCHEDULE["tenants-ready-spares-refill"]
    assert schedule["task"] == "tenants.tasks.ready_spares_refill"


def test_filling_spares_without_the_owner_url_is_refused_with_a_clear_error(monkeypatch):
    from django.core.management import CommandError, call_command

    monkeypatch.delitem(settings.DATABASES, "owner")
    with pytest.raises(CommandError, match="DATABASE_OWNER_URL is not set"):
        call_command("ready_spares_fill", count=1)
    with pytest.raises(CommandError, match="--count must be 0 or more"):
        call_command("ready_spares_fill", count=-1)


def test_a_spare_cloned_before_the_last_migration_is_skipped_not_handed_out(owner_sql):
    spares = _spares()
    assert len(spares) >= 2
    stale = spares[0]  # a schema name from the catalog: the f-strings below are test-only
    row = owner_sql.execute(
        f'SELECT id, app, name, applied FROM "{stale}".django_migrations ORDER BY id DESC LIMIT 1'  # noqa: S608
    ).fetchone()
    owner_sql.execute(f'DELETE FROM "{stale}".django_migrations WHERE id = %s', [row[0]])  # noqa: S608
    try:
        tenant = tenant_provision(slug="fresh-only", name="Fresh Only")
        assert _spares() == [stale, *spares[2:]]  # the next, current spare was taken
        assert tenant.schema_name == "ws_fresh_only"
    finally:
        owner_sql.execute(
            f'INSERT INTO "{stale}".django_migrations (id, app, name, applied)'  # noqa: S608
            " VALUES (%s, %s, %s, %s)",
            list(row),
        )


def test_runtime_provisioning_takes_each_workspace_from_the_pool_by_a_rename():
    # How fast that is lives in the benchmark (bench/bench_signup.py), not in a test.
    before = _spares()
    assert len(before) >= 2
    tenant_provision(slug="warm-up", name="Warm Up")
    tenant_provision(slug="quick-start", name="Quick Start")
    assert _spares() == before[2:]  # both came from the pool, by a rename


def test_runtime_role_cannot_move_a_sequence_itself():
    statement = "SELECT setval('public.audit_auditevent_id_seq', 1)"
    assert _refused(statement) == INSUFFICIENT_PRIVILEGE


def test_owners_sequence_function_only_catches_a_workspace_up_never_back(owner_sql):
    assert _refused("SELECT public.shopsafe_sequences_catch_up('public')") == "22023"
    # setval is not transactional; moving forward to the highest id is harmless to others.
    read_last = "SELECT last_value FROM ws_acme.shop_company_id_seq"  # runtime may not read it
    (before,) = owner_sql.execute(read_last).fetchone()
    with schema_context("ws_acme"), connection.cursor() as cursor:
        cursor.execute("SELECT public.shopsafe_sequences_catch_up('ws_acme')")
        cursor.execute("SELECT max(id) FROM ws_acme.shop_company")
        (highest,) = cursor.fetchone()
    (after,) = owner_sql.execute(read_last).fetchone()
    assert after == max(before, highest)
