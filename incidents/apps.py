from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """The status page, health checks and incidents (public schema; docs/status.md)."""

    name = "incidents"
    default_auto_field = "django.db.models.BigAutoField"
