"""Tasks of the workspace lifecycle. They name no tenant: a purge works on a workspace that
is being deleted, and sets each schema explicitly where it reads one."""

from __future__ import annotations

from celery import shared_task

from kernel.context import system_audit_context

# --- The workspace lifecycle (workspace.lifecycle). These tasks name no tenant: a purge works on
# a workspace that is being deleted, and sets each schema explicitly where it reads one.


@shared_task(max_retries=5, default_retry_delay=30)
def lifecycle_email_send(*, template: str, to: list[str], context: dict) -> None:
    """One plain-text email per owner from ``workspace/email/<template>.subject.txt`` and
    ``.txt``; ``context`` holds plain strings (it travels as JSON)."""
    from django.conf import settings
    from django.core.mail import EmailMultiAlternatives
    from django.template import Context
    from django.template.loader import get_template

    def render(name: str) -> str:
        # Plain text: escaping would turn "O'Brien" into "O&#x27;Brien".
        template_object = get_template(name).template  # type: ignore[attr-defined]
        return template_object.render(Context(context, autoescape=False))

    subject = " ".join(render(f"workspace/email/{template}.subject.txt").split())
    body = render(f"workspace/email/{template}.txt")
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
