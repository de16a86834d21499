"""A Redis cache that turns an unreachable Redis into misses and no-ops.

Invariant: a cache is an optimisation in front of PostgreSQL, so no read or write through
``OutageTolerantRedisCache`` raises because Redis is stopped, unreachable or hanging: a read
is a miss (the caller goes to PostgreSQL), a write is skipped, and the outage is logged once
(``kernel.outages``, which also stops asking a Redis that hangs for a second at a time). A
delete that could not reach Redis is remembered and replayed before anything else once Redis
answers again, so an invalidation lost during a partition cannot leave a stale entry behind
(a process that dies first leaves it to expire: ``TENANT_HOST_CACHE_SECONDS`` at most for the
host lookup).

Never put a counter that must hold on this backend: with Redis down, ``add`` is False and
``incr`` finds no key, so a rate limit kept here would let everything through. The rate
limiter keeps its counters in PostgreSQL for that reason (``accounts/throttle/``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from .outages import Outage, outage_for

# Invalidations remembered per server while it is unreachable; past this, the oldest are
# left to expire on their own.
LOST_DELETES_KEPT = 10_000

_lost_deletes: dict[str, dict[str, None]] = {}  # server -> keys, oldest first
_lost_deletes_lock = threading.Lock()


def _redis_down_errors() -> tuple[type[BaseException], ...]:
    import redis

    # ConnectionError covers refused, reset and "loading"; TimeoutError a Redis that hangs.
    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class OutageTolerantRedisCacheClient(RedisCacheClient):
    def __init__(self, servers, **options) -> None:
        super().__init__(servers, **options)
        self._server = servers[0]  # where writes go, and so where an outage matters
        self._outage: Outage = outage_for(
            "Redis cache", self._server, fallback="reading from PostgreSQL"
        )
        self._down_errors = _redis_down_errors()

    def _call(self, fallback: Any, operation: Callable[[], Any], lost: Iterable = ()) -> Any:
        if not self._outage.should_try():
            self._remember_lost(lost)
            return fallback
        try:
            if self._outage.is_down:
                self._replay_lost_deletes()  # before anything reads an entry they dropped
            result = operation()
        except self._down_errors as error:
            self._outage.failed(error)
            self._remember_lost(lost)
            return fallback
        self._outage.answered()
        return result

    def _remember_lost(self, keys: Iterable) -> None:
        keys = list(keys)
        if not keys:
            return
        with _lost_deletes_lock:
            lost = _lost_deletes.setdefault(self._server, {})
            for key in keys:
                lost.pop(key, None)
                lost[key] = None
            while len(lost) > LOST_DELETES_KEPT:
                del lost[next(iter(lost))]

    def _replay_lost_deletes(self) -> None:
        with _lost_deletes_lock:
            keys = list(_lost_deletes.pop(self._server, {}))
        if not keys:
            return
        try:
            RedisCacheClient.delete_many(self, keys)
        except self._down_errors:
            self._remember_lost(keys)
            raise

    # Each operation is Django's own, called through _call with what it means when Redis is
    # down: a read is a miss, a write is skipped, a delete is remembered for later.
    def add(self, key, value, timeout):
        return self._call(False, partial(RedisCacheClient.add, self, key, value, timeout))

    def get(self, key, default):
        return self._call(default, partial(RedisCacheClient.get, self, key, default))

    def set(self, key, value, timeout):
        return self._call(None, partial(RedisCacheClient.set, self, key, value, timeout))

    def touch(self, key, timeout):
        return self._call(False, partial(RedisCacheClient.touch, self, key, timeout))

    def delete(self, key):
        return self._call(False, partial(RedisCacheClient.delete, self, key), lost=[key])

    def get_many(self, keys):
        return self._call({}, partial(RedisCacheClient.get_many, self, keys))

    def has_key(self, key):
        return self._call(False, partial(RedisCacheClient.has_key, self, key))

    def incr(self, key, delta):
        # A counter nobody can read is a key that does not exist (Django's contract for incr).
        result = self._call(None, partial(RedisCacheClient.incr, self, key, delta))
        if result is None:
            raise ValueError(f"Key '{key}' not found.")
        return result

    def set_many(self, data, timeout):
        return self._call(None, partial(RedisCacheClient.set_many, self, data, timeout))

    def delete_many(self, keys):
        keys = list(keys)
        return self._call(None, partial(RedisCacheClient.delete_many, self, keys), lost=keys)

    def clear(self):
        return self._call(False, partial(RedisCacheClient.clear, self))


class OutageTolerantRedisCache(RedisCache):
    """Django's ``RedisCache``, with misses and no-ops instead of errors while Redis is down."""

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = OutageTolerantRedisCacheClient
