"""The tenants app's beat jobs: the pool of ready workspace schemas, and unsent tasks.

Invariant: ``ready_spares_refill`` runs only on the OWNER queue (``OWNER_QUEUE``, routed in
settings), consumed by the one worker started with ``DATABASE_OWNER_URL``; it takes the
owner's credentials explicitly and touches no workspace's data, only the public schema's
catalog. ``unsent_tasks_send`` runs on the ordinary worker as the runtime role.
The owner queue's other task, dropping purged workspaces' schemas, belongs to the lifecycle
a floor up (``workspace.tasks.purged_schemas_drop_task``).
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


@shared_task(name="tenants.tasks.unsent_tasks_send")
def unsent_tasks_send() -> int:
    """Send the tasks kept while the broker was down (tenants/outbox.py); beat, every minute.
    Runs on the ordinary worker: it only reads and deletes rows of the public schema."""
    from .outbox import unsent_tasks_send as send

    return send()
