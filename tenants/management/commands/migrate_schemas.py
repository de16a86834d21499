"""``migrate_schemas`` that also keeps the template schema and the public tenant current.

The template must be migrated by the same command that migrates every tenant (design.md):
otherwise new workspaces would be cloned from a stale template.

Migrations are DDL, so they run under the OWNER role (``tenants.roles.owner_credentials``)
whenever the process has its URL, and end by granting the runtime role exactly its
privileges on every schema (``tenants.roles.runtime_privileges_apply``).
"""

from django.conf import settings
from django.db import connection
from django_tenants.management.commands.migrate_schemas import Command as TenantsMigrateCommand


class Command(TenantsMigrateCommand):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--no-template",
            action="store_false",
            dest="migrate_template",
            default=True,
            help="Do not migrate the template schema (used internally while provisioning).",
        )

    def handle(self, *args, **options):
        from tenants.roles import owner_configured, owner_credentials

        if not owner_configured():
            self._handle(*args, **options)
            return
        with owner_credentials():
            self._handle(*args, **options)

    def _handle(self, *args, **options):
        migrate_template = options.pop("migrate_template", True)
        super().handle(*args, **options)
        if self.sync_public:
            from tenants.services import public_tenant_ensure

            connection.set_schema_to_public()
            public_tenant_ensure()
        if migrate_template and self.sync_tenant and not self.schema_name_is_specific(options):
            from tenants.services import template_ensure_current

            template_ensure_current(verbosity=options.get("verbosity", 1))
        if not self.schema_name_is_specific(options):
            from tenants.roles import runtime_privileges_apply

            connection.set_schema_to_public()
            runtime_privileges_apply()

    @staticmethod
    def schema_name_is_specific(options) -> bool:
        name = options.get("schema_name")
        return bool(name) and name != settings.PUBLIC_SCHEMA_NAME
