"""Our one hook into django-tenants' ``set_tenant`` (``EXTRA_SET_TENANT_METHOD_PATH``).

Invariant: ``set_tenant`` is the only way code changes the workspace context, and the
database backend (``tenants/postgresql_backend/base.py``) is the only place that context
reaches the connection: on the first cursor after ``set_tenant``, after every rollback and
after any statement it cannot vouch for, it sends the workspace's role together with the
search_path (``SET ROLE …; SET search_path = …``, and ``RESET ROLE`` for public). The hook
cannot send statements itself (``set_tenant`` does not touch the connection), so it only
publishes the tenant to the logging context, so every log line says which workspace it
concerns.

Row-level security (``tenants/rls.py``) reads the context back from role and search_path
together. Every entry point switches through ``set_tenant``: the request middleware (public
first, then the host's workspace), ``TenantTask``, ``schema_context`` and ``tenant_context``.
A persistent connection (``CONN_MAX_AGE``) therefore never carries one request's workspace
into the next: the middleware sets public, then the host's workspace, before anything reads,
and ``TenantTask`` does the same for every task.
"""

from __future__ import annotations

from .logging import current_tenant


def on_set_tenant(connection, tenant) -> None:
    current_tenant.set(getattr(tenant, "schema_name", "public"))
