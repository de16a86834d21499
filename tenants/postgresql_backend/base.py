"""django-tenants' PostgreSQL backend, with the workspace's database role switched in its hook.

Invariant: on a RUNTIME connection every cursor starts in exactly the context of the schema the
code is in, role and search_path together, in one statement:

- a workspace's schema: ``SET ROLE <that workspace's role>; SET search_path = <schema>, public``;
- the public schema: ``RESET ROLE; SET search_path = public`` (the runtime login role itself,
  which holds no privilege on any workspace schema).

django-tenants issues its ``SET search_path`` on every cursor after ``set_tenant`` and after
every rollback (a rolled-back SET is undone by PostgreSQL); this issues the role with it, so
the two cannot drift apart and a reused connection (``CONN_MAX_AGE``, a Celery worker, a
management command looping over workspaces) never carries one workspace's role into another's
work. Unlike django-tenants, a failure to switch is never swallowed unless the transaction is
already aborted (then the next statement fails anyway): a workspace whose role is missing gets
an error, never the previous context.

The OWNER connection (migrations, provisioning, purge; ``owner_credentials``) owns every
schema and switches nothing: only the runtime login role is a member of the workspace roles.
"""

from __future__ import annotations

import django.db.utils
import psycopg
from django.core.exceptions import ImproperlyConfigured
from django_tenants.postgresql_backend import base as tenants_base
from django_tenants.utils import get_limit_set_calls, get_public_schema_name, quote_schema_name


class DatabaseWrapper(tenants_base.DatabaseWrapper):
    # Set by django-tenants' __init__ (untyped there).
    _setting_search_path: bool
    search_path_set_schemas: list[str] | None
    # Whether this connection's login role owns the database (the OWNER, or a single-role
    # set-up): such a connection switches no role. Read once per new connection.
    _owns_database: bool = True

    def init_connection_state(self):
        super().init_connection_state()
        with self.connection.cursor() as cursor:  # raw: not a query of the application's
            cursor.execute(
                "SELECT datdba = (SELECT oid FROM pg_roles WHERE rolname = session_user)"
                " FROM pg_database WHERE datname = current_database()"
            )
            self._owns_database = bool(cursor.fetchone()[0])

    def _switches_roles(self) -> bool:
        """A login role that does not own the database (the RUNTIME role) acts in a
        workspace's context only as that workspace's role; the owner switches nothing."""
        return not self._owns_database

    def _context_statement(self, search_paths: list[str]) -> str:
        path = "SET search_path = " + ",".join(quote_schema_name(schema) for schema in search_paths)
        if not self._switches_roles():
            return path
        if self.schema_name == get_public_schema_name():
            return "RESET ROLE; " + path
        from tenants.workspace_roles import workspace_role_name

        role = workspace_role_name(self.settings_dict["NAME"], self.schema_name)
        return f"SET ROLE {self.ops.quote_name(role)}; {path}"

    def _handle_search_path(self, cursor=None):
        if self._setting_search_path:
            return
        if get_limit_set_calls() and self.search_path_set_schemas:
            return
        if not self.schema_name:
            raise ImproperlyConfigured(
                "Database schema not set. Did you forget to call set_schema() or set_tenant()?"
            )
        search_paths = self._get_cursor_search_paths()
        statement = self._context_statement(search_paths)
        self._setting_search_path = True
        cursor_for_context = self.connection.cursor() if cursor is None else cursor
        # Only an earlier failure may be ignored (the statement that follows fails anyway);
        # a switch that fails itself must not leave the code running in the previous context.
        aborted_before = self._transaction_aborted()
        try:
            cursor_for_context.execute(statement)
        except (django.db.utils.DatabaseError, psycopg.Error):
            self.search_path_set_schemas = None
            if not aborted_before:
                raise
        else:
            self.search_path_set_schemas = search_paths
        finally:
            self._setting_search_path = False
            if cursor is None:
                cursor_for_context.close()

    def _transaction_aborted(self) -> bool:
        status = self.connection.info.transaction_status
        return status == psycopg.pq.TransactionStatus.INERROR
