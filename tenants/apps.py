from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Workspaces"
    # Tasks the broker refuses are kept in PostgreSQL (kernel.tasks.QueuedTask asks for this).
    unsent_task_keeper = "tenants.outbox.unsent_task_keep"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects host-cache invalidation
