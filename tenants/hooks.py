"""Our one hook into django-tenants' ``set_tenant`` (``EXTRA_SET_TENANT_METHOD_PATH``).

Invariant: together with django-tenants' own search_path handling, this is the only place
where tenant context reaches the database connection. It also publishes the tenant to the
logging context so every log line says which workspace it concerns.

The database-side workspace context that row-level security reads (``tenants/rls.py``) *is*
that search_path: ``public.shopsafe_workspace_id()`` maps its first entry back to the
workspace. django-tenants re-issues ``SET search_path`` on every cursor after ``set_tenant``
and after every rollback, so the context cannot drift from the schema the code is in, and it
costs no statement of its own. Every entry point switches through ``set_tenant``: the request
middleware (public first, then the host's workspace), ``TenantTask``, ``schema_context`` and
``tenant_context``. A persistent connection (``CONN_MAX_AGE``) therefore never carries one
request's workspace into the next: the middleware sets public, then the host's workspace,
before anything reads, and ``TenantTask`` does the same for every task.
"""

from __future__ import annotations

from .logging import current_tenant


def on_set_tenant(connection, tenant) -> None:
    current_tenant.set(getattr(tenant, "schema_name", "public"))
