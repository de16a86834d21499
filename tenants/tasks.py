"""The base class for every Celery task that touches a workspace.

Invariant: a TenantTask is called with ``tenant_schema=...``; before the body runs, the
connection is switched to that tenant (and back to public afterwards), so a task can never
run against whatever schema a previous task left behind.
"""

from __future__ import annotations

from celery import Task
from django.db import connection


class TenantTask(Task):
    abstract = True

    def __call__(self, *args, tenant_schema: str, **kwargs):
        from .models import Tenant

        connection.set_schema_to_public()
        tenant = Tenant.objects.get(schema_name=tenant_schema)
        self.tenant = tenant
        connection.set_tenant(tenant)
        try:
            return super().__call__(*args, tenant_schema=tenant_schema, **kwargs)
        finally:
            connection.set_schema_to_public()
