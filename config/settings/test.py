"""Tests: the embedded services, fast password hashing, in-memory email."""

from config import embedded

embedded.export_service_urls()

import os  # noqa: E402

# Fixed, test-only audit keys (not secrets: they protect nothing outside the test database),
# so a test run never depends on the checkout's generated development keys. Two chain keys:
# "test-old" is the rotated-out one whose events must keep verifying.
os.environ.setdefault(
    "AUDIT_CHAIN_KEYS",
    "test-old:dGVzdC1vbmx5LWF1ZGl0LWNoYWluLWtleS1vbGQtMDAwMDA=,"
    "test-1:dGVzdC1vbmx5LWF1ZGl0LWNoYWluLWtleS1jdXJyZW50LTA=",
)
os.environ.setdefault("AUDIT_CHAIN_KEY_ID", "test-1")
os.environ.setdefault("AUDIT_ANCHOR_SIGNING_KEY", "dGVzdC1vbmx5LWVkMjU1MTktc2lnbmluZy1rZXktMDA=")

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
# Static files as `make run` serves them (local.py): WhiteNoise from the source folders, so a
# test can fetch a page's stylesheet with DEBUG off.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Concurrent test runs (several developers, or CI beside `make run`) must not share a test
# database or flush each other's cache keys.
DATABASES["default"]["TEST"] = {"NAME": f"test_shop_{os.getpid()}"}  # noqa: F405
# The owner role creates, migrates and drops the test database (conftest.py swaps the default
# alias to the owner's credentials for exactly that); the tests then run as the runtime role.
