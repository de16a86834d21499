from django.apps import AppConfig


class SubprocessorsConfig(AppConfig):
    """The public list of sub-processors, its dated changes and the owners' notices of them.

    Platform data (public schema): platform staff change it from the support console or the
    ``subprocessor`` command; the public host shows it at /security/sub-processors/."""

    name = "subprocessors"
    verbose_name = "Sub-processors"
