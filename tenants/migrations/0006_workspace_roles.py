"""Per-workspace database roles: the name function, and the context function held to the role.

See tenants/workspace_roles.py for the roles and tenants/rls.py for the context.
"""

from django.db import migrations

from tenants.rls import WORKSPACE_CONTEXT_BY_SEARCH_PATH_SQL, WORKSPACE_CONTEXT_FUNCTION_SQL
from tenants.workspace_roles import (
    DROP_WORKSPACE_ROLE_FUNCTION_SQL,
    WORKSPACE_ROLE_FUNCTION_SQL,
)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0005_workspace_context_and_domain_rls"),
    ]

    operations = [
        migrations.RunSQL(WORKSPACE_ROLE_FUNCTION_SQL, DROP_WORKSPACE_ROLE_FUNCTION_SQL),
        migrations.RunSQL(WORKSPACE_CONTEXT_FUNCTION_SQL, WORKSPACE_CONTEXT_BY_SEARCH_PATH_SQL),
    ]
