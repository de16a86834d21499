"""Row-level security for the shared (public-schema) tables that hold per-workspace rows.

Invariant: the database-side workspace context is the role and the ``search_path`` the
backend sends together (``tenants/postgresql_backend/base.py``: after every ``set_tenant``,
rollback and statement it cannot vouch for).
``public.shopsafe_workspace_id()`` reads them back:

- the current role is a workspace's role (a runtime connection in that workspace's context):
  that workspace's id when the search_path's first entry is its schema, else 0 (no row), so a
  search_path moved by injected SQL widens nothing;
- otherwise (the runtime login role in the public context, the owner) the first search_path
  entry decides: ``public`` (the public host, the support console, sign-in lookup, "find my
  workspaces", migrations of shared apps) is NULL, the platform's view, every row; a
  workspace's schema is that workspace's id; anything else (the template schema, a schema
  with no workspace, one that does not exist, an empty search_path) is 0, which matches no
  row, so an unknown context sees nothing rather than everything.

Every table listed in ``docs/security-model.md`` ("Isolation in the database") gets the same
policy, with ENABLE and FORCE ROW LEVEL SECURITY so the table's owner is held to it as well;
only a superuser or a BYPASSRLS role is not, and the application uses neither.
``tenants/tests/test_row_level_security.py`` fails when a shared model with a workspace key
has no policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import migrations
from django_tenants.utils import get_public_schema_name, schema_context

POLICY_NAME = "workspace_isolation"

# As migration tenants 0005 installed it (search_path only); 0006 replaces it.
WORKSPACE_CONTEXT_BY_SEARCH_PATH_SQL = """
CREATE OR REPLACE FUNCTION public.shopsafe_workspace_id() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- The first search_path entry as set, not current_schema(): that one skips a schema that
    -- does not exist and would fall through to public, the platform's view.
    WITH context AS (
        SELECT btrim(split_part(current_setting('search_path'), ',', 1), ' "') AS schema_name
    )
    SELECT CASE
        WHEN context.schema_name = 'public' THEN NULL
        ELSE coalesce(
            (SELECT t.id FROM public.tenants_tenant AS t
             WHERE t.schema_name = context.schema_name),
            0
        )
    END
    FROM context
$$;
COMMENT ON FUNCTION public.shopsafe_workspace_id() IS
    'The workspace the connection acts for, from search_path: NULL in the public context '
    '(platform view), 0 when the context is no workspace (matches nothing). See tenants/rls.py.';
"""
# The current definition (migration tenants 0006): on a runtime connection in a workspace's
# context the current_user is that workspace's role (tenants/workspace_roles.py), and the
# context is its workspace only when the search_path names the same workspace. A workspace role
# whose search_path was moved (to public, to another workspace, to nothing) sees no row, so
# neither a changed search_path alone nor a changed role alone widens what a statement reads.
WORKSPACE_CONTEXT_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION public.shopsafe_workspace_id() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- The first search_path entry as set, not current_schema(): that one skips a schema that
    -- does not exist and would fall through to public, the platform's view.
    WITH context AS (
        SELECT btrim(split_part(current_setting('search_path'), ',', 1), ' "') AS schema_name
    )
    SELECT CASE
        WHEN current_user::text LIKE 'shopsafe\\_w\\_%' THEN (
            CASE WHEN public.shopsafe_workspace_role(context.schema_name) = current_user::text
            THEN coalesce(
                (SELECT t.id FROM public.tenants_tenant AS t
                 WHERE t.schema_name = context.schema_name),
                0
            )
            ELSE 0 END
        )
        WHEN context.schema_name = 'public' THEN NULL
        ELSE coalesce(
            (SELECT t.id FROM public.tenants_tenant AS t
             WHERE t.schema_name = context.schema_name),
            0
        )
    END
    FROM context
$$;
COMMENT ON FUNCTION public.shopsafe_workspace_id() IS
    'The workspace the connection acts for: for a workspace role, its workspace when the '
    'search_path names it and 0 otherwise; for any other role, from search_path: NULL in the '
    'public context (platform view), 0 when the context is no workspace. See tenants/rls.py.';
"""
# The same rules in PL/pgSQL (migration tenants 0007; issue #14): a LANGUAGE sql function
# that cannot be inlined (as in a policy's sub-select) is parsed and planned again on every
# call, about 0.3 ms each, once per table with a policy in every statement; PL/pgSQL keeps its
# plans for the session, so a call costs microseconds. What it returns is unchanged, and
# tenants/tests/test_row_level_security*.py hold it to that.
WORKSPACE_CONTEXT_FUNCTION_PLPGSQL = """
CREATE OR REPLACE FUNCTION public.shopsafe_workspace_id() RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    -- The first search_path entry as set, not current_schema(): that one skips a schema that
    -- does not exist and would fall through to public, the platform's view.
    context_schema text := btrim(split_part(current_setting('search_path'), ',', 1), ' "');
    workspace bigint;
BEGIN
    IF current_user::text LIKE 'shopsafe\\_w\\_%' THEN
        -- A workspace role: its workspace only while the search_path names the same one.
        IF public.shopsafe_workspace_role(context_schema) IS DISTINCT FROM current_user::text
        THEN
            RETURN 0;
        END IF;
    ELSIF context_schema = 'public' THEN
        RETURN NULL;
    END IF;
    SELECT t.id INTO workspace FROM public.tenants_tenant AS t
    WHERE t.schema_name = context_schema;
    RETURN coalesce(workspace, 0);
END
$$;
COMMENT ON FUNCTION public.shopsafe_workspace_id() IS
    'The workspace the connection acts for: for a workspace role, its workspace when the '
    'search_path names it and 0 otherwise; for any other role, from search_path: NULL in the '
    'public context (platform view), 0 when the context is no workspace. See tenants/rls.py.';
"""
DROP_WORKSPACE_CONTEXT_FUNCTION_SQL = "DROP FUNCTION IF EXISTS public.shopsafe_workspace_id();"

# A scalar sub-select, so PostgreSQL evaluates the context once per statement (one InitPlan),
# not once per row. NULL (the platform's view) falls back to the row's own key, which every
# row matches: the workspace keys are NOT NULL foreign keys.
_IN_CONTEXT = "({column} = coalesce((SELECT public.shopsafe_workspace_id()), {column}))"


# For a platform table no workspace context may read or write at all (tenants.UnsentTask):
# only the public context, the platform's view (NULL), passes.
PUBLIC_CONTEXT_ONLY = "((SELECT public.shopsafe_workspace_id()) IS NULL)"


def workspace_row_condition(column: str = "tenant_id") -> str:
    """The SQL condition a row with workspace key ``column`` must meet in the current context."""
    return _IN_CONTEXT.format(column=column)


def enable_row_level_security(table: str, condition: str | None = None) -> migrations.RunSQL:
    """A reversible migration step: ENABLE + FORCE RLS on ``table`` with the workspace policy.

    ``condition`` defaults to ``workspace_row_condition()`` on ``tenant_id``; a table whose
    workspace is reached through another row passes its own (for example an EXISTS on a
    parent table that has the policy itself).
    """
    condition = condition or workspace_row_condition()
    forward = (
        f'ALTER TABLE public."{table}" ENABLE ROW LEVEL SECURITY;'
        f'ALTER TABLE public."{table}" FORCE ROW LEVEL SECURITY;'
        f'CREATE POLICY {POLICY_NAME} ON public."{table}" FOR ALL '
        f"USING ({condition}) WITH CHECK ({condition});"
    )
    reverse = (
        f'DROP POLICY IF EXISTS {POLICY_NAME} ON public."{table}";'
        f'ALTER TABLE public."{table}" NO FORCE ROW LEVEL SECURITY;'
        f'ALTER TABLE public."{table}" DISABLE ROW LEVEL SECURITY;'
    )
    return migrations.RunSQL(forward, reverse)


@contextmanager
def platform_view() -> Iterator[None]:
    """Run one narrow step in the public context, where the shared tables show every workspace.

    For the few services whose rule spans workspaces (a user's sessions "everywhere", the
    support console, the lifecycle); everything else stays in the context of the host it was
    called on. Switching back restores the caller's workspace (django-tenants'
    ``schema_context``), so the context never leaks past the block.
    """
    with schema_context(get_public_schema_name()):
        yield
