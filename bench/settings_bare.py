"""bench_gate, baseline: the development settings with the stack taken away.

The same apps and templates as the full stack (so the page is the same), but the plain
``postgresql`` backend (no django-tenants search_path, no workspace role), no middleware at
all, and one context processor of constants (``bench.bare.context``) instead of the
workspace, support, messages and auth ones. It connects as the OWNER to a database of its own
(it creates its own table there; plain Django has no runtime/owner split to measure).
"""

from config.env import env
from config.settings.local import *  # noqa: F403

DEBUG = False
DATABASES = {
    "default": {
        **DATABASES.get("owner", DATABASES["default"]),  # noqa: F405
        "ENGINE": "django.db.backends.postgresql",
        "NAME": env("BENCH_DATABASE"),
        "TEST": {},
    }
}
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.bare.views"
TEMPLATES[0]["OPTIONS"]["context_processors"] = [  # noqa: F405
    "django.template.context_processors.request",
    "django.template.context_processors.csrf",
    "bench.bare.context.workspace",
]
for _alias, _cache in CACHES.items():  # noqa: F405
    _cache["KEY_PREFIX"] = f"bench-{DATABASES['default']['NAME']}-{_alias}"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
