"""Tasks of the workspace lifecycle. They name no tenant: a purge works on a workspace that
is being deleted, and sets each schema explicitly where it reads one."""

from __future__ import annotations

from celery import shared_task

from accounts.models import User
from accounts.tasks import send_templated_email
from kernel.context import system_audit_context
from kernel.email import email_send_templated
from kernel.roles import Role
from rbac.models import Membership
from tenants.models import Tenant
from tenants.selectors import workspace_url

# --- The workspace lifecycle (workspace.lifecycle). These tasks name no tenant: a purge works on
# a workspace that is being deleted, and sets each schema explicitly where it reads one.


@shared_task(max_retries=5, default_retry_delay=30)
def lifecycle_email_send(*, template: str, to: list[str], context: dict) -> None:
    """One plain-text email per owner from ``workspace/email/<template>.subject.txt`` and
    ``.txt``; ``context`` holds plain strings (it travels as JSON)."""
    email_send_templated(
        to=to, template=f"workspace/email/{template}", context=context, separately=True
    )


@shared_task(acks_late=True)
def workspace_purge_task(*, tenant_id: int) -> dict | None:
    """Purge a workspace the owner asked to delete now. A failure leaves it PURGING, and the
    next lifecycle run finishes it."""
    from .lifecycle import workspace_purge

    with system_audit_context():
        receipt = workspace_purge(tenant_id=tenant_id)
    return None if receipt is None else {"tenant_id": receipt.tenant_id, "slug": receipt.slug}


@shared_task(name="workspace.tasks.purged_schemas_drop", acks_late=True)
def purged_schemas_drop_task(*, schema_name: str | None = None) -> list[str]:
    """OWNER queue (routed in settings, like ``tenants.tasks.ready_spares_refill``): drop a
    purged workspace's schema and role on the proof of its keyed receipt; without
    ``schema_name``, every schema a receipt names (the beat's five-minute sweep, so a lost
    task loses nothing). Returns the schemas dropped. Needs ``DATABASE_OWNER_URL``."""
    from .lifecycle.schema_drop import purged_schemas_drop

    outcomes = purged_schemas_drop(schema_name=schema_name)
    return [outcome.schema_name for outcome in outcomes if outcome.dropped]


@shared_task(acks_late=True)
def lifecycle_run_task() -> int:
    """The beat's daily run: warning emails, archiving and purging that have come due."""
    from .lifecycle import lifecycle_run

    with system_audit_context():
        return len(lifecycle_run())


# --- The workspace's two-factor requirement (workspace.two_factor). The task keeps the name it
# was registered under in accounts.twofactor.tasks, so messages already queued still run.


@shared_task(name="accounts.twofactor.tasks.send_two_factor_requirement_email")
def send_two_factor_requirement_email(*, workspace_id: int, actor_id: int, required: bool) -> None:
    """Tell every owner that the workspace's 2FA requirement was switched on or off."""
    workspace = Tenant.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    actor = User.objects.filter(pk=actor_id).first()
    owners = (
        Membership.objects.filter(tenant=workspace, role=Role.OWNER, is_active=True)
        .select_related("user")
        .order_by("user__email")
    )
    for owner in owners:
        send_templated_email(
            to=owner.user.email,
            template="two_factor_requirement_changed",
            context={
                "user": owner.user,
                "actor": actor,
                "workspace": workspace,
                "required": required,
                "url": workspace_url(workspace, "/settings/two-factor/"),
            },
        )
