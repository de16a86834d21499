"""Cloning the template (the owner's refill of ready spares): the same tables, indexes by the
same names and definitions, the same constraints and triggers, found through lookups that do
not read the whole catalog."""

from __future__ import annotations

import pytest
from django.conf import settings
from django_tenants.clone import CLONE_SCHEMA_FUNCTION

from tenants.roles import READY_PREFIX

pytestmark = pytest.mark.django_db

# Indexes by name and definition; those behind UNIQUE constraints are left out, because
# clone_schema() lets PostgreSQL name those constraints itself (django-tenants' behaviour
# before and after the change here; UNIQUE_DEFINITIONS still compares what they index).
INDEXES = (
    "SELECT c.relname, i.relname, replace(pg_get_indexdef(i.oid), n.nspname || '.', '')"
    " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
    " JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = %s AND NOT EXISTS (SELECT FROM pg_constraint k"
    " WHERE k.conindid = i.oid AND k.contype = 'u') ORDER BY 1, 2"
)
UNIQUE_DEFINITIONS = (
    "SELECT c.relname, pg_get_constraintdef(k.oid) FROM pg_constraint k"
    " JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = %s AND k.contype = 'u' ORDER BY 1, 2"
)
CONSTRAINTS = (
    "SELECT conname, contype FROM pg_constraint t JOIN pg_namespace n ON n.oid = t.connamespace"
    " WHERE n.nspname = %s AND contype <> 'u' ORDER BY 1"
)
TRIGGERS = (
    "SELECT c.relname, t.tgname, replace(pg_get_triggerdef(t.oid), n.nspname || '.', '')"
    " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = %s AND NOT t.tgisinternal ORDER BY 1, 2"
)


def _spare(owner_sql) -> str:
    (name,) = owner_sql.execute(
        "SELECT min(nspname) FROM pg_namespace WHERE nspname LIKE %s",
        [READY_PREFIX.replace("_", "\\_") + "%"],
    ).fetchone()
    assert name  # the test session filled the pool with the cloner
    return name


@pytest.mark.parametrize("query", [INDEXES, UNIQUE_DEFINITIONS, CONSTRAINTS, TRIGGERS])
def test_a_spare_is_the_template_index_for_index_and_name_for_name(owner_sql, query):
    template = owner_sql.execute(query, [settings.TENANT_BASE_SCHEMA]).fetchall()
    spare = owner_sql.execute(query, [_spare(owner_sql)]).fetchall()
    assert template
    assert spare == template


def test_the_installed_clone_function_matches_indexes_without_the_pg_indexes_self_join(owner_sql):
    (source,) = owner_sql.execute(
        "SELECT prosrc FROM pg_proc WHERE proname = 'clone_schema'"
        " AND pronamespace = 'public'::regnamespace"
    ).fetchone()
    assert "pg_indexes old, pg_indexes new" in CLONE_SCHEMA_FUNCTION  # what it replaces
    assert "pg_indexes old, pg_indexes new" not in source
    assert "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid" in source
