from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit stream"

    # Every provisioned workspace schema must carry the append-only triggers (tenants.services).
    schema_checks = ("audit.schema.append_only_triggers_missing",)

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the audit key checks
        from .registry import register_audited_models

        register_audited_models()
