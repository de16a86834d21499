"""The base classes of every Celery task: ``QueuedTask`` (all of them) and ``TenantTask`` (those
that touch a workspace).

Invariant: a message the broker cannot take is never lost. ``QueuedTask.apply_async`` (and so
``.delay``) hands a task the broker refused, or one sent while ``kernel.outages`` knows the
broker is down, to the app that declares ``unsent_task_keeper`` (tenants: an encrypted row in
PostgreSQL, sent again by the beat's sweep) and returns its result handle as usual, so the
caller, typically an ``on_commit`` callback after the change committed, never fails because
Redis is down. Tasks are idempotent, so the rare message sent twice does no harm.

Invariant: a TenantTask is called with ``tenant_schema=...``; before the body runs, the
connection is switched to that tenant (and back to public afterwards), so a task can never
run against whatever schema a previous task left behind. Afterwards the connection goes back
to the tenant that was active before (public for a worker; the calling request's tenant when
the task runs eagerly inside it). Audit events the body writes carry the system as actor and
the task id as request id.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import Task
from celery.utils import uuid
from django.db import connection
from django.utils import timezone
from django_tenants.utils import get_tenant_model

from .context import system_audit_context
from .outages import outage_for
from .plugins import declared_one

# Routing options a kept task is sent with again; countdown and eta become its earliest send.
KEPT_OPTIONS = ("queue", "routing_key", "exchange", "priority")


def broker_down_errors() -> tuple[type[BaseException], ...]:
    """What publishing raises when the broker cannot take a message (not a bug of ours:
    an argument that cannot be serialised raises something else, and is not kept)."""
    import kombu.exceptions
    import redis

    return (kombu.exceptions.OperationalError, redis.exceptions.RedisError, OSError)


def _not_before(options: dict) -> datetime:
    now = timezone.now()
    eta = options.get("eta")
    if isinstance(eta, datetime):
        return max(now, eta if timezone.is_aware(eta) else timezone.make_aware(eta))
    countdown = options.get("countdown")
    return now + timedelta(seconds=float(countdown)) if countdown else now


class QueuedTask(Task):
    """Every task's base (``task_cls`` of the app in config/celery.py)."""

    abstract = True

    def apply_async(self, args=None, kwargs=None, task_id=None, **options):
        app = self._get_app()
        if app.conf.task_always_eager:  # tests: no broker involved
            return super().apply_async(args, kwargs, task_id=task_id, **options)
        task_id = task_id or uuid()
        broker = outage_for(
            "Celery broker", app.conf.broker_url, fallback="tasks are kept in PostgreSQL"
        )
        if broker.should_try():
            try:
                result = super().apply_async(args, kwargs, task_id=task_id, **options)
            except broker_down_errors() as error:
                broker.failed(error)
            else:
                broker.answered()
                return result
        keep = declared_one("unsent_task_keeper")
        if keep is None:  # pragma: no cover - tenants declares it
            raise RuntimeError(f"the broker refused {self.name} and no app keeps unsent tasks")
        keep(
            task_name=self.name,
            task_id=task_id,
            args=list(args or ()),
            kwargs=dict(kwargs or {}),
            options={key: options[key] for key in KEPT_OPTIONS if options.get(key) is not None},
            not_before=_not_before(options),
        )
        return self.AsyncResult(task_id)


class TenantTask(QueuedTask):
    abstract = True

    def __call__(self, *args, tenant_schema: str, **kwargs):
        previous = getattr(connection, "tenant", None)
        connection.set_schema_to_public()
        tenant = get_tenant_model().objects.get(schema_name=tenant_schema)
        self.tenant = tenant
        connection.set_tenant(tenant)
        # Audit events a task writes are the system's, whatever request queued it (eager
        # tasks run inside that request); the task id stands in for a request id.
        try:
            with system_audit_context(request_id=self.request.id or ""):
                return super().__call__(*args, tenant_schema=tenant_schema, **kwargs)
        finally:
            if previous is not None and getattr(previous, "schema_name", "public") != "public":
                connection.set_tenant(previous)
            else:
                connection.set_schema_to_public()
