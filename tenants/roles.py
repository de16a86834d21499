"""The two database roles: the OWNER (owns everything, runs DDL) and the RUNTIME (owns nothing).

Invariant: the runtime role (``DATABASES["default"]``) holds exactly USAGE on the public
schema, the template, every workspace schema and every ready spare; SELECT, INSERT, UPDATE,
DELETE on their ordinary tables; USAGE on their sequences; and on every audit table (each
model of the audit app, in public and in every workspace schema) INSERT and SELECT only. It
owns nothing, so ALTER, DROP, TRUNCATE and DISABLE TRIGGER are refused by PostgreSQL.

The only DDL a runtime connection can cause goes through SECURITY DEFINER functions
installed here by the owner, each with a fixed search_path and a narrow guard:

- ``shopsafe_schema_provision(target, take_spare)``: gives a workspace row that the calling
  transaction has just inserted its schema, by renaming a ready spare (``ready_*``, cloned
  ahead of time by the owner) or, when none is left, cloning the template; then grants.
- ``shopsafe_sequences_catch_up(target)``: moves a workspace's sequences forward past the
  highest id (an import writes rows with their ids; setval needs UPDATE on the sequence,
  which the runtime role does not hold). It never moves one back.

No function lets a runtime connection drop a schema or a role: a purged workspace's schema
and role are dropped by the owner-queue worker, on the proof of the purge's keyed receipt
(``workspace.lifecycle.schema_drop``). ``owner_run`` gives that work a connection of its own.

``runtime_privileges_apply`` (re)installs the functions and applies the grants;
``migrate_schemas`` calls it on the owner connection after every run. Everything here runs as
the owner.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections, transaction
from django.db.utils import load_backend

from .workspace_roles import (
    ROLES_OF_DROPPED_DATABASES_SQL,
    database_role_pattern,
    workspace_group_name,
    workspace_role_name,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

READY_PREFIX = "ready_"  # spares cloned ahead of time by the owner side
PROVISION_LOCK_KEY = 0x5EED_7E3B  # serialises spare takes (pg_advisory_xact_lock)
ROLE_CLEANUP_LOCK_KEY = 0x5EED_7E3C  # serialises dropping roles of dropped databases
OWNER_CREDENTIALS_MISSING = (
    "This process has no owner credentials (DATABASE_OWNER_URL): migrations, provisioning "
    "of spares and purges run only where the owner role lives."
)


def runtime_role() -> str:
    # From the URL, not DATABASES: owner_credentials() swaps the default alias's USER.
    return unquote(urlparse(settings.DATABASE_URL).username or "")


def owner_configured() -> bool:
    return "owner" in settings.DATABASES


@contextmanager
def owner_credentials() -> Iterator[None]:
    """Run the block on the default connection under the OWNER role's credentials.

    For whole commands and set-up only (migrate, filling the spare pool, the test database):
    the connection is closed before and after, so it must not be used inside a transaction.
    Raises ImproperlyConfigured in a process that was not given the owner's URL.
    """
    if not owner_configured():
        raise ImproperlyConfigured(OWNER_CREDENTIALS_MISSING)
    default = connections["default"]
    owner = settings.DATABASES["owner"]
    saved = (default.settings_dict["USER"], default.settings_dict["PASSWORD"])
    if saved == (owner["USER"], owner["PASSWORD"]):
        yield
        return
    default.close()
    default.settings_dict["USER"], default.settings_dict["PASSWORD"] = (
        owner["USER"],
        owner["PASSWORD"],
    )
    try:
        yield
    finally:
        default.close()
        default.settings_dict["USER"], default.settings_dict["PASSWORD"] = saved


def owner_run(work: Callable[[], T]) -> T:
    """Run ``work`` as the OWNER on a database connection of its own, in a thread of its own,
    and return its result (or raise its error).

    Inside the thread the ``default`` alias is a fresh connection under the owner's
    credentials, so ``work`` uses the ORM, ``transaction.atomic`` and ``audit.services`` as
    anywhere else; the caller's connection is neither used nor closed, so an owner-queue task
    run inline (Celery's eager mode in tests) never touches the transaction around it, and
    sees only what is committed. The caller's context variables (the audit context) are
    carried over. Raises ImproperlyConfigured in a process without the owner's URL.

    ``settings.DATABASES`` is left alone (other threads read it): code that takes the
    credentials from there rather than from the connection (django-tenants' clone helper,
    so filling spares and ``runtime_privileges_apply``) needs ``owner_credentials`` instead.
    """
    if not owner_configured():
        raise ImproperlyConfigured(OWNER_CREDENTIALS_MISSING)
    owner = settings.DATABASES["owner"]
    # The default alias's settings (in tests: the test database's name), owner credentials.
    settings_dict = {
        **connections.settings["default"],
        "USER": owner["USER"],
        "PASSWORD": owner["PASSWORD"],
        "CONN_MAX_AGE": 0,
    }
    caller_context = contextvars.copy_context()
    outcome: dict[str, Any] = {}

    def run() -> None:
        wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "default")
        connections["default"] = wrapper  # this thread's only: connections are thread-local
        try:
            outcome["result"] = caller_context.run(work)
        except BaseException as error:  # handed to the caller's thread below
            outcome["error"] = error
        finally:
            wrapper.close()
            del connections["default"]

    thread = threading.Thread(target=run, name="owner-connection")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def audit_tables() -> list[str]:
    """Every table of the audit app: INSERT and SELECT only for the runtime role."""
    return sorted(model._meta.db_table for model in apps.get_app_config("audit").get_models())


def _literal(value: str) -> str:
    # Values come from settings and model metadata, not from users; quote them anyway.
    return "'" + value.replace("'", "''") + "'"


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(_literal(value) for value in values) + "]::text[]"


# What "ALL TABLES IN SCHEMA" and "ALL SEQUENCES IN SCHEMA" cover, as pg_class relkinds.
_TABLE_KINDS = "ARRAY['r', 'p', 'v', 'm', 'f']::\"char\"[]"
_SEQUENCE_KINDS = "ARRAY['S']::\"char\"[]"


def _functions_sql(runtime: str) -> str:
    from tenants.models import Tenant

    quote = connection.ops.quote_name
    tenant_table = quote(Tenant._meta.db_table)
    spare_pattern = _literal(READY_PREFIX.replace("_", "\\_") + "%")
    template = _literal(settings.TENANT_BASE_SCHEMA)
    # Every interpolated value is a setting, model metadata or quoted by quote_name/_literal.
    return f"""
-- The tables (or sequences) of one schema, qualified and comma-separated, or NULL: found through
-- pg_depend's index on the schema, where "ALL TABLES IN SCHEMA" reads the whole of pg_class,
-- several times over, which grows with every workspace (10,000 workspaces: 700,000 rows).
CREATE OR REPLACE FUNCTION public.shopsafe_schema_relations(target text, kinds "char"[])
RETURNS text LANGUAGE sql STABLE SET search_path = pg_catalog AS $fn$
  SELECT string_agg(format('%I.%I', target, c.relname), ', ' ORDER BY c.relname)
    FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
   WHERE d.refclassid = 'pg_namespace'::regclass
     AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = target)
     AND d.refobjsubid = 0 AND d.classid = 'pg_class'::regclass AND c.relkind = ANY(kinds)
$fn$;
REVOKE ALL ON FUNCTION public.shopsafe_schema_relations(text, "char"[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.shopsafe_schema_grants(target text, grantee text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, public AS $fn$
DECLARE audit_table text; relations text;
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', target, grantee);
  relations := public.shopsafe_schema_relations(target, {_TABLE_KINDS});
  IF relations IS NOT NULL THEN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %s TO %I', relations, grantee);
  END IF;
  relations := public.shopsafe_schema_relations(target, {_SEQUENCE_KINDS});
  IF relations IS NOT NULL THEN
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I', relations, grantee);
  END IF;
  FOREACH audit_table IN ARRAY {_array(audit_tables())} LOOP
    IF to_regclass(format('%I.%I', target, audit_table)) IS NOT NULL THEN
      EXECUTE format(
        'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON %I.%I FROM %I',
        target, audit_table, grantee);
    END IF;
  END LOOP;
END $fn$;
REVOKE ALL ON FUNCTION public.shopsafe_schema_grants(text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.shopsafe_member_grant(granted text, member text, inherit boolean)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, public AS $fn$
BEGIN
  IF current_setting('server_version_num')::int >= 160000 THEN
    -- Inherit (the public schema's privileges) or SET ROLE only, never both.
    EXECUTE format('GRANT %I TO %I WITH INHERIT %s, SET %s', granted, member,
      CASE WHEN inherit THEN 'TRUE' ELSE 'FALSE' END,
      CASE WHEN inherit THEN 'FALSE' ELSE 'TRUE' END);
  ELSE
    -- PostgreSQL 15 and older: the member's own NOINHERIT attribute decides (checked in
    -- runtime_privileges_apply for the runtime role).
    EXECUTE format('GRANT %I TO %I', granted, member);
  END IF;
END $fn$;
REVOKE ALL ON FUNCTION public.shopsafe_member_grant(text, text, boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.shopsafe_runtime_grants(target text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $fn$
DECLARE
  workspace_role text; workspace_group text := public.shopsafe_workspace_group(); relations text;
BEGIN
  EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC, {quote(runtime)}', target);
  IF target = 'public' THEN
    PERFORM public.shopsafe_schema_grants(target, {_literal(runtime)});
    PERFORM public.shopsafe_schema_grants(target, workspace_group);
    RETURN;
  END IF;
  -- The runtime login role holds nothing on a workspace schema, the template or a spare.
  EXECUTE format('REVOKE ALL ON SCHEMA %I FROM {quote(runtime)}', target);
  relations := public.shopsafe_schema_relations(target, {_TABLE_KINDS});
  IF relations IS NOT NULL THEN
    EXECUTE format('REVOKE ALL ON TABLE %s FROM {quote(runtime)}', relations);
  END IF;
  relations := public.shopsafe_schema_relations(target, {_SEQUENCE_KINDS});
  IF relations IS NOT NULL THEN
    EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM {quote(runtime)}', relations);
  END IF;
  IF target ~ '^ws_' AND EXISTS (SELECT FROM public.{tenant_table} WHERE schema_name = target)
  THEN
    workspace_role := public.shopsafe_workspace_role(target);
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = workspace_role) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN INHERIT', workspace_role);
      EXECUTE format('COMMENT ON ROLE %I IS %L', workspace_role,
        format('Shopsafe workspace schema %s in database %s', target, current_database()));
    END IF;
    PERFORM public.shopsafe_member_grant(workspace_group, workspace_role, true);
    PERFORM public.shopsafe_member_grant(workspace_role, {_literal(runtime)}, false);
    PERFORM public.shopsafe_schema_grants(target, workspace_role);
  END IF;
END $fn$;
REVOKE ALL ON FUNCTION public.shopsafe_runtime_grants(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.shopsafe_schema_provision(target text, take_spare boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
DECLARE spare text; candidate text; fresh boolean;
BEGIN
  IF target !~ '^ws_[a-z0-9_]{{1,60}}$' THEN
    RAISE EXCEPTION 'not a workspace schema name: %', target USING ERRCODE = '22023';
  END IF;
  IF NOT EXISTS (SELECT FROM public.{tenant_table} WHERE schema_name = target) THEN
    RAISE EXCEPTION 'no workspace row for schema %', target USING ERRCODE = '42501';
  END IF;
  IF EXISTS (SELECT FROM pg_namespace WHERE lower(nspname) = lower(target)) THEN
    RAISE EXCEPTION 'New schema name already exists' USING ERRCODE = '42P06';
  END IF;
  PERFORM pg_advisory_xact_lock({PROVISION_LOCK_KEY});
  IF take_spare THEN
    -- Only a spare with exactly the template's migrations: a stale one is left for the owner.
    FOR candidate IN
      SELECT nspname FROM pg_namespace WHERE nspname LIKE {spare_pattern} ORDER BY nspname
    LOOP
      EXECUTE format(
        'SELECT NOT EXISTS (SELECT app, name FROM %1$I.django_migrations'
        ' EXCEPT SELECT app, name FROM %2$I.django_migrations)'
        ' AND NOT EXISTS (SELECT app, name FROM %2$I.django_migrations'
        ' EXCEPT SELECT app, name FROM %1$I.django_migrations)',
        candidate, {template}) INTO fresh;
      IF fresh THEN
        spare := candidate;
        EXIT;
      END IF;
    END LOOP;
  END IF;
  IF spare IS NOT NULL THEN
    EXECUTE format('ALTER SCHEMA %I RENAME TO %I', spare, target);
  ELSE
    PERFORM public.clone_schema({template}, target, 'DATA');
  END IF;
  PERFORM public.shopsafe_runtime_grants(target);
END $fn$;
REVOKE ALL ON FUNCTION public.shopsafe_schema_provision(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.shopsafe_schema_provision(text, boolean) TO {quote(runtime)};

CREATE OR REPLACE FUNCTION public.shopsafe_sequences_catch_up(target text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
DECLARE seq record; top bigint; current bigint;
BEGIN
  IF target !~ '^ws_[a-z0-9_]{{1,60}}$' THEN
    RAISE EXCEPTION 'not a workspace schema name: %', target USING ERRCODE = '22023';
  END IF;
  FOR seq IN
    SELECT s.relname AS sequence_name, t.relname AS table_name, a.attname AS column_name
      FROM pg_depend d
      JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
      JOIN pg_namespace n ON n.oid = s.relnamespace
      JOIN pg_class t ON t.oid = d.refobjid
      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
     WHERE n.nspname = target AND d.deptype IN ('a', 'i')
  LOOP
    EXECUTE format('SELECT max(%I) FROM %I.%I', seq.column_name, target, seq.table_name)
      INTO top;
    EXECUTE format('SELECT last_value FROM %I.%I', target, seq.sequence_name) INTO current;
    IF top IS NOT NULL AND top > current THEN  -- only ever forward: ids are never reused
      PERFORM setval(format('%I.%I', target, seq.sequence_name)::regclass, top, true);
    END IF;
  END LOOP;
END $fn$;
REVOKE ALL ON FUNCTION public.shopsafe_sequences_catch_up(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.shopsafe_sequences_catch_up(text) TO {quote(runtime)};
GRANT EXECUTE ON FUNCTION public.shopsafe_sequences_catch_up(text)
  TO {quote(workspace_group_name(connection.settings_dict["NAME"]))};

-- The purge's drop runs on the owner side only (workspace.lifecycle.schema_drop): no runtime
-- connection may cause a DROP SCHEMA, however its SQL is crafted. Gone from older databases.
DROP FUNCTION IF EXISTS public.shopsafe_schema_drop(text);
"""  # noqa: S608


CLONE_HELPERS = ("clone_schema", "get_insert_stmt_ddl", "pg_get_coldef", "pg_get_tabledef")


def clone_helpers_lock_down() -> None:
    """django-tenants' clone helpers run as their caller and are recreated (EXECUTE to PUBLIC)
    on every ``SchemaCloner`` use: take EXECUTE back so only the owner may use them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT oid::regprocedure::text FROM pg_proc"
            " WHERE pronamespace = 'public'::regnamespace AND proname = ANY(%s)",
            [list(CLONE_HELPERS)],
        )
        for (signature,) in cursor.fetchall():
            cursor.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")


def runtime_privileges_apply() -> None:
    """Install the functions and grant the runtime and workspace roles exactly their privileges.

    Runs on the OWNER connection (``migrate_schemas`` calls it after every run). A
    single-role set-up (no distinct runtime role) is left alone with a warning.
    """
    runtime = runtime_role()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
    if owner == runtime:
        logger.warning("one database role for everything: no runtime privileges to apply")
        return
    from tenants.clone import SchemaCloner
    from tenants.models import Tenant

    connection.set_schema_to_public()  # type: ignore[attr-defined]
    _role_attributes_check(owner, runtime)
    SchemaCloner()._create_clone_schema_function()  # owned by the owner, used by provisioning
    clone_helpers_lock_down()
    quote = connection.ops.quote_name
    group = workspace_group_name(connection.settings_dict["NAME"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [group])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {quote(group)} NOLOGIN INHERIT")
            description = f"Shopsafe workspace group in database {connection.settings_dict['NAME']}"
            cursor.execute(f"COMMENT ON ROLE {quote(group)} IS {_literal(description)}")
        cursor.execute(_functions_sql(runtime))
        cursor.execute(
            f"REVOKE CREATE, TEMPORARY ON DATABASE {quote(connection.settings_dict['NAME'])}"
            f" FROM PUBLIC, {quote(runtime)}"
        )
        cursor.execute("SELECT public.shopsafe_runtime_grants(%s)", [settings.PUBLIC_SCHEMA_NAME])
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s) OR nspname LIKE %s",
            [
                [
                    settings.TENANT_BASE_SCHEMA,
                    *Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).values_list(
                        "schema_name", flat=True
                    ),
                ],
                READY_PREFIX.replace("_", "\\_") + "%",
            ],
        )
        for (schema_name,) in cursor.fetchall():
            cursor.execute("SELECT public.shopsafe_runtime_grants(%s)", [schema_name])


ROLE_ATTRIBUTES_WRONG = (
    'The database roles need {fix} (README, "DATABASE_URL"): the owner creates one role per '
    "workspace, and the runtime role may switch into those roles but never inherit them."
)


def _role_attributes_check(owner: str, runtime: str) -> None:
    """The owner must hold CREATEROLE; before PostgreSQL 16 the runtime must be NOINHERIT."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT rolcreaterole FROM pg_roles WHERE rolname = %s),"
            " (SELECT rolinherit FROM pg_roles WHERE rolname = %s),"
            " current_setting('server_version_num')::int",
            [owner, runtime],
        )
        createrole, inherit, version = cursor.fetchone()
        if not createrole:
            raise ImproperlyConfigured(
                ROLE_ATTRIBUTES_WRONG.format(fix=f"ALTER ROLE {owner} CREATEROLE")
            )
        if inherit and version < 160000:
            cursor.execute(f"ALTER ROLE {quote(runtime)} NOINHERIT")


def workspace_role_drop(schema_name: str) -> None:
    """OWNER side: drop the database role of workspace schema ``schema_name``.

    Call it before the schema goes away or is renamed (purge, tests' discards): the role's
    grants on the schema are revoked first, since a role that still holds privileges on any
    object cannot be dropped. A schema or role that is already gone is no error.
    """
    quote = connection.ops.quote_name
    role = workspace_role_name(connection.settings_dict["NAME"], schema_name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            return
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name])
        if cursor.fetchone() is not None:
            cursor.execute(f"REVOKE ALL ON SCHEMA {quote(schema_name)} FROM {quote(role)}")
            for kind, kinds in (("TABLE", _TABLE_KINDS), ("SEQUENCE", _SEQUENCE_KINDS)):
                cursor.execute(
                    f"SELECT public.shopsafe_schema_relations(%s, {kinds})", [schema_name]
                )
                relations = cursor.fetchone()[0]
                if relations:
                    cursor.execute(f"REVOKE ALL ON {kind} {relations} FROM {quote(role)}")
        cursor.execute(f"DROP ROLE {quote(role)}")


def database_roles_drop(database: str) -> list[str]:
    """OWNER side, after ``database`` was dropped: drop its workspace roles and group role
    (roles are cluster-wide and outlive the database). Returns the roles dropped."""
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLE_CLEANUP_LOCK_KEY])
        cursor.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s OR rolname = %s ORDER BY 1 DESC",
            [database_role_pattern(database), workspace_group_name(database)],
        )
        roles = [row[0] for row in cursor.fetchall()]
        for role in roles:  # the group sorts last (g < w, descending): members go first
            cursor.execute(f"DROP ROLE IF EXISTS {quote(role)}")
    return roles


def roles_of_dropped_databases_drop() -> list[str]:
    """OWNER side: drop the workspace and group roles whose database no longer exists (each
    role's comment names its database). Test and benchmark databases come and go; their roles
    would otherwise pile up in the cluster. Returns the roles dropped."""
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLE_CLEANUP_LOCK_KEY])
        cursor.execute(ROLES_OF_DROPPED_DATABASES_SQL)
        roles = [row[0] for row in cursor.fetchall()]
        for role in roles:  # workspace roles (w) sort before their group (g), descending
            cursor.execute(f"DROP ROLE IF EXISTS {quote(role)}")
    return roles
