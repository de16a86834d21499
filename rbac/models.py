"""Who belongs to which workspace, and as what.

Invariant: a user reaches a workspace only through an active Membership row for that tenant;
the gate (workspace.middleware) reads it on every request. Customer roles are bound to one
company of the shop (``company_id`` refers to shop.Company in the tenant's own schema, so it
cannot be a database foreign key across schemas; services keep it consistent).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from kernel.roles import CUSTOMER_ROLES, Role


class Membership(models.Model):
    """A user's role in one workspace."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="memberships"
    )
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


class Invitation(models.Model):
    """A single-use invitation to join one workspace with one role.

    Invariants: only the SHA-256 of the token is stored (the token itself exists only in the
    email); an invitation is pending while it is neither accepted nor revoked and not past
    ``expires_at``, and there is at most one pending-or-expired open invitation per email and
    workspace (the services revoke the old one before issuing another); customer roles carry
    the ``company_id`` of a shop.Company of the same workspace, staff roles none (the same
    rule as Membership). Written only by ``rbac.services``.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    company_id = models.BigIntegerField(null=True, blank=True)
    token_digest = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Wrong passwords typed on the accept page; at the limit the invitation is revoked, so a
    # leaked link is no oracle for guessing an existing account's password.
    failed_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="one_open_invitation_per_email_and_workspace",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(role__in=[r.value for r in CUSTOMER_ROLES], company_id__isnull=False)
                    | (
                        ~models.Q(role__in=[r.value for r in CUSTOMER_ROLES])
                        & models.Q(company_id__isnull=True)
                    )
                ),
                name="invitation_customer_roles_bound_to_a_company",
            ),
            models.CheckConstraint(
                condition=models.Q(accepted_at__isnull=True) | models.Q(revoked_at__isnull=True),
                name="invitation_not_both_accepted_and_revoked",
            ),
        ]
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.tenant_id} as {self.role}"

    @property
    def is_customer(self) -> bool:
        return self.role in CUSTOMER_ROLES

    def is_pending_at(self, moment) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > moment
