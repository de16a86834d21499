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

from collections.abc import Sequence
from typing import Any

import django.db.utils
import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.utils import debug_transaction
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

    # --- Commits that do not hold their locks through the WAL flush, and statements that go
    # out with the commit

    # The statement that makes the flush wait, set by :func:`commit_flushes_after_locks` for
    # the current transaction only.
    _flush_after_commit: str = ""
    # Statements queued by :func:`send_with_next`: (schema, sql, params), in order.
    _deferred: list[tuple[str, str, Sequence[Any]]]

    def __init__(self, *args, **kwargs):
        self._deferred = []  # before django-tenants' __init__ sets the public schema
        super().__init__(*args, **kwargs)
        # A cursor opened before a statement was queued and used after it sends it too.
        self.execute_wrappers.insert(0, self._send_deferred_first)

    def _send_deferred_first(self, execute, sql, params, many, context):
        self.deferred_send()
        return execute(sql, params, many, context)

    def deferred_send(self) -> None:
        """Send the queued statements now, in the context they were queued in (before any
        other statement of this connection, and before the context changes)."""
        if not self._deferred:
            return
        deferred, self._deferred = self._deferred, []
        if self.connection is None or self._transaction_aborted():
            return  # the transaction is lost anyway; what it queued goes with it
        with self.wrap_database_errors, psycopg.Cursor(self.connection) as cursor:
            for schema, sql, params in deferred:
                self._deferred_context_check(schema)
                cursor.execute(sql, params)

    def _deferred_context_check(self, schema: str) -> None:
        # The session is still in the context the statement was queued in: the context is
        # only ever changed by the next cursor's SET, and every way there sends the queue
        # first. Should that ever stop being true, refuse rather than write elsewhere.
        if schema != self.schema_name or not self.search_path_set_schemas:
            raise RuntimeError(
                f"a statement queued in {schema} would run in {self.schema_name}: refused"
            )

    def set_tenant(self, tenant, include_public=True):
        self.deferred_send()  # before the context changes
        super().set_tenant(tenant, include_public)

    def _cursor(self, name=None):
        # Before the context of the new cursor is set: a queued statement runs in the one it
        # was queued in.
        self.deferred_send()
        return super()._cursor(name)

    def _commit(self):
        flush_with = self._flush_after_commit
        self._flush_after_commit = ""
        if self._deferred:
            deferred, self._deferred = self._deferred, []
            # One round trip: the queued statements and COMMIT, pipelined. A failed statement
            # aborts the transaction and the COMMIT with it, and raises here.
            with (
                debug_transaction(self, "COMMIT"),
                self.wrap_database_errors,
                self.connection.pipeline(),
                psycopg.Cursor(self.connection) as cursor,
            ):
                for schema, sql, params in deferred:
                    self._deferred_context_check(schema)
                    cursor.execute(sql, params)
                self.connection.commit()
        else:
            super()._commit()
        if flush_with:
            self._wait_for_flush(flush_with)

    def _rollback(self):
        self._flush_after_commit = ""
        self._deferred = []
        super()._rollback()

    def _close(self):
        self._flush_after_commit = ""
        self._deferred = []
        super()._close()

    def _wait_for_flush(self, statement: str) -> None:
        """Return once the transaction that just committed is on disk: ``statement`` writes
        WAL and takes a transaction id, so it commits synchronously, and PostgreSQL flushes
        the WAL in order, so its flush covers the commit before it (and concurrent writers'
        flushes are shared). One round trip: sent as a statement of its own, outside
        psycopg's transaction handling, it is its own transaction, and the connection is
        idle again afterwards as it was before."""
        with self.wrap_database_errors:
            result = self.connection.pgconn.exec_(statement.encode())
            if result.status != psycopg.pq.ExecStatus.TUPLES_OK:
                raise psycopg.DatabaseError(
                    (result.error_message or b"").decode(errors="replace")
                    or "the flush after a commit failed"
                )


COMMIT_WITHOUT_WAITING_FOR_FLUSH = "SET LOCAL synchronous_commit = off"


def commit_flushes_after_locks(connection, *, flush_with: str) -> str:
    """Make the current transaction release its locks before its commit is flushed to disk,
    and ``commit()`` wait for the flush afterwards (running ``flush_with``, a statement that
    writes WAL and needs a transaction id, such as ``setval`` on a sequence, in a transaction
    of its own). Returns the statement that switches the transaction, for the caller to send
    with its next one (it must run inside the transaction).

    For a transaction that takes a lock every writer of something needs (an audit stream's
    head) and holds it until commit: without this the lock is held through the WAL flush, so
    writers queue behind each other's disk writes. Durability is unchanged for the code that
    commits, since ``commit()`` returns only once the commit is on disk (a crash before that
    loses the transaction, as a crash during any commit may); other sessions may see the
    commit a few milliseconds before it is on disk, and a crash in that window loses it and
    whatever committed after it, never a transaction in the middle of the history.
    """
    connection._flush_after_commit = flush_with
    return COMMIT_WITHOUT_WAITING_FOR_FLUSH


def send_with_next(connection, sql: str, params: Sequence[Any]) -> None:
    """Queue a statement of the current transaction to go out with whatever this connection
    sends next: the next statement (before it, in the context the statement was queued in)
    or the COMMIT (pipelined with it, in one round trip). For the last write of a
    transaction that holds a lock every writer needs, it saves the lock holder a round trip.

    The caller must not need the statement's result, and nothing may read what it writes
    except through this connection (which sends it first). Raw psycopg statements on a
    cursor that Django opened before the statement was queued are the one way around it:
    call ``connection.deferred_send()`` before them.
    """
    connection._deferred.append((connection.schema_name, sql, params))
