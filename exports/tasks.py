"""Export work outside requests: building archives, the emails, and the beat sweeps.

Invariant: every task that touches a workspace is a TenantTask called with
``tenant_schema=...``; the sweeps walk the workspaces themselves and set each one explicitly.
Tasks are idempotent (``services.export_job_build`` leaves finished jobs alone), acknowledged
late and re-queued if their worker dies (``acks_late``/``reject_on_worker_lost``).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.urls import reverse
from django_tenants.utils import tenant_context

from accounts.tasks import send_templated_email
from kernel.capabilities import EXPORTS_RUN, has_capability
from kernel.context import audit_context
from kernel.tasks import TenantTask
from kernel.tenant_connection import tenant_connection
from rbac.models import Membership
from tenants.models import Tenant
from tenants.selectors import workspace_url

from . import services
from .models import ExportJob
from .scratch import scratch_sweep

logger = logging.getLogger("exports")


@shared_task(
    base=TenantTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    # Attempts are counted on the job row (EXPORT_MAX_ATTEMPTS), which also sees redeliveries
    # after a worker died; Celery's own retry counter would not.
    name="exports.tasks.export_run",
)
def export_run(self, *, tenant_schema: str, job_id: int) -> str:
    with audit_context(request_id=(self.request.id or "")[:64]):
        outcome = services.export_job_build(tenant=self.tenant, job_id=job_id)
    if outcome == services.RETRY:
        # The job row is back to "queued"; send it again now that this attempt's builder lock
        # is released. (If this worker dies first, the recovery sweep re-sends it.)
        export_run.apply_async(
            kwargs={"tenant_schema": tenant_schema, "job_id": job_id},
            countdown=settings.EXPORT_RETRY_DELAY_SECONDS,
        )
    return outcome


def _recipient(tenant: Tenant, job: ExportJob):
    """The requester, if they still hold exports:run in this workspace."""
    if job.requested_by_id is None:
        return None
    membership = (
        Membership.objects.filter(user_id=job.requested_by_id, tenant=tenant, is_active=True)
        .select_related("user")
        .first()
    )
    if membership is None or not has_capability(membership, EXPORTS_RUN):
        return None
    return membership.user


@shared_task(base=TenantTask, bind=True, max_retries=5, default_retry_delay=30)
def send_export_ready_email(self, *, tenant_schema: str, job_id: int) -> None:
    """Mail the requester a fresh single-use link. A redelivery mints a new link (the older
    one stops working), so the last email sent is always the one that works."""
    job = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.READY).first()
    if job is None:
        return
    user = _recipient(self.tenant, job)
    if user is None:
        return
    token = services.export_link_issue_for_email(tenant=self.tenant, job=job)
    job.refresh_from_db()
    path = reverse(
        "exports:download", urlconf="config.urls_tenant", kwargs={"pk": job.pk, "token": token}
    )
    send_templated_email(
        to=user.email,
        template="export_ready",
        context={
            "user": user,
            "workspace": self.tenant,
            "job": job,
            "url": workspace_url(self.tenant, path),
            "exports_url": workspace_url(
                self.tenant, reverse("exports:list", urlconf="config.urls_tenant")
            ),
            "link_hours": settings.EXPORT_EMAIL_LINK_SECONDS // 3600,
        },
    )


@shared_task(base=TenantTask, bind=True, max_retries=5, default_retry_delay=30)
def send_export_failed_email(self, *, tenant_schema: str, job_id: int) -> None:
    job = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.FAILED).first()
    if job is None:
        return
    user = _recipient(self.tenant, job)
    if user is None:
        return
    send_templated_email(
        to=user.email,
        template="export_failed",
        context={
            "user": user,
            "workspace": self.tenant,
            "job": job,
            "exports_url": workspace_url(
                self.tenant, reverse("exports:list", urlconf="config.urls_tenant")
            ),
        },
    )


def _each_workspace():
    return Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).order_by("pk")


@shared_task(name="exports.tasks.exports_expire_archives")
def exports_expire_archives() -> int:
    """Beat: delete archives past ``EXPORT_ARCHIVE_DAYS`` in every workspace."""
    expired = 0
    tenant_connection.set_schema_to_public()
    for tenant in _each_workspace():
        try:
            with tenant_context(tenant):
                expired += len(services.export_archives_expire(tenant=tenant))
        except Exception:  # one workspace's trouble must not stop the sweep of the others
            logger.exception("expiring exports of %s failed", tenant.schema_name)
    tenant_connection.set_schema_to_public()
    return expired


@shared_task(name="exports.tasks.exports_recover_stalled")
def exports_recover_stalled() -> int:
    """Beat: re-queue or fail export jobs whose worker died, in every workspace, and remove
    the scratch folders dead builds left on this machine."""
    try:
        scratch_sweep()
    except Exception:
        logger.exception("could not sweep the export scratch folder")
    acted = 0
    tenant_connection.set_schema_to_public()
    for tenant in _each_workspace():
        try:
            with tenant_context(tenant):
                acted += len(services.export_jobs_recover(tenant=tenant))
        except Exception:
            logger.exception("recovering exports of %s failed", tenant.schema_name)
    tenant_connection.set_schema_to_public()
    return acted
