"""The database-side workspace context function, and row-level security on Domain.

See tenants/rls.py for what the context is and docs/security-model.md for what it stops.
"""

from django.db import migrations

from tenants.rls import (
    DROP_WORKSPACE_CONTEXT_FUNCTION_SQL,
    WORKSPACE_CONTEXT_BY_SEARCH_PATH_SQL,
    enable_row_level_security,
)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0004_lifecycle_and_billing"),
    ]

    operations = [
        migrations.RunSQL(WORKSPACE_CONTEXT_BY_SEARCH_PATH_SQL, DROP_WORKSPACE_CONTEXT_FUNCTION_SQL),
        enable_row_level_security("tenants_domain"),
    ]
