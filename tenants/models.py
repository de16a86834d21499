"""Workspaces (tenants) and the hostnames that resolve to them.

Invariant: a Tenant owns exactly one PostgreSQL schema (``schema_name``); every business row
of the workspace lives in that schema. The public tenant (schema ``public``) is the platform
site itself and has no members.
"""

from __future__ import annotations

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Tenant(TenantMixin):
    """A workspace: one shop, one schema, reached at ``<slug>.<APP_DOMAIN>``."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        CANCELLED = "cancelled", "Cancelled (export only)"
        ARCHIVED = "archived", "Archived"

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    state = models.CharField(max_length=20, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    # Schemas are created by tenants.services.tenant_provision (clone + verify), never as a
    # side effect of save().
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name or self.schema_name

    @property
    def is_public(self) -> bool:
        return self.schema_name == "public"


class Domain(DomainMixin):
    """A hostname that resolves to a tenant; the gate caches this lookup."""

    def __str__(self) -> str:
        return self.domain
