"""What every shop page module shares on top of ``kernel.views``."""

from __future__ import annotations

from kernel.views import WorkspaceRequest
from rbac.models import Membership
from tenants.models import Tenant

CONFIRM_DELETE_TEMPLATE = "shop/confirm_delete.html"


class ShopRequest(WorkspaceRequest):
    """A request the gate has let into a shop page (typing only): the workspace and the
    acting member, with their real types."""

    tenant: Tenant
    membership: Membership
