"""Shared fixtures: two workspaces (acme, globex) with one member per role, and clients.

The workspaces are provisioned once per test session (committed in the test database);
every test then runs inside a transaction that is rolled back.
"""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client

from accounts.sessions import SESSION_WORKSPACE_KEY

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
def django_db_setup(django_db_setup, django_db_blocker, _private_storage_in_tmp):
    """Provision the two shared workspaces once, after the test database is migrated."""
    from django.db import connection as _connection

    from tests.seeding import seed_workspaces

    name = _connection.settings_dict["NAME"]
    # Never seed a developer's real database (pytest-django creates no test database when
    # no collected test asks for one).
    if not name.startswith("test_"):
        raise RuntimeError(f"refusing to seed non-test database {name!r}")
    with django_db_blocker.unblock():
        seed_workspaces(WORKSPACES, password=PASSWORD)


@pytest.fixture(autouse=True)
def _public_schema_and_clean_caches():
    """Each test starts on the public schema with empty caches (none leaks between tests)."""
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()
    clear_test_cache_keys()


def clear_test_cache_keys() -> None:
    """Delete this run's cache keys only (cache.clear() would flush other runs' keys too)."""
    for alias in ("default", "platform"):
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
