from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit stream"

    def ready(self) -> None:
        from .registry import register_audited_models

        register_audited_models()
