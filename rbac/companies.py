"""The companies customer-role members are bound to: rbac knows only their ids.

The rows live in a business app's tables in the workspace schema; the app that holds them
declares a provider (``customer_companies`` on its AppConfig, kernel.plugins) with three
methods, and rbac asks it. Without one, no company exists and customer roles cannot be given.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from kernel.plugins import declared_one

if TYPE_CHECKING:
    from tenants.models import Tenant

    from .models import Membership


class CustomerCompanies(Protocol):
    def names(self, ids: set[int]) -> dict[int, str]:
        """Names by id, for the current schema's workspace."""

    def choices(self, viewer: Membership) -> list[tuple[int, str]]:
        """(id, name) of the companies ``viewer`` may bind a customer role to."""

    def exists(self, tenant: Tenant, company_id: int) -> bool:
        """Whether ``tenant`` holds the company (switches to its schema itself)."""


class _NoCompanies:
    def names(self, ids: set[int]) -> dict[int, str]:
        return {}

    def choices(self, viewer: Membership) -> list[tuple[int, str]]:
        return []

    def exists(self, tenant: Tenant, company_id: int) -> bool:
        return False


def customer_companies() -> CustomerCompanies:
    provider = declared_one("customer_companies")
    return provider if provider is not None else _NoCompanies()


def company_names(ids: Iterable[int | None]) -> dict[int, str]:
    """Names of the current workspace's companies by id. Call with the tenant's schema active."""
    wanted = {company_id for company_id in ids if company_id is not None}
    return customer_companies().names(wanted) if wanted else {}


def company_choices(*, viewer: Membership) -> list[tuple[int, str]]:
    """Companies the viewer may bind a customer-role invitation or role to."""
    return customer_companies().choices(viewer)


def company_exists(tenant: Tenant, company_id: int | None) -> bool:
    return company_id is not None and customer_companies().exists(tenant, company_id)
