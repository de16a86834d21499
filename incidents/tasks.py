"""The worker heartbeat: beat schedules it every minute (config CELERY_BEAT_SCHEDULE); the
status page reads its age (incidents/health.py). Public schema only: no tenant is touched."""

from __future__ import annotations

from celery import shared_task
from django_tenants.utils import get_public_schema_name, schema_context

from .services import worker_heartbeat_record


@shared_task(name="incidents.tasks.worker_heartbeat")
def worker_heartbeat() -> None:
    with schema_context(get_public_schema_name()):  # set explicitly, as every task does
        worker_heartbeat_record()
