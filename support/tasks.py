"""Beat job: grants that ran out by themselves are audited and emailed once."""

from __future__ import annotations

from celery import shared_task

from .services import grants_expire


@shared_task
def support_grants_expire() -> int:
    # Grants live in the public schema and name their workspace; each event is written to
    # that workspace's stream explicitly (audit_event_record(stream=tenant)).
    return grants_expire()
