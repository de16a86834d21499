"""Shared fixtures: two workspaces (acme, globex) with one member per role, and clients.

The workspaces are provisioned once per test session (committed in the test database);
every test then runs inside a transaction that is rolled back.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client

from accounts.sessions import SESSION_WORKSPACE_KEY
from tenants.selectors import tenant_host_local_forget
from tests import schema_pool

PASSWORD = "correct horse battery staple"
WORKSPACES = ("acme", "globex")


def member_email(slug: str, role: str) -> str:
    return f"{role}@{slug}.example"


@pytest.fixture(scope="session")
def _private_storage_in_tmp(tmp_path_factory):
    """Files the suite uploads go to a temporary folder, never the developer's .local/private."""
    from django.conf import settings
    from django.test.utils import override_settings

    private = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path_factory.mktemp("private")), "base_url": None},
    }
    with override_settings(STORAGES={**settings.STORAGES, "default": private, "private": private}):
        yield


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, django_db_blocker):
    """The OWNER role creates and migrates the test database (as in production, where only
    the owner runs DDL); django_db_setup hands the default alias back to the runtime role."""
    from tenants.roles import owner_credentials, roles_of_dropped_databases_drop

    owner = owner_credentials()
    owner.__enter__()
    _owner_session["credentials"] = owner
    with django_db_blocker.unblock():
        roles_of_dropped_databases_drop()  # an interrupted earlier run's, once its DB is gone
    yield
    # The test database is gone now; its workspace roles are cluster-wide and outlive it.
    from tenants.roles import database_roles_drop

    if _owner_session.get("database"):
        from django.db import DatabaseError

        try:
            with django_db_blocker.unblock():
                database_roles_drop(_owner_session["database"])
        except DatabaseError as error:  # clean-up only: the next run drops what is left
            warnings.warn(f"workspace roles of the test database left: {error}", stacklevel=1)


_owner_session: dict = {}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, _private_storage_in_tmp):
    """Provision the two shared workspaces once, after the test database is migrated.

    Set-up runs as the owner; every test then runs as the runtime role; the owner drops the
    test database at the end."""
    from django.db import connection as _connection

    from tenants.roles import owner_credentials
    from tests.seeding import seed_workspaces

    name = _connection.settings_dict["NAME"]
    # Never seed a developer's real database (pytest-django creates no test database when
    # no collected test asks for one).
    if not name.startswith("test_"):
        raise RuntimeError(f"refusing to seed non-test database {name!r}")
    _owner_session["database"] = name
    with django_db_blocker.unblock():
        seed_workspaces(WORKSPACES, password=PASSWORD)
        # Throwaway workspaces take a ready schema from this worker's pool (tests/schema_pool.py).
        schema_pool.pool_fill()
    schema_pool.pool_install()
    _owner_session.pop("credentials").__exit__(None, None, None)
    yield
    # Left entered (and kept alive, or its generator would restore the runtime role when
    # collected): the owner drops the test database after this.
    _owner_session["credentials"] = owner_credentials()
    _owner_session["credentials"].__enter__()


@pytest.fixture
def owner_sql(django_db_setup):
    """A psycopg connection (autocommit) to the test database as the OWNER role, for tests
    that must change what only the owner may (the template's triggers) and put it back."""
    import psycopg
    from django.conf import settings

    owner = settings.DATABASES["owner"]
    conn = psycopg.connect(
        dbname=settings.DATABASES["default"]["NAME"],
        user=owner["USER"],
        password=owner["PASSWORD"] or None,
        host=owner["HOST"] or None,
        port=owner["PORT"] or None,
        autocommit=True,
    )
    yield conn
    conn.close()


# Tests of provisioning itself that change the template first: they must clone it for real.
REAL_CLONE_MODULES = {"audit/tests/test_append_only.py"}


@pytest.fixture(autouse=True)
def _real_clone_where_the_template_is_tested(request):
    if _relative_path(request.node) not in REAL_CLONE_MODULES:
        yield
        return
    schema_pool.pool_enabled(False)
    yield
    schema_pool.pool_enabled(True)


# --- The two speeds ---------------------------------------------------------------------
# Markers are given here by path (not in each module), so a new sweep joins its tier by where
# it lives. `make test-fast` leaves out slow, sweep, browser and subprocess tests; `make
# test-unit` runs only the unit tests, which touch neither PostgreSQL nor Redis.
ROOT = Path(__file__).resolve().parent
SWEEP_MODULES = {
    # Cross-app sweeps: every URL x role, every page crawled, every object id on the other host,
    # malformed input on every form and list page.
    "tests/test_crawl.py",
    "tests/test_fuzz_sweep.py",
    "tests/test_role_matrix.py",
    "tests/test_isolation_sweep.py",
    "tests/test_cancelled_sweep.py",
    "tests/test_company_isolation.py",
    "support/tests/test_banner_crawl.py",
}
SWEEP_TESTS = {
    # Single tests elsewhere that walk every URL or page of the workspace.
    "support/tests/test_impersonation.py::test_read_only_session_refuses_every_mutating_url",
    "support/tests/test_impersonation.py::"
    "test_each_forbidden_action_is_refused_even_in_a_write_session_as_owner",
    "support/tests/test_read_only_session.py::"
    "test_every_tenant_page_outside_the_read_capabilities_is_refused_in_a_read_only_session",
    "support/tests/test_read_only_session.py::"
    "test_read_only_session_pages_show_no_form_that_writes_and_no_refused_link",
    "shop/tests/test_views.py::test_junk_posted_to_every_shop_url_never_causes_a_server_error",
    "shop/tests/test_views.py::test_every_page_renders_for_the_owner",
    "audit/tests/test_isolation.py::test_globex_pages_filters_and_exports_never_show_acme_events",
}
SLOW_TESTS = {
    # Seconds each even on a quiet machine: demo seeding, 100,000 events, racing connections
    # on a committed workspace, a property test of the chain.
    "shop/tests/test_demo.py::test_demo_seeds_consistent_records_once",
    "audit/tests/test_export_streaming.py::"
    "test_exporting_100000_events_streams_in_bounded_chunks_from_a_server_side_cursor",
    "audit/tests/test_concurrency.py::test_concurrent_writers_append_one_unforked_chain",
    "workspace/tests/test_lifecycle.py::test_two_runs_at_once_purge_the_workspace_once_with_one_receipt",
    "audit/tests/test_chain.py::test_editing_any_field_of_any_event_is_caught_at_that_event",
    # Real deadlocks (PostgreSQL waits deadlock_timeout before ending one) and owners racing
    # each other on a committed workspace.
    "kernel/tests/test_transactions.py::"
    "test_a_real_deadlock_is_run_again_and_both_transactions_complete",
    "kernel/tests/test_transactions.py::"
    "test_a_conflict_outlasting_every_attempt_is_the_refusal_a_person_reads",
    "rbac/tests/test_concurrency.py::"
    "test_two_owners_changing_each_other_at_once_leave_exactly_one_owner_without_an_error",
    "rbac/tests/test_concurrency.py::"
    "test_two_owners_demoting_each_other_through_the_pages_never_see_a_500",
    "rbac/tests/test_concurrency.py::"
    "test_ownership_transfer_and_a_demotion_at_once_leave_exactly_one_owner",
}
NEEDS_SERVICES_WITHOUT_DB = {
    # No database fixture, yet a real broker and worker (Redis and the seeded database).
    "tests/test_celery_broker.py",
}


def _spawns_a_process(item) -> bool:
    try:
        source = inspect.getsource(item.function)
    except (AttributeError, OSError, TypeError):
        return False
    return "run_python(" in source or "subprocess." in source


def _uses_database(item) -> bool:
    if item.get_closest_marker("django_db") is not None:
        return True
    return bool({"db", "transactional_db"} & set(getattr(item, "fixturenames", ())))


def _relative_path(item) -> str:
    return Path(item.fspath).resolve().relative_to(ROOT).as_posix()


def pytest_collection_modifyitems(config, items):
    """Sort every test into its tier: unit, sweep, slow, subprocess (browser is declared)."""
    for item in items:
        path = _relative_path(item)
        name = f"{path}::{item.originalname}" if hasattr(item, "originalname") else path
        if path in SWEEP_MODULES or name in SWEEP_TESTS:
            item.add_marker(pytest.mark.sweep)
        if name in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
        spawns = _spawns_a_process(item)
        if spawns:
            item.add_marker(pytest.mark.subprocess)
        if not (
            _uses_database(item)
            or spawns
            or item.get_closest_marker("browser") is not None
            or path in NEEDS_SERVICES_WITHOUT_DB
        ):
            item.add_marker(pytest.mark.unit)
    # The longest tests (sweeps and slow tests) first: parallel workers then pick up the short
    # ones while a sweep runs, and finish together instead of one idling at the end while the
    # other runs the last sweep. Stable, so each module keeps its order. Browser tests stay
    # last (tests/browser/conftest.py): they commit real rows (a signed-in member's sessions),
    # which a test run after them on the same worker would count.
    items.sort(key=lambda item: 0 if _long_running(item) else 1)


def _long_running(item) -> bool:
    if item.get_closest_marker("browser") is not None:
        return False
    return any(item.get_closest_marker(mark) for mark in ("sweep", "slow"))


@pytest.fixture(autouse=True)
def _public_schema_and_clean_caches(request):
    """Each test starts on the public schema with empty caches (none leaks between tests).

    Unit tests touch neither the connection nor Redis, so they run with both unreachable."""
    if request.node.get_closest_marker("unit") is not None:
        yield
        return
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()
    clear_test_cache_keys()
    tenant_host_local_forget()  # the rows it holds may be gone with the test's transaction


def clear_test_cache_keys() -> None:
    """Delete this run's cache keys only (cache.clear() would flush other runs' keys too)."""
    for alias in caches.settings:
        backend = caches[alias]
        prefix = backend.key_prefix
        client = backend._cache.get_client(None, write=True)
        keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture
def acme(db):
    from tenants.models import Tenant

    return Tenant.objects.get(slug="acme")


@pytest.fixture
def globex(db):
    from tenants.models import Tenant

    return Tenant.objects.get(slug="globex")


def sign_in_client(client: Client, user, tenant) -> Client:
    """Sign ``user`` in on ``tenant``'s host the way the sign-in view does."""
    client.defaults["HTTP_HOST"] = f"{tenant.slug}.localhost"
    client.force_login(user)
    session = client.session
    session[SESSION_WORKSPACE_KEY] = tenant.schema_name
    session.save()
    # The gate honours only sessions that session_sign_in tracked; record this one likewise.
    from accounts.tests.factories import tracked_session_for

    tracked_session_for(session_key=session.session_key, user=user, tenant=tenant)
    return client


@pytest.fixture
def member(db):
    """member(tenant_slug, role) -> the seeded User with that role in that workspace."""
    from accounts.models import User

    def get(slug: str, role: str):
        return User.objects.get(email=member_email(slug, role))

    return get


@pytest.fixture
def client_for(db, member):
    """client_for(slug, role) -> a Client signed in as that workspace's member."""
    from tenants.models import Tenant

    def make(slug: str, role: str = "owner") -> Client:
        tenant = Tenant.objects.get(slug=slug)
        return sign_in_client(Client(), member(slug, role), tenant)

    return make


@pytest.fixture
def in_tenant():
    """Context manager: ``with in_tenant(acme): ...`` runs ORM calls in that schema."""
    from django_tenants.utils import tenant_context

    return tenant_context
