"""Owner-side work: keeping the pool of ready workspace schemas full.

Invariant: these tasks run only on the OWNER queue (``OWNER_QUEUE``, routed in settings),
consumed by the one worker started with ``DATABASE_OWNER_URL``; they take the owner's
credentials explicitly and touch no workspace's data, only the public schema's catalog. The
queue's other task, dropping purged workspaces' schemas, belongs to the lifecycle a floor up
(``workspace.tasks.purged_schemas_drop_task``).
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

OWNER_QUEUE = "owner"


@shared_task(name="tenants.tasks.ready_spares_refill")
def ready_spares_refill() -> int:
    """Clone the template into spares until ``READY_SPARES`` are ready; return how many."""
    from .roles import owner_credentials
    from .services import ready_spares_fill

    with owner_credentials():
        return len(ready_spares_fill(settings.READY_SPARES))
