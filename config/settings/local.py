"""Development: embedded services, console email, debug pages."""

from config import embedded

embedded.export_service_urls()

from config import devkeys  # noqa: E402

devkeys.export_development_audit_keys()

from config.env import env  # noqa: E402

from .base import *  # noqa: E402, F403

DEBUG = env("DJANGO_DEBUG", True, bool)
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
# Static files come from runserver / the test client directly; WhiteNoise is for gunicorn.
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise.")]  # noqa: F405
