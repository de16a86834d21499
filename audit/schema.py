"""The database half of append-only: the triggers' names, and a check that a schema has them.

Invariant: in every schema that holds ``audit_auditevent`` (public, the template, each
workspace), UPDATE and DELETE of a row and TRUNCATE of the table raise an error for every
role; only disabling or dropping the trigger (DDL, which the table's owner and superusers can
do, and which shows in the server log) gets past it. The triggers are created by migration
``audit.0002_append_only``; provisioning checks that a cloned workspace carries them.
"""

from __future__ import annotations

from django.db import connection

TABLE = "audit_auditevent"
ROW_TRIGGER = "audit_auditevent_append_only"
TRUNCATE_TRIGGER = "audit_auditevent_no_truncate"
REFUSED_MESSAGE = "audit events are append-only"


def append_only_triggers_present(schema_name: str) -> bool:
    """True when both triggers exist and are enabled on ``schema_name``'s audit table."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM pg_trigger t
              JOIN pg_class c ON c.oid = t.tgrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = %s AND c.relname = %s AND t.tgname IN (%s, %s)
               AND t.tgenabled <> 'D'
            """,
            [schema_name, TABLE, ROW_TRIGGER, TRUNCATE_TRIGGER],
        )
        return cursor.fetchone()[0] == 2


def append_only_triggers_missing(schema_name: str) -> str | None:
    """The provisioning check (declared on AuditConfig): the problem, or None."""
    if append_only_triggers_present(schema_name):
        return None
    return f"schema {schema_name} lacks the audit append-only triggers"
