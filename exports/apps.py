from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the worker-start scratch sweep
