"""Row-level security on the per-workspace account rows (tenants/rls.py).

Tracked sessions, sign-in hand-offs, password-reset tokens and emailed action codes are each
bound to one workspace host.
"""

from django.db import migrations

from tenants.rls import enable_row_level_security


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_totp_device_parameters"),
        ("tenants", "0005_workspace_context_and_domain_rls"),
    ]

    operations = [
        enable_row_level_security("accounts_usersession"),
        enable_row_level_security("accounts_signinhandoff"),
        enable_row_level_security("accounts_passwordresettoken"),
        enable_row_level_security("accounts_actioncode"),
    ]
