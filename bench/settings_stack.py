"""bench_gate, full stack: the development settings on a throw-away database, DEBUG off."""

from config.env import env
from config.settings.local import *  # noqa: F403

DEBUG = False
DATABASES["default"]["NAME"] = env("BENCH_DATABASE")  # noqa: F405
if "owner" in DATABASES:  # noqa: F405 - migrations and provisioning go to the same database
    DATABASES["owner"]["NAME"] = DATABASES["default"]["NAME"]  # noqa: F405
for _alias, _cache in CACHES.items():  # noqa: F405
    _cache["KEY_PREFIX"] = f"bench-{DATABASES['default']['NAME']}-{_alias}"  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
