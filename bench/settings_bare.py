"""bench_gate, baseline: plain Django, plain PostgreSQL backend, no tenancy or middleware."""

from config import embedded

embedded.export_service_urls()

from config import devkeys  # noqa: E402

devkeys.export_development_audit_keys()  # base settings require the audit keys

from config.env import env  # noqa: E402
from config.settings.base import (  # noqa: E402
    BASE_DIR,
    DATABASE_OWNER_URL,
    DATABASE_URL,
    _database_from_url,
)

SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = ["bench.localhost"]
INSTALLED_APPS = ["bench.bare"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.bare.views"
DATABASES = {
    "default": {
        # The baseline creates its own table, so it connects as the owner role where there is
        # one (plain Django has no runtime/owner split to measure).
        **_database_from_url(DATABASE_OWNER_URL or DATABASE_URL),
        "ENGINE": "django.db.backends.postgresql",
        "NAME": env("BENCH_DATABASE"),
    }
}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "bench" / "bare" / "templates"],
    }
]
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
