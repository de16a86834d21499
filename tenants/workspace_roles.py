"""The database role each workspace's schema belongs to, and the name both sides derive for it.

Invariant: a runtime connection acts in workspace W's context only as W's role: the tenant
hook in the connection (``tenants.postgresql_backend``) sends ``SET ROLE`` together with
``SET search_path`` after every ``set_tenant`` (and whenever the context may have changed:
a rollback, a statement it cannot vouch for), and ``RESET ROLE`` for the public context. W's
role holds the privileges on W's schema and nothing on any other workspace's, so a statement
that names another workspace's table, in any way, is refused by PostgreSQL (42501). The
runtime login role holds no privilege on any workspace schema itself; it is a member of every
workspace role without inheriting (it may SET ROLE, nothing more), and every workspace role
inherits the public schema's privileges from the per-database group role.

Role names are cluster-wide, schemas are per database, so the name is derived from both:
``shopsafe_w_<8 hex of sha256(database)>_<16 hex of sha256(schema)>`` (36 characters, within
PostgreSQL's 63). The SQL function ``public.shopsafe_workspace_role(schema)`` (migration
tenants 0006) computes the same name; ``tenants/tests/test_workspace_roles.py`` holds the two
to each other.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

WORKSPACE_ROLE_PREFIX = "shopsafe_w_"
WORKSPACE_GROUP_PREFIX = "shopsafe_g_"


def _digest(value: str, length: int) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:length]


@lru_cache(maxsize=4096)
def workspace_role_name(database: str, schema_name: str) -> str:
    """The role a runtime connection takes in ``schema_name``'s context in ``database``."""
    return database_role_prefix(database) + _digest(schema_name, 16)


def workspace_group_name(database: str) -> str:
    """The group role every workspace role of ``database`` inherits the public schema from."""
    return f"{WORKSPACE_GROUP_PREFIX}{_digest(database, 8)}"


def database_role_prefix(database: str) -> str:
    """What every workspace role of ``database`` starts with."""
    return f"{WORKSPACE_ROLE_PREFIX}{_digest(database, 8)}_"


def database_role_pattern(database: str) -> str:
    """A LIKE pattern matching every workspace role of ``database`` (for clean-up)."""
    return _like(database_role_prefix(database))


def _like(prefix: str) -> str:
    return prefix.replace("_", "\\_") + "%"


# Workspace and group roles whose database is gone (each role's comment names its database),
# dropped members first: "w" sorts after "g", so descending order puts them first.
# The prefixes are constants of this module.
ROLES_OF_DROPPED_DATABASES_SQL = f"""
SELECT r.rolname FROM pg_roles r
JOIN pg_shdescription d ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass
WHERE (r.rolname LIKE '{_like(WORKSPACE_ROLE_PREFIX)}'
       OR r.rolname LIKE '{_like(WORKSPACE_GROUP_PREFIX)}')
  AND NOT EXISTS (
    SELECT FROM pg_database WHERE datname = substring(d.description FROM ' in database (.*)$'))
ORDER BY r.rolname DESC
"""  # noqa: S608


# The SQL side of the same derivation, and the workspace context function that row-level
# security reads (tenants/rls.py), now held to the role as well as the search_path.
WORKSPACE_ROLE_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION public.shopsafe_workspace_role(schema_name text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT '{WORKSPACE_ROLE_PREFIX}'
        || left(encode(sha256(convert_to(current_database(), 'UTF8')), 'hex'), 8) || '_'
        || left(encode(sha256(convert_to(schema_name, 'UTF8')), 'hex'), 16)
$$;
CREATE OR REPLACE FUNCTION public.shopsafe_workspace_group() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT '{WORKSPACE_GROUP_PREFIX}'
        || left(encode(sha256(convert_to(current_database(), 'UTF8')), 'hex'), 8)
$$;
"""
DROP_WORKSPACE_ROLE_FUNCTION_SQL = """
DROP FUNCTION IF EXISTS public.shopsafe_workspace_role(text);
DROP FUNCTION IF EXISTS public.shopsafe_workspace_group();
"""
