"""Issue #14: the workspace context (role and search_path) is sent once, not before every cursor.

docs/security-model.md ("The workspace context: sent once, re-sent whenever it may have
changed") lists when the backend (``tenants.postgresql_backend``) sends it again; each test
here holds one of those claims, by the statements captured and by what PostgreSQL says the
role and search_path are. Every test runs on the RUNTIME login role.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from rbac.models import Membership
from shop.models import Company
from tenants.roles import runtime_role
from tenants.workspace_roles import workspace_role_name

pytestmark = pytest.mark.django_db


def _role_of(schema_name: str) -> str:
    return workspace_role_name(connection.settings_dict["NAME"], schema_name)


def _one(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _context_statements(captured: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].startswith(("SET ROLE", "RESET ROLE", "SET search_path"))
    ]


def _context_now() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_setting('search_path')")
        return cursor.fetchone()


# --- Once per context, not per cursor


def test_the_context_is_sent_once_for_many_orm_statements(acme, member):
    owner = member("acme", "owner")
    with tenant_context(acme), CaptureQueriesContext(connection) as captured:
        Company.objects.filter(name="Nobody Ltd").update(phone="+1 555")
        assert Company.objects.filter(name__icontains="nobody").count() == 0
        assert list(Company.objects.order_by("name").values_list("name", flat=True)[:1])
        assert Membership.objects.filter(user=owner).select_related("user").exists()
        with transaction.atomic():
            Company.objects.filter(name="Nobody Ltd").delete()
    assert _context_statements(captured) == [
        f'SET ROLE "{_role_of("ws_acme")}"; SET search_path = "ws_acme","public"'
    ]
    # update, count, page, exists, savepoint, the delete's collecting select, release
    assert len(captured.captured_queries) == 1 + 7


def test_an_audited_write_sends_the_context_again_after_its_raw_statements(acme):
    # The audit writer's chain lock is raw SQL the backend does not vouch for (a second
    # statement, a function of its own), so the next cursor re-sends the context. (The
    # event's INSERT itself goes out with the next statement or the commit, in the context
    # it was queued in: audit.services, send_with_next.)
    with tenant_context(acme), CaptureQueriesContext(connection) as captured:
        Company.objects.create(name="Audited Ltd")
        Company.objects.count()
    statements = [query["sql"] for query in captured.captured_queries]
    assert len(_context_statements(captured)) == 2
    assert statements[0].startswith("SET ROLE")
    assert statements[-2].startswith("SET ROLE")


def test_set_tenant_sends_the_context_again_even_for_the_same_workspace(acme):
    # Each request sets public, then the host's workspace: a reused connection is put back
    # into the context whatever the previous request left behind.
    with CaptureQueriesContext(connection) as captured:
        for _ in range(2):
            connection.set_tenant(acme)
            Company.objects.count()
            Company.objects.count()
    connection.set_schema_to_public()
    assert len(_context_statements(captured)) == 2
    assert len(captured.captured_queries) == 6


def test_each_request_on_a_reused_connection_sends_its_hosts_context_once(client_for):
    client = client_for("acme", "owner")
    client.get("/companies/")
    for _ in range(2):
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/companies/").status_code == 200
        [switch] = _context_statements(captured)
        assert switch.startswith(f'SET ROLE "{_role_of("ws_acme")}"; SET search_path')


# --- Sent again whenever it may have changed


@pytest.mark.parametrize(
    "injected",
    [
        "RESET ROLE; SET search_path = public",
        "SET ROLE NONE",
        "SELECT set_config('role', 'none', false)",
        "SELECT pg_catalog.set_config('search_path', 'public', false)",
        "SELECT \"set_config\"('role', 'none', false)",
        "SELECT set_config /* spaced */ ('role', 'none', false)",
        "SELECT U&\"\\0073et_config\"('role', 'none', false)",
        "SELECT * FROM ts_stat('SELECT set_config(''role'', ''none'', false)::tsvector')",
    ],
)
def test_any_statement_that_may_switch_the_context_dies_with_its_cursor(acme, injected):
    with tenant_context(acme):
        assert _context_now() == (_role_of("ws_acme"), "ws_acme, public")
        with connection.cursor() as cursor:
            cursor.execute(injected)
            cursor.execute("SELECT current_user, current_setting('search_path')")
            assert cursor.fetchone() != (_role_of("ws_acme"), "ws_acme, public")  # it switched
        assert _context_now() == (_role_of("ws_acme"), "ws_acme, public")


def test_a_switch_hidden_in_a_parameterised_statement_dies_with_its_cursor(acme):
    with tenant_context(acme):
        Company.objects.count()
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, false)", ["role", "none"])
        assert _context_now()[0] == _role_of("ws_acme")


def test_a_switch_inside_copy_dies_with_its_cursor(acme):
    with tenant_context(acme):
        Company.objects.count()
        with (
            connection.cursor() as cursor,
            cursor.copy("COPY (SELECT set_config('role', 'none', false)) TO STDOUT") as copy,
        ):
            assert [bytes(row) for row in copy] == [b"none\n"]
        assert _context_now()[0] == _role_of("ws_acme")


def test_a_switch_inside_an_orm_extra_dies_with_its_cursor(acme):
    with tenant_context(acme):
        injected = Company.objects.extra(
            select={"switched": "set_config('role', 'none', false)"}
        ).values_list("switched", flat=True)
        list(injected)
        assert _context_now()[0] == _role_of("ws_acme")


def test_a_rolled_back_transaction_that_sent_the_context_sends_it_again(acme, globex):
    globex_switch = f'SET ROLE "{_role_of("ws_globex")}"; SET search_path = "ws_globex","public"'
    with tenant_context(acme):
        Company.objects.count()
        with CaptureQueriesContext(connection) as captured:
            with transaction.atomic():
                connection.set_tenant(globex)
                Company.objects.count()  # the switch to globex, inside the savepoint
                transaction.set_rollback(True)
            # PostgreSQL undid the switch with the savepoint; the next cursor sends it again.
            assert _context_now()[0] == _role_of("ws_globex")
    assert _context_statements(captured) == [globex_switch, globex_switch]


def test_a_task_on_a_worker_connection_sends_its_workspaces_context(acme):
    from celery import shared_task

    from kernel.tasks import TenantTask

    seen: list[str] = []

    @shared_task(base=TenantTask, name="tests.workspace_context.probe")
    def probe(*, tenant_schema: str) -> None:
        seen.append(_one("SELECT current_user"))

    with tenant_context(acme):
        Company.objects.count()  # the connection is already in acme's context
        with CaptureQueriesContext(connection) as captured:
            probe.apply(kwargs={"tenant_schema": "ws_acme"}).get()
            probe.apply(kwargs={"tenant_schema": "ws_acme"}).get()
    assert seen == [_role_of("ws_acme"), _role_of("ws_acme")]
    acme_switch = f'SET ROLE "{_role_of("ws_acme")}"; SET search_path = "ws_acme","public"'
    assert _context_statements(captured).count(acme_switch) == 2  # one per task


def test_a_command_looping_over_workspaces_runs_each_in_its_own_context(acme, globex):
    # audit_verify reads each workspace's audit table through a server-side cursor: in any
    # other workspace's role PostgreSQL would refuse the read (42501), so OK means each
    # stream was read in its own context; the connection is public afterwards.
    output = StringIO()
    call_command("audit_verify", "--all", stdout=output)
    assert "acme: OK" in output.getvalue()
    assert "globex: OK" in output.getvalue()
    assert _context_now() == (runtime_role(), "public")
    for tenant in (acme, globex, acme):
        with tenant_context(tenant):
            assert _context_now()[0] == _role_of(tenant.schema_name)


# --- Connections are recycled before their catalog cache grows past a set size


def _fresh_connection(limit: int):
    wrapper = connections.create_connection("default")
    # A copy: the wrapper's dict is the settings' own, which every later test would inherit.
    wrapper.settings_dict = {**wrapper.settings_dict, "WORKSPACES_PER_CONNECTION": limit}
    return wrapper


def _visit(wrapper, tenant) -> int:
    wrapper.set_tenant(tenant)
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_connection_that_entered_the_limit_of_workspaces_is_closed_at_the_next_boundary(
    acme, globex
):
    wrapper = _fresh_connection(limit=2)
    try:
        first_pid = _visit(wrapper, acme)
        assert _visit(wrapper, acme) == first_pid
        wrapper.close_if_unusable_or_obsolete()  # a request or task boundary
        assert wrapper.connection is not None  # one workspace: kept
        assert _visit(wrapper, globex) == first_pid
        assert wrapper.workspaces_entered == {"ws_acme", "ws_globex"}
        wrapper.close_if_unusable_or_obsolete()
        assert wrapper.connection is None
        assert _visit(wrapper, acme) != first_pid
        assert wrapper.workspaces_entered == {"ws_acme"}
    finally:
        wrapper.close()


def test_a_connection_is_never_recycled_inside_a_transaction(acme):
    wrapper = _fresh_connection(limit=1)
    connections["recycling_probe"] = wrapper
    try:
        with transaction.atomic(using="recycling_probe"):
            _visit(wrapper, acme)
            wrapper.close_if_unusable_or_obsolete()
            assert wrapper.connection is not None
        wrapper.close_if_unusable_or_obsolete()
        assert wrapper.connection is None
    finally:
        del connections["recycling_probe"]
        wrapper.close()


# --- The gate's lookup is the request's health check


def test_the_gate_lookup_replaces_the_health_check_and_survives_a_dropped_connection(acme):
    wrapper = connections.create_connection("default")
    try:
        wrapper.set_tenant(acme)
        [(first_pid,)] = wrapper.fetch_in_context("SELECT pg_backend_pid()", [])
        assert wrapper.health_check_enabled  # CONN_HEALTH_CHECKS, as deployed
        with connection.cursor() as cursor:  # the server drops that connection
            cursor.execute("SELECT pg_terminate_backend(%s)", [first_pid])
        wrapper.close_if_unusable_or_obsolete()  # the next request starts
        wrapper.set_tenant(acme)
        with CaptureQueriesContext(wrapper) as captured:
            [(pid, role)] = wrapper.fetch_in_context("SELECT pg_backend_pid(), current_user", [])
        assert pid != first_pid
        assert role == _role_of("ws_acme")
        # No SELECT 1 before it: the lookup itself found the dead connection.
        assert all(query["sql"].startswith("SET ROLE") for query in captured.captured_queries)
    finally:
        wrapper.close()


def test_the_context_function_is_plpgsql_so_its_plans_are_kept_for_the_session(db):
    # A LANGUAGE sql function in a policy's sub-select is planned again on every call.
    language = _one(
        "SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang "
        "WHERE p.oid = 'public.shopsafe_workspace_id()'::regprocedure"
    )
    assert language == "plpgsql"


def test_connections_are_recycled_after_the_configured_number_of_workspaces():
    # DATABASE_WORKSPACES_PER_CONNECTION, 100 by default: about 20 MB of catalog cache.
    from django.conf import settings

    assert settings.DATABASES["default"]["WORKSPACES_PER_CONNECTION"] == 100
    assert connection.settings_dict["WORKSPACES_PER_CONNECTION"] == 100
