"""Who belongs to which workspace, and as what.

Invariant: a user reaches a workspace only through an active Membership row for that tenant;
the gate (tenants.middleware) reads it on every request. Customer roles are bound to one
company of the shop (``company_id`` refers to shop.Company in the tenant's own schema, so it
cannot be a database foreign key across schemas; services keep it consistent).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .roles import CUSTOMER_ROLES, Role


class Membership(models.Model):
    """A user's role in one workspace."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    company_id = models.BigIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="one_membership_per_workspace"),
            models.CheckConstraint(
                condition=(
                    models.Q(role__in=[r.value for r in CUSTOMER_ROLES], company_id__isnull=False)
                    | (
                        ~models.Q(role__in=[r.value for r in CUSTOMER_ROLES])
                        & models.Q(company_id__isnull=True)
                    )
                ),
                name="customer_roles_bound_to_a_company",
            ),
        ]
        ordering = ["tenant_id", "user_id"]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} as {self.role}"

    @property
    def is_customer(self) -> bool:
        return self.role in CUSTOMER_ROLES
