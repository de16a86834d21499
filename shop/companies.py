"""The shop's side of rbac's customer companies (declared on ShopConfig): customer-role
members are bound to a shop Company of their workspace."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from rbac.models import Membership
from tenants.models import Tenant

from . import selectors
from .models import Company


class ShopCustomerCompanies:
    def names(self, ids: set[int]) -> dict[int, str]:
        return dict(Company.objects.filter(pk__in=ids).values_list("pk", "name"))

    def choices(self, viewer: Membership) -> list[tuple[int, str]]:
        # The shop's own narrowing applies: a company administrator gets only their company.
        return list(selectors.company_list(viewer=viewer).values_list("pk", "name"))

    def exists(self, tenant: Tenant, company_id: int) -> bool:
        with tenant_context(tenant):
            return Company.objects.filter(pk=company_id).exists()


CUSTOMER_COMPANIES = ShopCustomerCompanies()
