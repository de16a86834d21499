"""Row-level security on memberships and invitations (tenants/rls.py)."""

from django.db import migrations

from tenants.rls import enable_row_level_security


class Migration(migrations.Migration):
    dependencies = [
        ("rbac", "0002_invitation"),
        ("tenants", "0005_workspace_context_and_domain_rls"),
    ]

    operations = [
        enable_row_level_security("rbac_membership"),
        enable_row_level_security("rbac_invitation"),
    ]
