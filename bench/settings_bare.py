"""bench_gate, baseline: plain Django, plain PostgreSQL backend, no tenancy or middleware."""

from config import embedded

embedded.export_service_urls()

from config.env import env  # noqa: E402
from config.settings.base import BASE_DIR, DATABASE_URL, _database_from_url  # noqa: E402

SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = ["bench.localhost"]
INSTALLED_APPS = ["bench.bare"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.bare.views"
DATABASES = {
    "default": {
        **_database_from_url(DATABASE_URL),
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
