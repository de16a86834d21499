"""Reading streams in tests: what a service appended since a mark, in order."""

from __future__ import annotations

from contextlib import contextmanager

from django.db import connection, transaction
from django_tenants.utils import schema_context

from audit.models import AuditEvent


def _schema(stream) -> str:
    return stream if isinstance(stream, str) else stream.schema_name


def stream_head(stream) -> int:
    with schema_context(_schema(stream)):
        return (
            AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0
        )


def events_since(stream, sequence: int) -> list[AuditEvent]:
    with schema_context(_schema(stream)):
        return list(AuditEvent.objects.filter(sequence__gt=sequence).order_by("sequence"))


def summary(events) -> list[tuple]:
    """(event name, actor kind, actor email, target type, target label, outcome) per event."""
    return [
        (e.event_name, e.actor_kind, e.actor_email, e.target_type, e.target_label, e.outcome)
        for e in events
    ]


def fail_after(work) -> None:
    """Run ``work`` in a transaction that then fails, as a service's caller might."""
    with transaction.atomic():
        work()
        raise RuntimeError("the transaction fails after the change")


@contextmanager
def committed_workspace(slug: str, django_db_blocker):
    """A workspace committed outside any test transaction (for other connections to see),
    removed afterwards (its schema set aside, not dropped), leaving the seeded rows alone."""
    from tenants.models import Tenant
    from tenants.services import tenant_provision
    from tests.schema_pool import schema_discard

    with django_db_blocker.unblock():
        tenant = tenant_provision(slug=slug, name=slug.replace("-", " ").title())
    try:
        yield tenant
    finally:
        with django_db_blocker.unblock():
            connection.set_schema_to_public()  # type: ignore[attr-defined]
            schema_discard(tenant.schema_name)  # no DROP: the test database goes at the end
            Tenant.objects.filter(pk=tenant.pk).delete()
