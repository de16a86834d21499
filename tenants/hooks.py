"""Our one hook into django-tenants' ``set_tenant`` (``EXTRA_SET_TENANT_METHOD_PATH``).

Invariant: together with django-tenants' own search_path handling, this is the only place
where tenant context reaches the database connection. It also publishes the tenant to the
logging context so every log line says which workspace it concerns.
"""

from __future__ import annotations

from .logging import current_tenant


def on_set_tenant(connection, tenant) -> None:
    current_tenant.set(getattr(tenant, "schema_name", "public"))
