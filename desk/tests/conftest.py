"""Fixtures for the desk tests; the seeded workspaces come from the root conftest."""

from __future__ import annotations

import pytest

from kernel.roles import Role
from rbac.models import Membership


@pytest.fixture
def in_acme(acme, in_tenant):
    with in_tenant(acme):
        yield acme


@pytest.fixture
def as_email(acme):
    """as_email("customer2@acme.example") -> that person's acme Membership."""
    return lambda email: Membership.objects.select_related("user", "tenant").get(
        tenant=acme, user__email=email
    )


@pytest.fixture
def as_role(acme):
    return lambda role: Membership.objects.select_related("user", "tenant").get(
        tenant=acme, role=role, user__email=f"{role}@acme.example"
    )


@pytest.fixture
def expert(as_role):
    return as_role(Role.EXPERT)


@pytest.fixture
def customer(as_role):
    return as_role(Role.CUSTOMER)
