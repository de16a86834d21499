"""Seed hook: one grant per workspace that has already run out (so object sweeps have an id,
and no test starts with support access live)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from kernel.roles import Role
from rbac.models import Membership
from support.models import SupportAccessGrant


def seed_support_grants(tenant, *, password: str) -> None:
    owner = Membership.objects.get(tenant=tenant, role=Role.OWNER).user
    ended = timezone.now() - timedelta(days=1)
    SupportAccessGrant.objects.create(
        tenant=tenant,
        granted_by=owner,
        starts_at=ended - timedelta(hours=4),
        ends_at=ended,
        ticket_ref="SEED-1",
        expiry_recorded_at=ended,
    )
