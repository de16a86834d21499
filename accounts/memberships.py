"""The membership questions account flows ask, answered by the floor that owns memberships.

Invariant: accounts sits below rbac and never imports it. Where signing in, resetting a
password or proving a second factor must know whether a user is an active member of a
workspace, it asks ``membership_questions()``: the object one app declares on its
``AppConfig`` as ``account_memberships`` (kernel.plugins; rbac today, in
``rbac.membership_questions``). The rule itself ("an active Membership row for that
workspace") lives there, in one place.
"""

from __future__ import annotations

from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from kernel.plugins import declared_one


class MembershipQuestions(Protocol):
    """What accounts may ask; the answers read the database now, never a cached object."""

    def is_active_member(self, user, tenant) -> bool:
        """Whether ``user`` is an active member of ``tenant``."""

    def is_active_member_of_schema(self, user, schema_name: str) -> bool:
        """Whether ``user`` is an active member of the workspace living in ``schema_name``
        (False for the public schema)."""


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
