"""Row-level security on support access rows (tenants/rls.py).

A hand-off has no workspace key of its own: it is visible where its impersonation session is,
and that table has the policy too.
"""

from django.db import migrations

from tenants.rls import enable_row_level_security

HANDOFF_CONDITION = (
    "EXISTS (SELECT 1 FROM public.support_impersonationsession AS session "
    "WHERE session.id = session_id)"
)


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0002_impersonation_grant_restrict"),
        ("tenants", "0005_workspace_context_and_domain_rls"),
    ]

    operations = [
        enable_row_level_security("support_supportaccesspolicy"),
        enable_row_level_security("support_supportaccessgrant"),
        enable_row_level_security("support_impersonationsession"),
        enable_row_level_security("support_impersonationhandoff", HANDOFF_CONDITION),
    ]
