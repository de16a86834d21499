from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Workspaces"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects host-cache invalidation
