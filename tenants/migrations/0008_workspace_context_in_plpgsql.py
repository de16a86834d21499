"""The workspace context function in PL/pgSQL: the same answers, with its plans kept for the
session instead of planned on every call (tenants/rls.py)."""

from django.db import migrations

from tenants.rls import WORKSPACE_CONTEXT_FUNCTION_PLPGSQL, WORKSPACE_CONTEXT_FUNCTION_SQL


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0007_unsent_tasks"),
    ]

    operations = [
        migrations.RunSQL(WORKSPACE_CONTEXT_FUNCTION_PLPGSQL, WORKSPACE_CONTEXT_FUNCTION_SQL),
    ]
