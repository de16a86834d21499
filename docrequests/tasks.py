"""Beat: remind the clients of document requests about to expire with items missing.

Invariant: the sweep walks every active workspace and sets each one's schema explicitly
(``tenant_context``) before touching its rows; one workspace's trouble does not stop the
others. ``services.reminders_send`` marks each reminded request, so a redelivered or
overlapping run sends nothing twice. A cancelled workspace takes no uploads, so its clients
are not reminded.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django_tenants.utils import tenant_context

from kernel.context import system_audit_context
from tenants.models import Tenant

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="docrequests.tasks.document_request_reminders_send")
def document_request_reminders_send() -> int:
    reminded = 0
    workspaces = Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).filter(
        state=Tenant.State.ACTIVE
    )
    for tenant in workspaces.order_by("pk"):
        try:
            with tenant_context(tenant), system_audit_context():
                reminded += services.reminders_send(tenant=tenant)
        except Exception:  # one workspace's trouble must not stop the sweep of the others
            logger.exception("document request reminders of %s failed", tenant.schema_name)
    return reminded
