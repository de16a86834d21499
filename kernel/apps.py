from django.apps import AppConfig


class KernelConfig(AppConfig):
    """Shared plumbing that knows no app: the capability vocabulary, the actor context, the
    task base class, email rendering and view helpers. It has no models."""

    name = "kernel"
    verbose_name = "Kernel"
