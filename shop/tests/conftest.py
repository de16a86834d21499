"""Fixtures for the shop tests; the two seeded workspaces come from the root conftest."""

from __future__ import annotations

import pytest

from shop.models import Company
from shop.tests import factories
from shop.tests.seed import company_one_name, company_two_name


@pytest.fixture
def in_acme(acme, in_tenant):
    """Run the test body inside acme's schema."""
    with in_tenant(acme):
        yield acme


@pytest.fixture
def as_role(acme):
    """as_role("sales") -> acme's seeded Membership with that role."""
    return lambda role: factories.membership(acme, role)


@pytest.fixture
def owner(as_role):
    return as_role("owner")


@pytest.fixture
def company_one(in_acme):
    return Company.objects.get(name=company_one_name("acme"))


@pytest.fixture
def company_two(in_acme):
    return Company.objects.get(name=company_two_name("acme"))
