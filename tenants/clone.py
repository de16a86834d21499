"""django-tenants' ``clone_schema()``, with its index lookups made independent of the number of
workspaces.

Invariant: the function installed in the database is django-tenants' own, with exactly the
statements in :data:`INDEX_LOOKUPS` replaced, and the replacements find the same indexes. The
originals match index names through the ``pg_indexes`` view, filtered by schema and table name:
the view joins pg_class twice and pg_namespace, and the self-join of it alone took 956 ms of a
2.3 s clone with a few hundred workspaces, growing with each (pg_class has no index by schema,
so the planner ends up reading it whole). The replacements go from the table's oid
(``to_regclass``, an index lookup) to its indexes through ``pg_index``'s index on the table.

Cloning is on the owner's side only: it fills the pool of ready spares
(``services.ready_spares_fill``), and the provisioning function falls back to it when the pool
is empty. A django-tenants upgrade that changes these statements fails loudly here
(:func:`clone_function_sql`) rather than installing the slow originals silently.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import connection
from django_tenants.clone import CLONE_SCHEMA_FUNCTION, CloneSchema

# One table's indexes, by name and definition, found from the table's oid.
_INDEXES_OF = (
    "(SELECT i.relname AS indexname, pg_get_indexdef(i.oid) AS indexdef"
    " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
    " WHERE x.indrelid = to_regclass(quote_ident({schema}) || '.' || quote_ident(tblname)))"
)

# (an original statement, whitespace-insensitive, found at least once; its replacement)
# S608: no value in any of them, only PL/pgSQL variables of the function.
INDEX_LOOKUPS = (
    # After CREATE TABLE ... (LIKE ... INCLUDING ALL): which new index is which old one.
    (
        "SELECT old.indexname, new.indexname FROM pg_indexes old, pg_indexes new"
        " WHERE old.schemaname = source_schema AND new.schemaname = dest_schema"
        " AND old.tablename = new.tablename AND old.tablename = tblname"
        " AND old.indexname <> new.indexname"
        " AND regexp_replace(old.indexdef, E'.*USING','')"
        " = regexp_replace(new.indexdef, E'.*USING','')"
        " ORDER BY old.indexdef, new.indexdef",
        "SELECT old.indexname, new.indexname"  # noqa: S608
        f" FROM {_INDEXES_OF.format(schema='source_schema')} old,"
        f" {_INDEXES_OF.format(schema='dest_schema')} new"
        " WHERE old.indexname <> new.indexname"
        " AND regexp_replace(old.indexdef, E'.*USING','')"
        " = regexp_replace(new.indexdef, E'.*USING','')"
        " ORDER BY old.indexdef, new.indexdef",
    ),
    # Before renaming one: the new name is the table's, the old one is still free (in two
    # places, one spelling the schema with quote_ident).
    *(
        (
            f"SELECT count(*) INTO cnt FROM pg_indexes WHERE schemaname = {schema}"  # noqa: S608
            " AND tablename = tblname AND indexname = ix_new_name AND ix_old_name <> ix_new_name"
            f" AND NOT EXISTS (SELECT TRUE FROM pg_indexes WHERE schemaname = {schema}"
            " AND tablename = tblname AND indexname = ix_old_name);",
            "SELECT count(*) INTO cnt"  # noqa: S608
            f" FROM {_INDEXES_OF.format(schema='dest_schema')} mine"
            " WHERE mine.indexname = ix_new_name AND ix_old_name <> ix_new_name AND"
            " to_regclass(quote_ident(dest_schema) || '.' || quote_ident(ix_old_name)) IS NULL;",
        )
        for schema in ("dest_schema", "quote_ident(dest_schema)")
    ),
)


def _pattern(statement: str) -> re.Pattern[str]:
    return re.compile(r"\s+".join(re.escape(token) for token in statement.split()))


def clone_function_sql() -> str:
    """django-tenants' ``clone_schema()`` definition with the lookups above replaced."""
    sql = CLONE_SCHEMA_FUNCTION
    for original, replacement in INDEX_LOOKUPS:
        sql, found = _pattern(original).subn(replacement.replace("\\", "\\\\"), sql)
        if not found:
            raise RuntimeError(
                "django-tenants' clone_schema() changed: review tenants/clone.py INDEX_LOOKUPS"
            )
    if "pg_indexes old, pg_indexes new" in sql:
        raise RuntimeError("django-tenants' clone_schema() still matches indexes by pg_indexes")
    return sql


class SchemaCloner(CloneSchema):
    """``CloneSchema`` installing the function of :func:`clone_function_sql`."""

    def _create_clone_schema_function(self):
        db_user = settings.DATABASES["default"].get("USER", None) or "postgres"
        with connection.cursor() as cursor:
            cursor.execute(clone_function_sql().format(db_user=db_user))
