"""The database connection as django-tenants extends it, typed.

Invariant: :data:`tenant_connection` is ``django.db.connection`` itself (the per-thread
proxy), so each attribute is read from the current thread's connection when it is used; only
its static type differs. django-tenants' backend adds the workspace's ``tenant`` and
``schema_name`` and the ``set_*`` switches at run time, and django-stubs types the
connection as ``BaseDatabaseWrapper``, which has none of them. Code that reads or switches
the schema uses this name; everything else keeps ``django.db.connection``.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from django.db import connection


class TenantConnection(Protocol):
    # The workspace whose schema is active (a tenants.Tenant, or django-tenants' FakeTenant
    # for a bare schema); typed loosely because the ground floor cannot name Tenant.
    tenant: Any
    schema_name: str

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None: ...

    def set_schema(
        self, schema_name: str, include_public: bool = True, tenant_type: Any = None
    ) -> None: ...

    def set_schema_to_public(self) -> None: ...


tenant_connection = cast(TenantConnection, connection)
