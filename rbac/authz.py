"""The one check every service makes before it acts for someone: is this actor, as stored
now, an active member of this workspace whose role grants the capability?

Services never trust the Membership object they are handed: a member removed or demoted a
moment ago, or an object loaded for another workspace, must not act. ``current_member``
re-reads the row from the database; ``authorize`` adds the capability. Every refusal for
"not a member here" carries the same message, whichever app refuses.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from kernel.capabilities import Capability, require
from tenants.models import Tenant

from .models import Membership

ACTOR_NOT_IN_WORKSPACE = "You are not a member of this workspace."


def current_member(tenant: Tenant, actor: Membership | None) -> Membership:
    """``actor`` as stored now: an active member of ``tenant``, or PermissionDenied. Both
    the object in hand and the row must say so: a caller that has already deactivated its copy
    (or holds another workspace's) is refused without asking the database."""
    current = None
    if (
        actor is not None
        and actor.pk is not None
        and actor.is_active
        and actor.tenant_id == tenant.pk
    ):
        current = (
            Membership.objects.select_related("user")
            .filter(pk=actor.pk, tenant_id=tenant.pk, is_active=True)
            .first()
        )
    if current is None:
        raise PermissionDenied(ACTOR_NOT_IN_WORKSPACE)
    current.tenant = tenant  # the caller's copy: no second fetch of the workspace row
    return current


def authorize(tenant: Tenant, actor: Membership | None, capability: Capability) -> Membership:
    """The actor as stored now, whose role grants ``capability`` (PermissionDenied otherwise)."""
    current = current_member(tenant, actor)
    require(current, capability)
    return current
