"""django-tenants' PostgreSQL backend, with the workspace's database role switched in its hook.

Invariant: on a RUNTIME connection every statement runs in exactly the context of the schema
the code is in, role and search_path together, set in one statement:

- a workspace's schema: ``SET ROLE <that workspace's role>; SET search_path = <schema>, public``;
- the public schema: ``RESET ROLE; SET search_path = public`` (the runtime login role itself,
  which holds no privilege on any workspace schema).

The context is sent ONCE, on the first cursor after anything that may have changed it, and
again only when one of these happens (docs/security-model.md, "The workspace context"):

- ``set_tenant`` (every request sets public then the host's workspace; ``TenantTask``,
  ``schema_context`` and ``tenant_context`` go through it), even to the same workspace;
- a new connection (``CONN_MAX_AGE`` ended, a health check failed, a recycled connection);
- a rollback or a rollback to a savepoint (PostgreSQL undoes a ``SET`` made inside it);
- any statement the backend cannot vouch for (:func:`statement_keeps_context`): every
  statement goes through the cursor classes here, which mark the context unsure unless it is
  a plain SELECT, INSERT, UPDATE or DELETE that calls only functions known not to change a
  setting. ``SET``, ``RESET``, ``set_config``, ``COPY``, ``DO``, several statements in one,
  any string literal, comment or function not on the list: the next cursor sends the context
  again. So a switch made by injected SQL still dies with its cursor.

Unlike django-tenants, a failure to switch is never swallowed unless the transaction is
already aborted (then the next statement fails anyway): a workspace whose role is missing gets
an error, never the previous context.

:meth:`DatabaseWrapper.fetch_in_context` lets the gate send the pending switch and its one
lookup in a single round trip. A connection that has switched into more workspaces than
``WORKSPACES_PER_CONNECTION`` (a key of the database's settings) is closed at the next
request or task boundary, so PostgreSQL's per-connection catalog cache (about 0.18 MB per
workspace touched) stays bounded.

The OWNER connection (migrations, provisioning, purge; ``owner_credentials``) owns every
schema and switches nothing: only the runtime login role is a member of the workspace roles.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import django.db.utils
import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base as postgresql_base
from django.db.backends.utils import debug_transaction
from django_tenants.postgresql_backend import base as tenants_base
from django_tenants.utils import get_public_schema_name, quote_schema_name

# --- Which statements leave the context alone --------------------------------------------

# What the ORM sends for reads and writes, and savepoints (which cannot change a setting).
_VOUCHED_START = re.compile(r"\s*(?:SELECT|INSERT|UPDATE|DELETE|SAVEPOINT|RELEASE)\b", re.I)
# A second statement, a literal (parameters are bound apart from the text), dollar quoting,
# a comment, an escape, a Unicode-escaped identifier: none of them is vouched for.
_NOT_VOUCHED = re.compile(r"""[;'$\\]|--|/\*|\b[uU]&""")
# Anything called like a function: a name or a quoted name, then "(".
_CALLED = re.compile(r'(?:\b([A-Za-z_][A-Za-z0-9_]*)|"((?:[^"]|"")+)")\s*\(')
_INSERT_TARGET = re.compile(r'\s*INSERT\s+INTO\s+"(?:[^"]|"")+"\s*\(', re.I)
# Words the ORM writes before "(" (keywords and types) and functions that neither change a
# setting nor run SQL given as text. Not listed (so never vouched): set_config, query_to_xml,
# ts_stat, dblink, every function of ours, anything else.
_HARMLESS_WORDS = """
select from where and or not in exists values any all some as on using join case when then
else end over filter by partition having union intersect except lateral conflict returning
distinct array row between is like ilike similar escape with limit offset for of set order
group within nulls asc desc only fetch cast extract count sum avg min max coalesce nullif
greatest least lower upper length char_length concat concat_ws substring substr strpos
replace trim btrim ltrim rtrim lpad rpad left right reverse repeat abs ceil ceiling floor
round trunc mod power sqrt sign exp ln log pi random date_trunc date_part now
statement_timestamp clock_timestamp transaction_timestamp to_char to_date to_timestamp
make_interval age array_agg string_agg bool_and bool_or every array_length cardinality
unnest array_position array_remove jsonb_build_object json_build_object jsonb_build_array
json_build_array jsonb_agg json_agg jsonb_object_agg to_jsonb to_json jsonb_extract_path
jsonb_extract_path_text jsonb_typeof jsonb_array_length row_number rank dense_rank
percent_rank cume_dist ntile lag lead first_value last_value nth_value stddev_pop
stddev_samp var_pop var_samp variance regexp_replace regexp_match to_tsvector to_tsquery
plainto_tsquery websearch_to_tsquery ts_rank gen_random_uuid numeric decimal varchar char
character timestamp time interval bit varbit float
"""
_HARMLESS_CALLS = frozenset(_HARMLESS_WORDS.split())


@lru_cache(maxsize=4096)
def statement_keeps_context(sql: str) -> bool:
    """Whether ``sql`` (the statement's text, parameters bound apart) cannot change a session
    setting, the role or search_path among them. False whenever in doubt: the cost of a wrong
    False is one more context statement on the next cursor."""
    if not _VOUCHED_START.match(sql) or _NOT_VOUCHED.search(sql):
        return False
    insert_target = _INSERT_TARGET.match(sql)
    start = insert_target.end() if insert_target else 0
    for match in _CALLED.finditer(sql, start):
        name = match.group(1)
        name = name.lower() if name is not None else match.group(2).replace('""', '"')
        if name not in _HARMLESS_CALLS:
            return False
    return True


_UNSURE = "shopsafe_context_unsure"  # set on the psycopg connection object


def _note_statement(connection, query: Any) -> None:
    """Every statement on a connection passes here before it is sent."""
    if isinstance(query, bytes):
        query = query.decode()
    elif not isinstance(query, str):  # psycopg.sql.Composable: literals inside, never vouched
        query = ";"
    if not statement_keeps_context(query):
        setattr(connection, _UNSURE, True)


class _WatchesStatements:
    """Mixed into the cursor classes a connection uses, so no statement goes unseen."""

    connection: Any  # the psycopg connection (a property of psycopg's cursors)

    def execute(self, query, params=None, **kwargs):
        _note_statement(self.connection, query)
        return super().execute(query, params, **kwargs)  # type: ignore[misc]

    def executemany(self, query, params_seq, **kwargs):
        _note_statement(self.connection, query)
        return super().executemany(query, params_seq, **kwargs)  # type: ignore[misc]

    def copy(self, statement, params=None, **kwargs):
        _note_statement(self.connection, statement)
        return super().copy(statement, params, **kwargs)  # type: ignore[misc]

    def stream(self, query, params=None, **kwargs):
        _note_statement(self.connection, query)
        return super().stream(query, params, **kwargs)  # type: ignore[misc]


class Cursor(_WatchesStatements, postgresql_base.Cursor):
    pass


class ServerBindingCursor(_WatchesStatements, postgresql_base.ServerBindingCursor):
    pass


def watched_cursor(connection: psycopg.Connection) -> psycopg.Cursor:
    """A cursor of the watched class on the raw psycopg ``connection``, for code that must
    talk to psycopg directly (pipelines, several results): its statements are seen too."""
    return Cursor(connection)  # type: ignore[call-arg,return-value]  # Django's class is untyped


_WATCHED_FACTORIES = {
    postgresql_base.Cursor: Cursor,
    postgresql_base.ServerBindingCursor: ServerBindingCursor,
}


class DatabaseWrapper(tenants_base.DatabaseWrapper):
    # Set by django-tenants' __init__ (untyped there).
    _setting_search_path: bool
    search_path_set_schemas: list[str] | None
    # Whether this connection's login role owns the database (the OWNER, or a single-role
    # set-up): such a connection switches no role. Read once per new connection.
    _owns_database: bool = True
    # Set by Django's BaseDatabaseWrapper (untyped there).
    health_check_enabled: bool
    health_check_done: bool

    def __init__(self, *args, **kwargs):
        # The workspaces this physical connection has switched into (for recycling).
        self.workspaces_entered: set[str] = set()
        self._deferred = []  # before django-tenants' __init__ sets the public schema
        super().__init__(*args, **kwargs)
        # A cursor opened before a statement was queued and used after it sends it too.
        self.execute_wrappers.insert(0, self._send_deferred_first)

    # --- connections --------------------------------------------------------------------

    def get_connection_params(self):
        params = super().get_connection_params()
        factory = params["cursor_factory"]
        if factory not in _WATCHED_FACTORIES:
            raise ImproperlyConfigured(
                "OPTIONS cursor_factory is not supported: the backend watches every statement"
            )
        params["cursor_factory"] = _WATCHED_FACTORIES[factory]
        return params

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        setattr(connection, _UNSURE, True)
        self.workspaces_entered = set()
        self.search_path_set_schemas = None
        return connection

    def init_connection_state(self):
        super().init_connection_state()
        with self.connection.cursor() as cursor:  # raw: not a query of the application's
            cursor.execute(
                "SELECT datdba = (SELECT oid FROM pg_roles WHERE rolname = session_user)"
                " FROM pg_database WHERE datname = current_database()"
            )
            self._owns_database = bool(cursor.fetchone()[0])

    def _cursor(self, name=None):
        # Before the context of the new cursor is set: a statement queued for the next
        # commit (send_with_next) runs in the context it was queued in.
        self.deferred_send()
        cursor = super()._cursor(name)
        if name:
            # A named (server-side) cursor's statement is sent by psycopg's own class, after
            # the context: the next cursor sends the context again.
            setattr(self.connection, _UNSURE, True)
        return cursor

    def close(self):
        self.workspaces_entered = set()
        super().close()

    def close_if_unusable_or_obsolete(self):
        """Django calls this when a request or a Celery task starts and ends: a connection that
        has been in too many workspaces is closed there, never in the middle of work."""
        limit = self.settings_dict.get("WORKSPACES_PER_CONNECTION")
        if (
            self.connection is not None
            and limit
            and len(self.workspaces_entered) >= limit
            and not self.in_atomic_block
        ):
            self.close()
            return
        super().close_if_unusable_or_obsolete()

    # --- the context ----------------------------------------------------------------------

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

    def context_is_set(self) -> bool:
        """Whether the connection is known to be in the current context (nothing to send)."""
        return (
            self.connection is not None
            and self.search_path_set_schemas is not None
            and not getattr(self.connection, _UNSURE, True)
        )

    def _context_now_set(self, search_paths: list[str]) -> None:
        self.search_path_set_schemas = search_paths
        setattr(self.connection, _UNSURE, False)
        if self.schema_name != get_public_schema_name():
            self.workspaces_entered.add(self.schema_name)

    def _handle_search_path(self, cursor=None):
        if self._setting_search_path or self.context_is_set():
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
            self._context_now_set(search_paths)
        finally:
            self._setting_search_path = False
            if cursor is None:
                cursor_for_context.close()

    def fetch_in_context(self, sql: str, params: list[Any]) -> list[tuple]:
        """The rows of one read, run in the current context; when the context still has to
        be sent, it travels in the same round trip, ahead of the read (one statement string,
        one result per part). For the gate's lookup, the first statement of a request.

        With ``CONN_HEALTH_CHECKS`` the read is the health check: instead of a ``SELECT 1``
        first, a read that fails because the connection is gone is sent once more on a new
        connection (outside a transaction only, and it is a read)."""
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.in_atomic_block
        ):
            self.health_check_done = True
            try:
                return self._fetch_in_context(sql, params)
            except (django.db.utils.OperationalError, django.db.utils.InterfaceError):
                if self.connection is not None and self.is_usable():
                    raise  # the connection is fine: the read itself failed
                self.close()
        return self._fetch_in_context(sql, params)

    def _fetch_in_context(self, sql: str, params: list[Any]) -> list[tuple]:
        self.ensure_connection()
        self._setting_search_path = True  # this cursor does not send the context itself
        try:
            cursor = self.cursor()
        finally:
            self._setting_search_path = False
        with cursor:
            if self.context_is_set():
                cursor.execute(sql, params)
                return cursor.fetchall()
            search_paths = self._get_cursor_search_paths()
            statement = self._context_statement(search_paths)
            try:
                # Parameters are bound into the whole text: the context part has none.
                cursor.execute(statement.replace("%", "%%") + "; " + sql, params)
                while cursor.nextset():  # the switch's results, then the read's
                    pass
                rows = cursor.fetchall()
            except Exception:
                self.search_path_set_schemas = None
                raise
            self._context_now_set(search_paths)
            if not statement_keeps_context(sql):
                setattr(self.connection, _UNSURE, True)
            return rows

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
        with self.wrap_database_errors, watched_cursor(self.connection) as cursor:
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
                watched_cursor(self.connection) as cursor,
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
