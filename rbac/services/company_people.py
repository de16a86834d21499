"""The people of a customer company: customer roles belong to exactly one of the workspace's
companies, and a company administrator reaches only their own company's people.

Invariant: which companies exist is asked of ``rbac.companies`` (the business app that holds
them declares the provider); rbac knows only their ids.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from kernel.roles import CUSTOMER_ROLES
from tenants.models import Tenant

from ..companies import company_exists
from ..models import Invitation, Membership

# Messages people see (tests assert on them).
COMPANY_REQUIRED = "Choose the company this person belongs to."
COMPANY_ONLY_FOR_CUSTOMERS = "Only customer roles belong to a company."
COMPANY_UNKNOWN = "Choose one of the workspace's companies."
OWN_COMPANY_ONLY = "You can invite and remove only the people of your own company."
CUSTOMER_ROLES_ONLY = "You can give only the Customer or Company administrator role."


def _clean_company(tenant: Tenant, role: str, company_id: int | None) -> int | None:
    """The company a person with ``role`` is bound to: required and existing for customer
    roles, none for staff roles."""
    if role in CUSTOMER_ROLES:
        if company_id is None:
            raise ValidationError({"company": COMPANY_REQUIRED})
        if not company_exists(tenant, company_id):
            raise ValidationError({"company": COMPANY_UNKNOWN})
        return company_id
    if company_id is not None:
        raise ValidationError({"company": COMPANY_ONLY_FOR_CUSTOMERS})
    return None


def _of_own_company(actor: Membership, person: Membership | Invitation) -> bool:
    """Whether ``person`` (a member or an invitation) is a customer of ``actor``'s company:
    the only people a company administrator may invite, replace an invitation of, or remove."""
    return person.is_customer and person.company_id == actor.company_id
