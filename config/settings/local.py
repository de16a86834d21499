"""Development: embedded services, console email; DEBUG off unless DJANGO_DEBUG=1."""

from config import embedded

embedded.export_service_urls()

from config import devkeys  # noqa: E402

devkeys.export_development_audit_keys()

from .base import *  # noqa: E402, F403

# DEBUG stays off, as in production: no technical 404 listing every URL, no traceback pages.
# DJANGO_DEBUG=1 turns Django's debug pages on for the developer who asks (base.py reads it).
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
# runserver serves static files only with DEBUG on; WhiteNoise (as under gunicorn) serves
# them straight from the source folders, picking up edits without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
