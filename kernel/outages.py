"""How a process treats a dependency that stopped answering: Redis as the cache, Redis as the
Celery broker.

Invariant: an outage is logged once when this process first meets it (one WARNING line, no
traceback) and once when it ends (INFO). In between, callers skip the dependency and take
their fallback at once (a circuit breaker), probing it again at most every
``RETRY_SECONDS``, so a Redis that hangs costs one socket timeout per second per process,
not one per request. The state is per process and per server: every cache alias on one Redis
shares one outage. Nothing here raises; each caller decides what its fallback is (a cache
miss: ``kernel.cache``; a task kept in PostgreSQL: ``kernel.tasks``).
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit

logger = logging.getLogger("kernel.outages")

# How long callers skip a dependency after it failed before they try it again.
RETRY_SECONDS = 1.0


def server_shown(url: str) -> str:
    """``url`` without credentials or query (where a password may travel), for the logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def error_shown(error: BaseException) -> str:
    # Connection errors name the server and the reason ("Error 111 connecting to ...
    # Connection refused."), never credentials; cut anyway so a log line stays a line.
    return f"{type(error).__name__}: {str(error)[:160]}"


class Outage:
    """Whether one server of one dependency answers, as this process last saw it."""

    def __init__(self, dependency: str, server: str, fallback: str) -> None:
        self.dependency = dependency
        self.server = server_shown(server)
        self.fallback = fallback
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0

    @property
    def is_down(self) -> bool:
        return self._down_since is not None

    def should_try(self) -> bool:
        """False while the breaker is open: take the fallback without waiting."""
        return self._down_since is None or time.monotonic() >= self._retry_at

    def failed(self, error: BaseException) -> None:
        with self._lock:
            now = time.monotonic()
            self._retry_at = now + RETRY_SECONDS
            if self._down_since is not None:
                return
            self._down_since = now
        logger.warning(
            "%s unreachable at %s (%s); %s until it answers again",
            self.dependency,
            self.server,
            error_shown(error),
            self.fallback,
        )

    def answered(self) -> bool:
        """Record that the server answered; True when that ends an outage."""
        if self._down_since is None:
            return False
        with self._lock:
            if self._down_since is None:
                return False
            lasted = time.monotonic() - self._down_since
            self._down_since = None
        logger.info("%s answers again at %s after %.0f s", self.dependency, self.server, lasted)
        return True

    def retry_now(self) -> None:
        self._retry_at = 0.0


_outages: dict[tuple[str, str], Outage] = {}
_registry_lock = threading.Lock()


def outage_for(dependency: str, server: str, *, fallback: str) -> Outage:
    """The one ``Outage`` of this process for ``dependency`` at ``server``."""
    key = (dependency, server)
    found = _outages.get(key)
    if found is None:
        with _registry_lock:
            found = _outages.setdefault(key, Outage(dependency, server, fallback))
    return found


def outages_retry_now() -> None:
    """Let the next call probe every dependency at once (tests; after a deliberate restart)."""
    for outage in list(_outages.values()):
        outage.retry_now()


def outages_forget() -> None:
    """Start again as if every dependency had always answered (tests)."""
    with _registry_lock:
        _outages.clear()
