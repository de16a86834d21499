"""The membership questions account flows ask, answered by the floor that owns memberships.

Invariant: accounts sits below rbac and never imports it. Where signing in, resetting a
password or proving a second factor must know whether a user is an active member of a
workspace, it asks ``membership_questions()``: the object one app declares on its
``AppConfig`` as ``account_memberships`` (kernel.plugins; rbac today, in
``rbac.membership_questions``). The rule itself ("an active Membership row for that
workspace") lives there, in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from django.core.exceptions import ImproperlyConfigured

from kernel.plugins import declared_one

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from tenants.models import Tenant

    from .models import User


class MembershipQuestions(Protocol):
    """What accounts may ask; the answers read the database now, never a cached object."""

    def is_active_member(self, user, tenant) -> bool:
        """Whether ``user`` is an active member of ``tenant``."""

    def is_active_member_of_schema(self, user, schema_name: str) -> bool:
        """Whether ``user`` is an active member of the workspace living in ``schema_name``
        (False for the public schema)."""

    def member_by_email(self, email: str, tenant, *, active_account: bool = False) -> User | None:
        """The user with ``email`` if an active member of ``tenant`` (with ``active_account``,
        only an account that is not deactivated), else None; one query either way."""

    def member_by_email_of_schema(self, email: str, schema_name: str) -> User | None:
        """``member_by_email`` for the workspace living in ``schema_name``."""

    def workspaces_of_email(self, email: str) -> QuerySet[Tenant]:
        """The workspaces in which the account with ``email`` is an active member."""


def membership_questions() -> MembershipQuestions:
    """The declared provider; a deployment without one is misconfigured."""
    provider = declared_one("account_memberships")
    if provider is None:
        raise ImproperlyConfigured("no installed app declares account_memberships")
    return provider


def is_active_member(user, tenant) -> bool:
    return membership_questions().is_active_member(user, tenant)


def is_active_member_of_schema(user, schema_name: str) -> bool:
    return membership_questions().is_active_member_of_schema(user, schema_name)


def member_by_email(email: str, tenant, *, active_account: bool = False) -> User | None:
    return membership_questions().member_by_email(email, tenant, active_account=active_account)


def member_by_email_of_schema(email: str, schema_name: str) -> User | None:
    return membership_questions().member_by_email_of_schema(email, schema_name)


def workspaces_of_email(email: str) -> QuerySet[Tenant]:
    return membership_questions().workspaces_of_email(email)
