"""TenantTask: the tenant is set before a task body runs and reset to public afterwards."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from config.celery import app
from kernel.tasks import TenantTask
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

seen: list[dict] = []


@app.task(base=TenantTask, bind=True, name="tests.tenants.record_schema")
def record_schema(self, *, tenant_schema: str, fail: bool = False) -> str:
    seen.append(
        {
            "schema": connection.schema_name,
            "tenant": self.tenant.slug,
            # A query proves the search_path, not just the attribute, points at the tenant.
            "search_path": _search_path(),
        }
    )
    if fail:
        raise RuntimeError("task body failed")
    return connection.schema_name


def _search_path() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        return cursor.fetchone()[0]


@pytest.fixture(autouse=True)
def _forget_seen():
    seen.clear()
    yield
    seen.clear()


def test_tenant_task_runs_its_body_in_the_named_workspace_and_returns_to_public(acme):
    result = record_schema.delay(tenant_schema=acme.schema_name)

    assert result.get() == "ws_acme"
    assert seen == [{"schema": "ws_acme", "tenant": "acme", "search_path": "ws_acme, public"}]
    assert connection.schema_name == "public"


def test_tenant_task_ignores_the_schema_a_previous_caller_left_active(acme, globex):
    with schema_context(globex.schema_name):
        record_schema.delay(tenant_schema=acme.schema_name)

    assert [entry["schema"] for entry in seen] == ["ws_acme"]


def test_tenant_task_returns_to_public_when_its_body_fails(acme):
    with pytest.raises(RuntimeError, match="task body failed"):
        record_schema.delay(tenant_schema=acme.schema_name, fail=True)

    assert [entry["schema"] for entry in seen] == ["ws_acme"]
    assert connection.schema_name == "public"


def test_tenant_task_for_an_unknown_workspace_runs_nothing():
    with pytest.raises(Tenant.DoesNotExist):
        record_schema.delay(tenant_schema="ws_nosuchshop")

    assert seen == []
    assert connection.schema_name == "public"


def test_tenant_task_cannot_be_called_without_a_tenant():
    with pytest.raises(TypeError, match="tenant_schema"):
        record_schema.delay()

    assert seen == []
