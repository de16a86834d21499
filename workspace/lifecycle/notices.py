"""The lifecycle's emails to a workspace's owners: what each says and when it leaves.

Invariant: an email is only ever enqueued after the transaction that changed the workspace
commits (a rolled-back transition sends nothing), and its context holds plain strings, since
it travels to the worker as JSON. Which warnings were already sent is the Tenant's
``lifecycle_notices`` (workspace.lifecycle.schedule); the dates come from tenants.schedule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from kernel.roles import Role
from rbac.models import Membership
from tenants.models import Tenant
from tenants.schedule import ARCHIVE_DAYS, EXPORT_WINDOW_DAYS, lifecycle_dates
from tenants.selectors import workspace_url

from ..tasks import lifecycle_email_send


def owner_emails(tenant: Tenant) -> list[str]:
    """The addresses of the workspace's active owners, in order."""
    return list(
        Membership.objects.filter(tenant_id=tenant.pk, role=Role.OWNER, is_active=True)
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )


def email_day(moment: datetime | None) -> str:
    """How the emails write a date: "1 March 2027"."""
    if moment is None:
        return ""
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%B %Y}"


def email_context(tenant: Tenant, **extra: Any) -> dict[str, Any]:
    # Plain strings only: the context travels to the worker as JSON.
    dates = lifecycle_dates(tenant)
    return {
        "workspace_name": tenant.name,
        "workspace_slug": tenant.slug,
        "workspace_url": workspace_url(tenant),
        "archive_date": email_day(dates.archive_at),
        "purge_date": email_day(dates.purge_at),
        "export_window_days": EXPORT_WINDOW_DAYS,
        "archive_days": ARCHIVE_DAYS,
        **extra,
    }


def email_owners_on_commit(
    tenant: Tenant, template: str, recipients: list[str] | None = None, **extra: Any
) -> None:
    """Email ``workspace/email/<template>`` to the owners (or ``recipients``) after commit."""
    to = owner_emails(tenant) if recipients is None else recipients
    if not to:
        return
    context = email_context(tenant, **extra)
    transaction.on_commit(
        lambda: lifecycle_email_send.delay(template=template, to=to, context=context)
    )
