"""The base class for every Celery task that touches a workspace.

Invariant: a TenantTask is called with ``tenant_schema=...``; before the body runs, the
connection is switched to that tenant (and back to public afterwards), so a task can never
run against whatever schema a previous task left behind. Afterwards the connection goes back
to the tenant that was active before (public for a worker; the calling request's tenant when
the task runs eagerly inside it).
"""

from __future__ import annotations

from celery import Task, shared_task
from django.db import connection

from audit.context import system_audit_context


class TenantTask(Task):
    abstract = True

    def __call__(self, *args, tenant_schema: str, **kwargs):
        from .models import Tenant

        previous = getattr(connection, "tenant", None)
        connection.set_schema_to_public()
        tenant = Tenant.objects.get(schema_name=tenant_schema)
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


# --- The workspace lifecycle (tenants.lifecycle). These tasks name no tenant: a purge works on
# a workspace that is being deleted, and sets each schema explicitly where it reads one.


@shared_task(max_retries=5, default_retry_delay=30)
def lifecycle_email_send(*, template: str, to: list[str], context: dict) -> None:
    """One plain-text email per owner from ``tenants/email/<template>.subject.txt`` and
    ``.txt``; ``context`` holds plain strings (it travels as JSON)."""
    from django.conf import settings
    from django.core.mail import EmailMultiAlternatives
    from django.template import Context
    from django.template.loader import get_template

    def render(name: str) -> str:
        # Plain text: escaping would turn "O'Brien" into "O&#x27;Brien".
        template_object = get_template(name).template  # type: ignore[attr-defined]
        return template_object.render(Context(context, autoescape=False))

    subject = " ".join(render(f"tenants/email/{template}.subject.txt").split())
    body = render(f"tenants/email/{template}.txt")
    for address in to:
        EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, [address]).send()


@shared_task(acks_late=True)
def workspace_purge_task(*, tenant_id: int) -> dict | None:
    """Purge a workspace the owner asked to delete now. A failure leaves it PURGING, and the
    next lifecycle run finishes it."""
    from .lifecycle import workspace_purge

    with system_audit_context():
        receipt = workspace_purge(tenant_id=tenant_id)
    return None if receipt is None else {"tenant_id": receipt.tenant_id, "slug": receipt.slug}


@shared_task(acks_late=True)
def lifecycle_run_task() -> int:
    """The beat's daily run: warning emails, archiving and purging that have come due."""
    from .lifecycle import lifecycle_run

    with system_audit_context():
        return len(lifecycle_run())
