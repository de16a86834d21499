"""The one place that reads the process environment.

Invariant: settings never call ``os.environ`` directly. A setting without a default is
required; a missing required setting stops start-up with a message naming it, so production
cannot boot on a forgotten secret.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

_REQUIRED = object()
#: Every variable name read through :func:`env`, so a test can compare it with docker-compose.
READ_VARIABLES: set[str] = set()


def _to_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {raw!r}")


def _to_list(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


CASTS: dict[type | str, Callable[[str], Any]] = {
    str: str,
    int: int,
    bool: _to_bool,
    list: _to_list,
}


def env(name: str, default: Any = _REQUIRED, cast: type | str = str) -> Any:
    """Return the variable ``name`` converted by ``cast``; raise if required and missing."""
    READ_VARIABLES.add(name)
    raw = os.environ.get(name)
    if raw is None or raw == "":
        if default is _REQUIRED:
            raise ImproperlyConfigured(
                f"The environment variable {name} is required and is not set."
            )
        return default
    try:
        return CASTS[cast](raw)
    except (ValueError, KeyError) as error:
        raise ImproperlyConfigured(f"The environment variable {name} is invalid: {error}") from None


def is_set(name: str) -> bool:
    """True when ``name`` holds a non-empty value (recorded like :func:`env`)."""
    READ_VARIABLES.add(name)
    return bool(os.environ.get(name))
