"""rbac's answers to the membership questions of the accounts floor (accounts.memberships),
declared on ``RbacConfig.account_memberships``.

Invariant: "member" means an active Membership row, read from the database on every call.
"""

from __future__ import annotations

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


ACCOUNT_MEMBERSHIPS = AccountMemberships()
