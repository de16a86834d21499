"""The base class for every Celery task that touches a workspace.

Invariant: a TenantTask is called with ``tenant_schema=...``; before the body runs, the
connection is switched to that tenant (and back to public afterwards), so a task can never
run against whatever schema a previous task left behind. Afterwards the connection goes back
to the tenant that was active before (public for a worker; the calling request's tenant when
the task runs eagerly inside it). Audit events the body writes carry the system as actor and
the task id as request id.
"""

from __future__ import annotations

from celery import Task
from django.db import connection
from django_tenants.utils import get_tenant_model

from .context import system_audit_context


class TenantTask(Task):
    abstract = True

    def __call__(self, *args, tenant_schema: str, **kwargs):
        previous = getattr(connection, "tenant", None)
        connection.set_schema_to_public()
        tenant = get_tenant_model().objects.get(schema_name=tenant_schema)
        self.tenant = tenant
        connection.set_tenant(tenant)
        # Audit events a task writes are the system's, whatever request queued it (eager
        # tasks run inside that request); the task id stands in for a request id.
        try:
            with system_audit_context(request_id=self.request.id or ""):
                return super().__call__(*args, tenant_schema=tenant_schema, **kwargs)
        finally:
            if previous is not None and getattr(previous, "schema_name", "public") != "public":
                connection.set_tenant(previous)
            else:
                connection.set_schema_to_public()
