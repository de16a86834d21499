"""The seeded workspaces' API tokens: one of the owner's (named MARKER-<slug>-token), so the
sweeps that walk object URLs find a token id of each workspace."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import tenant_context

from api.services import api_token_create
from kernel.roles import Role
from rbac.models import Membership


def seed_api_tokens(tenant, *, password: str) -> None:
    owner = Membership.objects.select_related("user", "tenant").get(tenant=tenant, role=Role.OWNER)
    with tenant_context(tenant):
        api_token_create(
            tenant=tenant,
            owner=owner,
            name=f"MARKER-{tenant.slug}-token",
            scopes=["companies:view"],
            expires_at=timezone.now() + timedelta(days=300),
            created_by=owner,
        )
