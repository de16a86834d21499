"""Owners' notices name users across every workspace: only the public context (the console,
the beat task) reads or writes them, never a workspace's context (tenants/rls.py)."""

from django.db import migrations

from tenants.rls import PUBLIC_CONTEXT_ONLY, enable_row_level_security


class Migration(migrations.Migration):
    dependencies = [
        ("subprocessors", "0002_seed_current_list"),
        ("tenants", "0007_unsent_tasks"),
    ]

    operations = [
        enable_row_level_security("subprocessors_subprocessornotice", PUBLIC_CONTEXT_ONLY),
    ]
