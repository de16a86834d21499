"""Beat job: each owner's notice of a sub-processor change is emailed exactly once."""

from __future__ import annotations

from celery import shared_task
from django.db import connection

from kernel.context import system_audit_context

from .services import notices_send


@shared_task
def subprocessor_notices_send() -> int:
    # Notices, changes and users are public-schema rows; nothing here reads a workspace's
    # schema, so the task stays on public (the worker's default) and names no tenant.
    connection.set_schema_to_public()  # type: ignore[attr-defined]  # django-tenants
    with system_audit_context(request_id=""):
        return notices_send()
