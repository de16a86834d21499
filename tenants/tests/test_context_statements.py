"""Which statements the backend vouches for: those after which it does not send the workspace
context again (tenants/postgresql_backend/base.py, ``statement_keeps_context``). Only plain
ORM statements qualify; anything that could change a setting, however it is spelled, does
not, so the next cursor sends the context again (docs/security-model.md)."""

from __future__ import annotations

import pytest

from tenants.postgresql_backend.base import statement_keeps_context


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT COUNT(*) AS "__count" FROM "shop_company"',
        'SELECT "shop_company"."id" FROM "shop_company" WHERE UPPER("shop_company"."name"::text) '
        'LIKE UPPER(%s) ORDER BY "shop_company"."name" ASC LIMIT 25',
        'INSERT INTO "shop_company" ("name", "email") VALUES (%s, %s) RETURNING "shop_company"."id"',  # noqa: E501
        'UPDATE "shop_company" SET "phone" = %s WHERE "shop_company"."id" = %s',
        'DELETE FROM "shop_company" WHERE "shop_company"."id" IN (%s, %s)',
        'SELECT (1) AS "a" FROM "rbac_membership" WHERE EXISTS(SELECT 1 FROM "x" WHERE "y" = %s)',
        'SELECT MAX(LEAST(("s"."started_at" + %s), "g"."ends_at")) AS "until" FROM "s"',
        'SAVEPOINT "s140_x1"',
        'RELEASE SAVEPOINT "s140_x1"',
    ],
)
def test_plain_orm_statements_keep_the_context(sql):
    assert statement_keeps_context(sql) is True


@pytest.mark.parametrize(
    "sql",
    [
        "SET ROLE NONE",
        "RESET ROLE",
        "set search_path = public",
        "DISCARD ALL",
        "RESET ALL",
        "BEGIN",
        "ROLLBACK",
        "ROLLBACK TO SAVEPOINT x",
        "COPY (SELECT 1) TO STDOUT",
        "DO $$ BEGIN PERFORM 1; END $$",
        "CALL something()",
        "PREPARE p AS SELECT 1",
        "EXECUTE p",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "SELECT 1; SET ROLE NONE",
        "SELECT set_config(%s, %s, false)",
        "SELECT SET_CONFIG(%s, %s, false)",
        "SELECT pg_catalog.set_config(%s, %s, false)",
        'SELECT "set_config"(%s, %s, false)',
        "SELECT set_config\n(%s, %s, false)",
        "SELECT set_config/**/(%s, %s, false)",
        "SELECT 1 -- comment",
        'SELECT U&"\\0073et_config"(%s, %s, false)',
        "SELECT query_to_xml(%s, true, false, %s)",
        "SELECT ts_stat(%s)",
        "SELECT 'literal'",
        "SELECT E'\\x41'",
        "SELECT public.shopsafe_workspace_id()",
        "SELECT dblink_exec(%s)",
    ],
)
def test_anything_that_may_change_a_setting_is_not_vouched_for(sql):
    assert statement_keeps_context(sql) is False
