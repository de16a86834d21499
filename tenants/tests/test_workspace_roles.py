"""Issue #12, "Isolation in the database": each workspace's context is its own database role.

Every test runs on the default connection as the RUNTIME login role, which the tenant hook
(``tenants.postgresql_backend``) switches into the workspace's role with the search_path, so
every refusal here is PostgreSQL's. The names say which claim of docs/security-model.md
("Isolation in the database") each test holds; the ``test_limit_`` ones pin what the database
does NOT stop, so the document cannot quietly overstate it.
"""

from __future__ import annotations

import psycopg
import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context, tenant_context

from rbac.models import Membership
from shop.models import Company
from tenants.roles import runtime_role
from tenants.workspace_roles import workspace_role_name

pytestmark = pytest.mark.django_db

INSUFFICIENT_PRIVILEGE = "42501"
UNDEFINED_TABLE = "42P01"


def _role_of(schema_name: str) -> str:
    return workspace_role_name(connection.settings_dict["NAME"], schema_name)


def _one(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _refused(statement: str, params=()) -> str | None:
    """Run ``statement`` in a savepoint; return the SQLSTATE PostgreSQL refused it with."""
    with (
        pytest.raises(DatabaseError) as raised,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, params)
    return getattr(raised.value.__cause__, "sqlstate", None)


def _injected_then(injected: str, then: str) -> tuple:
    """What injected SQL could do: a session-level change, then a read on the SAME cursor.

    The hook re-issues role and search_path on every new cursor (a savepoint's too), so an
    injected switch dies with the cursor it was sent on; this keeps to that one cursor, with
    savepoints of its own. Returns the read's first row, or the SQLSTATE it was refused with.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(injected)
        cursor.execute("SAVEPOINT injected")
        try:
            cursor.execute(then)
            return cursor.fetchone()
        except DatabaseError as error:
            cursor.execute("ROLLBACK TO SAVEPOINT injected")
            return (getattr(error.__cause__, "sqlstate", None),)
        finally:
            transaction.set_rollback(True)


# --- The name both sides derive


@pytest.mark.parametrize("schema", ["ws_acme", "ws_globex", "ws_a_b_c", "public"])
def test_python_and_sql_derive_the_same_workspace_role_name(schema):
    assert _one("SELECT public.shopsafe_workspace_role(%s)", [schema]) == _role_of(schema)
    assert len(_role_of(schema)) <= 63


# --- The switch itself


def test_a_workspace_context_runs_as_its_role_and_public_as_the_runtime_role(acme, globex):
    with tenant_context(acme):
        assert _one("SELECT current_user") == _role_of("ws_acme")
        assert _one("SELECT session_user") == runtime_role()
    with tenant_context(globex):
        assert _one("SELECT current_user") == _role_of("ws_globex")
    assert _one("SELECT current_user") == runtime_role()


def test_a_web_process_without_the_owner_url_still_switches(acme, monkeypatch):
    # Production's web never gets DATABASE_OWNER_URL: whether to switch is decided by the
    # database (a login role that does not own it switches), not by a setting.
    from django.conf import settings
    from django.db import connections

    monkeypatch.delitem(settings.DATABASES, "owner")
    monkeypatch.setattr(settings, "DATABASE_OWNER_URL", "")
    web = connections.create_connection("default")
    try:
        web.set_tenant(acme)
        with web.cursor() as cursor:
            cursor.execute("SELECT current_user, session_user")
            assert cursor.fetchone() == (_role_of("ws_acme"), runtime_role())
    finally:
        web.close()


def test_the_owners_connection_switches_no_role(acme):
    from django.conf import settings
    from django.db import connections

    credentials = settings.DATABASES["owner"]
    owner = type(connections["default"])(
        {
            **connection.settings_dict,
            "USER": credentials["USER"],
            "PASSWORD": credentials["PASSWORD"],
        },
        "default",
    )
    try:
        owner.set_tenant(acme)
        with owner.cursor() as cursor:
            cursor.execute("SELECT current_user, current_setting('search_path')")
            user, path = cursor.fetchone()
        assert user == owner.settings_dict["USER"]
        assert path.startswith("ws_acme")
    finally:
        owner.close()


def test_the_switch_is_one_statement_with_the_search_path(acme, django_assert_num_queries):
    with tenant_context(acme), django_assert_num_queries(2) as captured:
        Company.objects.count()
    first = captured.captured_queries[0]["sql"]
    assert first.startswith(f'SET ROLE "{_role_of("ws_acme")}"; SET search_path = ')


def test_a_rolled_back_transaction_does_not_leave_the_connection_in_another_role(acme, globex):
    with tenant_context(acme):
        assert _one("SELECT current_user") == _role_of("ws_acme")
        with transaction.atomic():
            connection.set_tenant(globex)
            assert _one("SELECT current_user") == _role_of("ws_globex")
            transaction.set_rollback(True)
        # The code is in globex's context now (set_tenant is Python state); so is the database.
        assert _one("SELECT current_user") == _role_of("ws_globex")
        connection.set_tenant(acme)
        assert _one("SELECT current_user") == _role_of("ws_acme")


def test_a_workspace_without_a_role_gets_an_error_never_the_previous_context(acme):
    with tenant_context(acme):
        assert _one("SELECT current_user") == _role_of("ws_acme")
        with (
            pytest.raises(DatabaseError, match="does not exist"),
            transaction.atomic(),
            schema_context("ws_no_such_workspace"),
        ):
            _one("SELECT current_user")
        assert _one("SELECT current_user") == _role_of("ws_acme")
    assert _one("SELECT current_user") == runtime_role()


def test_a_task_runs_in_its_workspaces_role_and_leaves_the_public_context_behind(acme, globex):
    from celery import shared_task

    from kernel.tasks import TenantTask

    seen: list[str] = []

    @shared_task(base=TenantTask, name="tests.workspace_roles.probe")
    def probe(*, tenant_schema: str) -> None:
        seen.append(_one("SELECT current_user"))

    probe.apply(kwargs={"tenant_schema": "ws_acme"}).get()
    probe.apply(kwargs={"tenant_schema": "ws_globex"}).get()
    assert seen == [_role_of("ws_acme"), _role_of("ws_globex")]
    assert _one("SELECT current_user") == runtime_role()


def test_a_management_command_over_workspaces_leaves_the_runtime_role_behind(acme, capsys):
    call_command("audit_verify", "--workspace", "acme")
    assert _one("SELECT current_user") == runtime_role()
    assert connection.schema_name == "public"


def test_each_request_runs_in_its_hosts_role_on_one_reused_connection(client_for, acme, globex):
    # Observed from inside each response's rendering, on the same (persistent) connection.
    from django.test.signals import template_rendered

    seen: list[tuple[str, str]] = []

    def record(**_):
        if not seen or seen[-1][0] != connection.schema_name:
            seen.append((connection.schema_name, _one("SELECT current_user")))

    clients = {tenant.slug: client_for(tenant.slug) for tenant in (acme, globex)}
    template_rendered.connect(record)
    try:
        for slug in ("acme", "globex", "acme"):
            response = clients[slug].get("/")
            assert response.status_code == 200
            seen.append(("--", ""))
        response = clients["acme"].get("/", HTTP_HOST="localhost")  # the public site
        assert response.status_code == 200
    finally:
        template_rendered.disconnect(record)
    rendered = [entry for entry in seen if entry[0] != "--"]
    assert rendered == [
        ("ws_acme", _role_of("ws_acme")),
        ("ws_globex", _role_of("ws_globex")),
        ("ws_acme", _role_of("ws_acme")),
        ("public", runtime_role()),
    ]


# --- What the database refuses in a workspace's context


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM ws_globex.shop_company",
        "SELECT count(*) FROM ws_globex.audit_auditevent",
        "UPDATE ws_globex.shop_company SET name = 'stolen'",
        "DELETE FROM ws_globex.shop_company",
        "INSERT INTO ws_globex.shop_company (name) VALUES ('planted')",
        "SELECT * FROM ws_acme.shop_company UNION ALL SELECT * FROM ws_globex.shop_company",
        "SELECT nextval('ws_globex.shop_company_id_seq')",
        "SELECT * FROM tenant_template.shop_company",
        "SELECT * FROM ready_0.shop_company",
    ],
)
def test_cross_schema_statements_in_a_workspace_context_are_refused(acme, statement):
    with tenant_context(acme):
        assert _refused(statement) == INSUFFICIENT_PRIVILEGE


def _copy_refused(statement: str, rows: list | None = None) -> str | None:
    def run() -> None:
        with transaction.atomic(), connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows or []:
                copy.write_row(row)

    with pytest.raises(psycopg.Error) as raised:
        run()
    return raised.value.sqlstate


def test_cross_schema_copy_in_a_workspace_context_is_refused(acme):
    with tenant_context(acme):
        assert _copy_refused("COPY ws_globex.shop_company TO STDOUT") == INSUFFICIENT_PRIVILEGE
        statement = "COPY ws_globex.shop_company (name) FROM STDIN"
        assert _copy_refused(statement, [["planted"]]) == INSUFFICIENT_PRIVILEGE
        query = "COPY (SELECT * FROM ws_globex.shop_company) TO STDOUT"
        assert _copy_refused(query) == INSUFFICIENT_PRIVILEGE


def test_the_orm_and_raw_sql_naming_another_schema_are_refused(acme):
    with tenant_context(acme):
        assert Company.objects.exists() or True  # its own schema works
        with pytest.raises(DatabaseError), transaction.atomic():
            list(Company.objects.raw("SELECT * FROM ws_globex.shop_company"))
        with pytest.raises(DatabaseError), transaction.atomic():
            list(Company.objects.extra(tables=['"ws_globex"."shop_company"']))


def test_own_schema_works_in_the_same_context(acme):
    with tenant_context(acme):
        Company.objects.create(name="Own Row Ltd")
        assert _one("SELECT count(*) FROM ws_acme.shop_company WHERE name = 'Own Row Ltd'") == 1


# --- Injected statements that move the context


def test_injected_search_path_to_another_workspace_reaches_nothing(acme):
    with tenant_context(acme):
        switch = "SET search_path = ws_globex, public"
        # PostgreSQL skips a search_path schema the role may not use: no such table, then.
        refused = _injected_then(switch, "SELECT count(*) FROM shop_company")
        assert refused == (UNDEFINED_TABLE,)
        # Shared tables: role and search_path disagree, so no workspace's rows at all.
        assert _injected_then(switch, "SELECT count(*) FROM rbac_membership") == (0,)


def test_injected_search_path_to_public_does_not_open_the_platform_view(acme):
    with tenant_context(acme):
        assert Membership.objects.count() > 0  # acme's own members
        switch = "SET search_path = public"
        assert _injected_then(switch, "SELECT count(*) FROM rbac_membership") == (0,)


def test_an_injected_switch_dies_with_its_cursor(acme):
    with tenant_context(acme):
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE; SET search_path = public")
        assert _one("SELECT current_user") == _role_of("ws_acme")
        assert _one("SELECT current_setting('search_path')").startswith("ws_acme")


def test_limit_injected_reset_role_reaches_the_public_view_but_no_workspace_schema(acme):
    # What the database does NOT stop (docs/security-model.md): a statement that can run
    # RESET ROLE is back to the runtime login role, which sees the shared tables' platform
    # view in the public search_path, for the rest of that cursor; it still holds nothing on
    # any workspace's schema.
    with tenant_context(acme):
        reset = "RESET ROLE; SET search_path = public"
        tenants_seen = _injected_then(
            reset, "SELECT count(DISTINCT tenant_id) FROM rbac_membership"
        )
        assert tenants_seen[0] >= 2
        for schema in ("ws_acme", "ws_globex"):
            read = f"SELECT count(*) FROM {schema}.shop_company"  # noqa: S608 - constant
            assert _injected_then(reset, read) == (INSUFFICIENT_PRIVILEGE,)


def test_limit_injected_set_role_to_another_workspaces_role_is_not_refused(acme):
    # What the database does NOT stop: the runtime login role is a member of every workspace
    # role, so a statement that can run SET ROLE can take another workspace's for the rest of
    # its cursor. The design note in docs/security-model.md says what would close it.
    with tenant_context(acme):
        switch = f'SET ROLE "{_role_of("ws_globex")}"; SET search_path = ws_globex, public'
        assert _injected_then(switch, "SELECT count(*) >= 0 FROM ws_globex.shop_company") == (True,)


def test_injected_set_role_to_the_owner_or_a_predefined_role_is_refused(acme):
    from django.conf import settings

    with tenant_context(acme):
        for role in (settings.DATABASES["owner"]["USER"], "pg_read_all_data", "pg_write_all_data"):
            assert _refused(f'SET ROLE "{role}"') == INSUFFICIENT_PRIVILEGE, role


# --- Roles outlive databases: the clean-up finds exactly the orphans


def test_roles_of_a_dropped_database_are_found_and_live_ones_are_not(owner_sql):
    from tenants.workspace_roles import ROLES_OF_DROPPED_DATABASES_SQL, workspace_group_name

    orphan = workspace_role_name("test_gone_database", "ws_left_behind")
    owner_sql.execute(f'CREATE ROLE "{orphan}" NOLOGIN')
    try:
        owner_sql.execute(
            f'COMMENT ON ROLE "{orphan}" IS \'Shopsafe workspace schema ws_left_behind in'
            " database test_gone_database'"
        )
        found = {row[0] for row in owner_sql.execute(ROLES_OF_DROPPED_DATABASES_SQL)}
        assert orphan in found
        database = connection.settings_dict["NAME"]
        assert _role_of("ws_acme") not in found
        assert workspace_group_name(database) not in found
    finally:
        owner_sql.execute(f'DROP ROLE IF EXISTS "{orphan}"')


def test_every_role_provisioning_creates_says_which_workspace_and_database_it_is_for(acme):
    comment = _one(
        "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s",
        [_role_of("ws_acme")],
    )
    assert comment == (
        f"Shopsafe workspace schema ws_acme in database {connection.settings_dict['NAME']}"
    )
