"""Row-level security on the rows naming the workspaces an incident affects (tenants/rls.py):
in a workspace's context only that workspace's own row is visible, so no page of it can learn
which other workspaces were affected."""

from django.db import migrations

from tenants.rls import enable_row_level_security


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
        ("tenants", "0005_workspace_context_and_domain_rls"),
    ]

    operations = [enable_row_level_security("incidents_incidentworkspace")]
