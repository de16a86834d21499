"""rbac's answers to the membership questions of the accounts floor (accounts.memberships),
declared on ``RbacConfig.account_memberships``.

Invariant: "member" means an active Membership row, read from the database on every call.
"""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User
from tenants.models import Tenant

from .models import Membership


class AccountMemberships:
    """The ``accounts.memberships.MembershipQuestions`` provider."""

    def is_active_member(self, user, tenant) -> bool:
        if user is None or getattr(user, "pk", None) is None:
            return False
        return Membership.objects.filter(user=user, tenant=tenant, is_active=True).exists()

    def is_active_member_of_schema(self, user, schema_name: str) -> bool:
        if schema_name == "public" or user is None or getattr(user, "pk", None) is None:
            return False
        return Membership.objects.filter(
            user=user, tenant__schema_name=schema_name, is_active=True
        ).exists()

    def member_by_email(self, email: str, tenant, *, active_account: bool = False) -> User | None:
        users = User.objects.filter(
            email=email, memberships__tenant=tenant, memberships__is_active=True
        )
        if active_account:
            users = users.filter(is_active=True)
        return users.first()

    def member_by_email_of_schema(self, email: str, schema_name: str) -> User | None:
        if schema_name == "public":
            return None
        return User.objects.filter(
            email=email,
            memberships__tenant__schema_name=schema_name,
            memberships__is_active=True,
        ).first()

    def workspaces_of_email(self, email: str) -> QuerySet[Tenant]:
        return Tenant.objects.filter(memberships__user__email=email, memberships__is_active=True)


ACCOUNT_MEMBERSHIPS = AccountMemberships()
