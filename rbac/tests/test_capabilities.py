"""The role -> capability map and the decisions derived from it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from kernel.capabilities import (
    ALL_CAPABILITIES,
    BILLING_MANAGE,
    CAPABILITY_LABELS,
    COMPANY_MEMBERS_MANAGE,
    INVOICES_VIEW,
    INVOICES_VOID,
    OWNERSHIP_TRANSFER,
    QUOTES_CREATE,
    QUOTES_RESPOND,
    QUOTES_VIEW,
    ROLE_CAPABILITIES,
    WORKSPACE_DELETE,
    can_grant_role,
    capabilities_for,
    require,
)
from kernel.roles import CUSTOMER_ROLES, STAFF_ROLES, Role
from rbac.models import Membership


def _member(role: str, *, is_active: bool = True) -> Membership:
    return Membership(role=role, is_active=is_active)


def test_every_role_has_an_entry_and_only_known_capabilities():
    assert set(ROLE_CAPABILITIES) == set(Role)
    for role, capabilities in ROLE_CAPABILITIES.items():
        assert capabilities <= ALL_CAPABILITIES, role


def test_every_capability_is_labelled_and_held_by_some_role():
    assert set(CAPABILITY_LABELS) == ALL_CAPABILITIES
    held = set().union(*ROLE_CAPABILITIES.values())
    assert held == ALL_CAPABILITIES


def test_every_capability_is_area_colon_verb():
    for capability in ALL_CAPABILITIES:
        area, verb = capability.split(":")
        assert area
        assert verb
        assert capability == capability.lower()


@pytest.mark.parametrize("capability", [WORKSPACE_DELETE, OWNERSHIP_TRANSFER, BILLING_MANAGE])
def test_only_owners_hold_the_owner_capabilities(capability):
    holders = {role for role, caps in ROLE_CAPABILITIES.items() if capability in caps}
    assert holders == {Role.OWNER}


def test_customer_roles_hold_no_staff_business_capability():
    staff_only = set().union(*(ROLE_CAPABILITIES[role] for role in STAFF_ROLES))
    for role in CUSTOMER_ROLES:
        extra = ROLE_CAPABILITIES[role] & staff_only
        assert QUOTES_CREATE not in extra
        assert not {c for c in extra if c.split(":")[0] in {"companies", "members", "audit"}}


def test_quote_responses_are_the_customers_alone():
    holders = {role for role, caps in ROLE_CAPABILITIES.items() if QUOTES_RESPOND in caps}
    assert holders == set(CUSTOMER_ROLES)
    holders = {role for role, caps in ROLE_CAPABILITIES.items() if COMPANY_MEMBERS_MANAGE in caps}
    assert holders == {Role.COMPANY_ADMIN}


def test_accountants_read_quotes_but_installers_do_not_see_invoices():
    assert QUOTES_VIEW in ROLE_CAPABILITIES[Role.ACCOUNTANT]
    assert QUOTES_CREATE not in ROLE_CAPABILITIES[Role.ACCOUNTANT]
    assert INVOICES_VOID in ROLE_CAPABILITIES[Role.ACCOUNTANT]
    assert INVOICES_VIEW not in ROLE_CAPABILITIES[Role.INSTALLER]


def test_no_membership_or_an_inactive_one_can_do_nothing():
    assert capabilities_for(None) == frozenset()
    assert capabilities_for(_member(Role.OWNER, is_active=False)) == frozenset()
    with pytest.raises(PermissionDenied):
        require(_member(Role.OWNER, is_active=False), QUOTES_VIEW)


def test_require_refuses_an_unknown_capability_string():
    with pytest.raises(ValueError, match="unknown capability"):
        require(_member(Role.OWNER), "quotes:teleport")


@pytest.mark.parametrize(
    ("granter", "role", "allowed"),
    [
        (Role.OWNER, Role.ADMIN, True),
        (Role.OWNER, Role.COMPANY_ADMIN, True),
        (Role.ADMIN, Role.ADMIN, True),
        (Role.ADMIN, Role.OWNER, False),
        (Role.MANAGER, Role.SALES, True),
        (Role.MANAGER, Role.CUSTOMER, True),
        (Role.MANAGER, Role.ACCOUNTANT, False),
        (Role.MANAGER, Role.COMPANY_ADMIN, False),
        (Role.MANAGER, Role.ADMIN, False),
        (Role.SALES, Role.DESIGNER, False),
        (Role.COMPANY_ADMIN, Role.CUSTOMER, True),
        (Role.COMPANY_ADMIN, Role.COMPANY_ADMIN, True),
        (Role.COMPANY_ADMIN, Role.EMPLOYEE, False),
        (Role.CUSTOMER, Role.CUSTOMER, True),
    ],
)
def test_a_role_is_grantable_only_by_someone_holding_all_its_capabilities(granter, role, allowed):
    assert can_grant_role(_member(granter), role) is allowed


def test_nobody_can_grant_a_role_that_does_not_exist():
    assert can_grant_role(_member(Role.OWNER), "superuser") is False
