"""Tests: the embedded services, fast password hashing, in-memory email."""

from config import embedded

embedded.export_service_urls()

import os  # noqa: E402

from .base import *  # noqa: E402, F403

DEBUG = False
# Same argon2id hasher as production, with cheap parameters so the suite stays fast.
ARGON2_TIME_COST = 1
ARGON2_MEMORY_COST_KIB = 1024
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
# Each test run gets its own key space in the shared embedded Redis.
for _alias, _cache in CACHES.items():  # noqa: F405
    _cache["KEY_PREFIX"] = f"test-{os.getpid()}-{_alias}"
TENANT_HOST_CACHE_SECONDS = 300
# Static files come from runserver / the test client directly; WhiteNoise is for gunicorn.
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise.")]  # noqa: F405
# Concurrent test runs (several developers, or CI beside `make run`) must not share a test
# database or flush each other's cache keys.
DATABASES["default"]["TEST"] = {"NAME": f"test_shop_{os.getpid()}"}  # noqa: F405
# The owner role creates, migrates and drops the test database (conftest.py swaps the default
# alias to the owner's credentials for exactly that); the tests then run as the runtime role.
