"""A real Celery worker, fed through the real Redis broker the settings point at.

The rest of the suite runs tasks eagerly; this test proves the path eager mode skips: JSON
serialisation of the tenant argument, publishing to Redis, a worker consuming it and
TenantTask switching the worker's own connection to the workspace. It uses the embedded
Redis from the test settings (or REDIS_URL when a developer sets one), never a fixed host.

No ``db`` fixture on purpose: Celery's Django fix-up closes the calling thread's database
connection when a worker starts, which would break a test transaction. The worker thread
reads the committed, session-seeded workspace instead.
"""

from __future__ import annotations

import threading
import uuid

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection

from config.celery import app
from kernel.tasks import TenantTask

seen: dict[str, dict] = {}
done = threading.Event()


@app.task(base=TenantTask, bind=True, name="tests.broker.record_schema")
def record_schema_in_worker(self, *, tenant_schema: str, token: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        search_path = cursor.fetchone()[0]
    seen[token] = {
        "schema": connection.schema_name,
        "tenant": self.tenant.slug,
        "search_path": search_path,
        "thread": threading.current_thread().name,
        "eager": bool(self.request.is_eager),
    }
    done.set()


@pytest.fixture
def worker_queue(django_db_blocker):
    """A real (non-eager) worker on a queue of its own, so no other worker on the same Redis
    (a developer's `make run`) can take the test's message."""
    queue = f"test-broker-{uuid.uuid4().hex}"
    saved = {
        "task_always_eager": app.conf.task_always_eager,
        "worker_hijack_root_logger": app.conf.worker_hijack_root_logger,
    }
    app.conf.task_always_eager = False
    app.conf.worker_hijack_root_logger = False  # leave pytest's log capture alone
    try:
        with (
            django_db_blocker.unblock(),
            start_worker(app, pool="solo", perform_ping_check=False, queues=[queue]),
        ):
            yield queue
    finally:
        app.conf.update(saved)
        with app.connection_for_write() as broker:
            client = broker.default_channel.client
            client.delete(queue, f"_kombu.binding.{queue}")


def test_real_worker_runs_tenant_task_from_the_redis_broker(worker_queue):
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    token = uuid.uuid4().hex
    done.clear()

    record_schema_in_worker.apply_async(
        kwargs={"tenant_schema": "ws_acme", "token": token}, queue=worker_queue
    )

    assert done.wait(timeout=20), "the worker did not run the task within 20 seconds"
    assert seen[token]["schema"] == "ws_acme"
    assert seen[token]["tenant"] == "acme"
    assert seen[token]["search_path"] == "ws_acme, public"
    assert seen[token]["eager"] is False
    assert seen[token]["thread"] != threading.current_thread().name
