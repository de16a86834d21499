"""The database keeps each workspace's rows of the shared tables to that workspace.

These tests run as the RUNTIME login role, switched into each workspace's role in its context
(neither is superuser or BYPASSRLS; FORCE ROW LEVEL SECURITY holds the tables' owner to the
policies too). Each one leaves a filter
out on purpose: only the database stands between the query and the other workspace's rows.
"""

from __future__ import annotations

import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context, tenant_context

from config.celery import app
from kernel.tasks import TenantTask
from rbac.models import Membership
from tenants.models import Tenant
from tenants.rls import POLICY_NAME


def workspace_context_in_the_database() -> int | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT public.shopsafe_workspace_id()")
        return cursor.fetchone()[0]


# --- the context --------------------------------------------------------------------------


def test_workspace_context_is_the_workspace_in_its_schema_and_none_on_public(acme):
    assert workspace_context_in_the_database() is None
    with tenant_context(acme):
        assert workspace_context_in_the_database() == acme.pk
    assert workspace_context_in_the_database() is None


@pytest.mark.parametrize("schema", [settings.TENANT_BASE_SCHEMA, "ready_0", "ws_no_such_workspace"])
def test_a_schema_that_is_no_workspace_cannot_be_entered_and_matches_nothing(db, schema):
    # A runtime connection enters a schema only as its workspace's role; there is none.
    with (
        pytest.raises(DatabaseError, match="does not exist"),
        transaction.atomic(),
        schema_context(schema),
    ):
        workspace_context_in_the_database()
    # Named by a search_path alone (current_schema() would skip a missing schema and land on
    # public; the context must not): 0, which matches no row.
    # (On one cursor: the hook re-issues the real context on every new one.)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('search_path', %s, false)", [schema])
        cursor.execute("SELECT public.shopsafe_workspace_id()")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM public.rbac_membership")
        assert cursor.fetchone()[0] == 0
        transaction.set_rollback(True)


def test_a_reused_connection_does_not_keep_the_previous_workspace_context(acme, globex):
    # One connection, as with CONN_MAX_AGE, a Celery worker or a management command: the
    # gate, TenantTask and schema_context all go through set_tenant, and django-tenants
    # re-issues search_path (our context) on the next cursor; nothing else carries over.
    backend_pid = connection.cursor().connection.info.backend_pid
    with tenant_context(acme):
        assert set(Membership.objects.values_list("tenant_id", flat=True)) == {acme.pk}
    connection.set_tenant(globex)
    assert connection.cursor().connection.info.backend_pid == backend_pid
    assert workspace_context_in_the_database() == globex.pk
    assert set(Membership.objects.values_list("tenant_id", flat=True)) == {globex.pk}
    connection.set_schema_to_public()
    assert workspace_context_in_the_database() is None
    assert {acme.pk, globex.pk} <= set(Membership.objects.values_list("tenant_id", flat=True))


def test_a_rolled_back_savepoint_does_not_leave_a_stale_workspace_context(acme, globex):
    # SET search_path is transactional; django-tenants forgets it on rollback and re-issues
    # it, and because the context is the search_path it cannot drift from it.
    connection.set_tenant(acme)
    try:
        with transaction.atomic():
            connection.set_tenant(globex)
            assert workspace_context_in_the_database() == globex.pk
            transaction.set_rollback(True)
        assert workspace_context_in_the_database() == globex.pk
        assert set(Membership.objects.values_list("tenant_id", flat=True)) == {globex.pk}
    finally:
        connection.set_schema_to_public()


def test_django_tenants_sets_search_path_on_every_cursor_so_the_context_follows():
    # With TENANT_LIMIT_SET_CALLS on it would be issued once per set_tenant, which still
    # follows; this pins the behaviour the tests above rely on.
    assert getattr(settings, "TENANT_LIMIT_SET_CALLS", False) is False


# --- memberships ----------------------------------------------------------------------------


def test_membership_objects_all_in_acme_context_returns_no_globex_rows(acme, globex):
    assert Membership.objects.filter(tenant=globex).exists()
    with tenant_context(acme):
        tenants_seen = set(Membership.objects.all().values_list("tenant_id", flat=True))
        assert tenants_seen == {acme.pk}
        assert not Membership.objects.filter(tenant=globex).exists()


def test_raw_sql_in_acme_context_returns_no_globex_memberships(acme, globex):
    with tenant_context(acme), connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tenant_id FROM public.rbac_membership")
        assert {row[0] for row in cursor.fetchall()} == {acme.pk}
        cursor.execute(
            "SELECT count(*) FROM public.rbac_membership WHERE tenant_id = %s", [globex.pk]
        )
        assert cursor.fetchone()[0] == 0


def test_updating_or_deleting_a_globex_membership_in_acme_context_touches_nothing(acme, globex):
    globex_membership = Membership.objects.filter(tenant=globex).first()
    with tenant_context(acme):
        assert Membership.objects.filter(pk=globex_membership.pk).update(is_active=False) == 0
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM public.rbac_membership WHERE tenant_id = %s", [globex.pk])
            assert cursor.rowcount == 0
    globex_membership.refresh_from_db()
    assert globex_membership.is_active is True


def test_inserting_a_globex_membership_in_acme_context_is_refused(acme, globex, member):
    user = member("acme", "owner")
    refused = pytest.raises(DatabaseError, match="row-level security")
    with tenant_context(acme), refused, transaction.atomic():
        Membership.objects.create(user=user, tenant=globex, role="staff")


def test_moving_an_acme_membership_to_globex_in_acme_context_is_refused(acme, globex, member):
    with tenant_context(acme):
        membership = Membership.objects.get(tenant=acme, user=member("acme", "owner"))
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Membership.objects.filter(pk=membership.pk).update(tenant=globex)


# --- coverage -------------------------------------------------------------------------------


def _points_at_a_workspace(model, seen=()) -> bool:
    for field in model._meta.get_fields():
        if not (field.many_to_one or field.one_to_one) or not field.concrete:
            continue
        target = field.related_model
        if target is Tenant:
            return True
        if (
            target not in seen
            and target is not model
            and _points_at_a_workspace(target, (*seen, model))
        ):
            return True
    return False


def shared_models_with_workspace_rows():
    tenant_only = set(settings.TENANT_APPS) - set(settings.SHARED_APPS)
    return sorted(
        (
            model
            for model in apps.get_models()
            if model._meta.app_config.name not in tenant_only
            and model is not Tenant
            and model._meta.managed
            and _points_at_a_workspace(model)
        ),
        key=lambda model: model._meta.db_table,
    )


def test_every_shared_table_with_workspace_rows_has_forced_row_level_security(db):
    tables = [model._meta.db_table for model in shared_models_with_workspace_rows()]
    assert "rbac_membership" in tables
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   EXISTS (SELECT 1 FROM pg_policy p
                           WHERE p.polrelid = c.oid AND p.polname = %s)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relname = ANY(%s)
            """,
            [POLICY_NAME, tables],
        )
        protected = {name: all(flags) for name, *flags in cursor.fetchall()}
    missing = [table for table in tables if not protected.get(table)]
    assert missing == [], f"shared tables with workspace rows but no forced policy: {missing}"


def test_the_next_request_on_a_reused_connection_runs_in_its_own_hosts_context(
    acme, globex, client_for
):
    from django.test import Client

    assert client_for("acme", "owner").get("/").status_code == 200
    assert workspace_context_in_the_database() == acme.pk  # the test client keeps the connection
    assert client_for("globex", "owner").get("/").status_code == 200
    assert workspace_context_in_the_database() == globex.pk
    Client(HTTP_HOST="localhost").get("/")
    assert workspace_context_in_the_database() is None


# --- the limit (docs/security-model.md): the context is not a secret ---------------------


def test_injected_search_path_alone_cannot_switch_a_workspace_role_to_the_platform_view(
    acme, globex
):
    # A workspace role whose search_path says public (or another workspace) is no context.
    switch_and_read = (
        "SELECT set_config('search_path', 'public', false), "
        "(SELECT count(*) FROM public.rbac_membership WHERE tenant_id = %s)"
    )
    with tenant_context(acme), connection.cursor() as cursor:
        cursor.execute(switch_and_read, [globex.pk])
        assert cursor.fetchone()[1] == 0
        cursor.execute("SELECT count(*) FROM public.rbac_membership")
        assert cursor.fetchone()[0] == 0


def test_limit_injected_role_and_path_reset_reach_the_platform_view_for_that_cursor(acme, globex):
    # Any role may RESET ROLE (set_config('role', 'none')) and set its own search_path; the
    # runtime login role's public context is the platform view of the shared tables. What
    # limits it: no workspace schema is reachable that way, and the hook re-issues role and
    # search_path on the application's next cursor, so the switch dies with the injected one.
    switch = "SELECT set_config('role', 'none', false), set_config('search_path', 'public', false)"
    with tenant_context(acme):
        with connection.cursor() as cursor:
            cursor.execute(switch)
            cursor.execute(
                "SELECT count(*) FROM public.rbac_membership WHERE tenant_id = %s", [globex.pk]
            )
            assert cursor.fetchone()[0] > 0
        assert workspace_context_in_the_database() == acme.pk
        assert not Membership.objects.filter(tenant=globex).exists()


def test_the_row_level_security_migration_step_reverses_cleanly(db, owner_sql):
    """The migration step and its reverse, run as the owner role (the runtime role the suite
    runs as may not alter a table it does not own), inside a transaction rolled back at the
    end so the test database keeps its policies."""
    from tenants.rls import enable_row_level_security

    step = enable_row_level_security("rbac_membership")

    def state() -> tuple:
        return owner_sql.execute(
            "SELECT relrowsecurity, relforcerowsecurity, "
            "(SELECT count(*) FROM pg_policy WHERE polrelid = c.oid) "
            "FROM pg_class c WHERE oid = 'public.rbac_membership'::regclass"
        ).fetchone()

    owner_sql.execute("SET lock_timeout = '10s'")
    assert state() == (True, True, 1)
    with owner_sql.transaction():
        owner_sql.execute(step.reverse_sql)
        assert state() == (False, False, 0)
        owner_sql.execute(step.sql)
        assert state() == (True, True, 1)
        raise psycopg.Rollback  # leaves the block with the transaction rolled back
    assert state() == (True, True, 1)


@app.task(base=TenantTask, bind=True, name="tests.tenants.rls_memberships_seen")
def memberships_seen(self, *, tenant_schema: str) -> list[int]:
    return sorted(set(Membership.objects.values_list("tenant_id", flat=True)))


def test_a_celery_task_sees_only_its_workspace_and_leaves_the_worker_connection_public(
    acme, globex
):
    # Two tasks in a row on one worker connection, as a prefork child runs them.
    assert memberships_seen.apply(kwargs={"tenant_schema": acme.schema_name}).get() == [acme.pk]
    assert workspace_context_in_the_database() is None
    assert memberships_seen.apply(kwargs={"tenant_schema": globex.schema_name}).get() == [globex.pk]
    assert workspace_context_in_the_database() is None
