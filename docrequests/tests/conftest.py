"""Fixtures for the document-request tests; the seeded workspaces come from the root
conftest."""

from __future__ import annotations

import pytest

from docrequests import services
from kernel.roles import Role
from rbac.models import Membership

CLIENT = "client@example.org"


@pytest.fixture
def in_acme(acme, in_tenant):
    with in_tenant(acme):
        yield acme


@pytest.fixture
def as_role(acme):
    return lambda role, tenant=acme: Membership.objects.select_related("user", "tenant").get(
        tenant=tenant, role=role, user__email=f"{role}@{tenant.slug}.example"
    )


@pytest.fixture
def manager(as_role):
    return as_role(Role.MANAGER)


@pytest.fixture
def company_ids(acme):
    """The acme customer companies' ids, in order."""
    return list(
        Membership.objects.filter(tenant=acme, role=Role.CUSTOMER)
        .order_by("pk")
        .values_list("company_id", flat=True)
    )


_capture: list = []


@pytest.fixture(autouse=True)
def _committed(django_capture_on_commit_callbacks):
    _capture[:] = [django_capture_on_commit_callbacks]
    yield
    _capture.clear()


def committed():
    """A block whose on-commit side effects (emails, deleted bytes) run at its end, as they
    would when a request's transaction commits."""
    return _capture[0](execute=True)


@pytest.fixture
def new_request(acme, manager, company_ids):
    """new_request(**overrides) -> services.Issued, through the real service."""

    def make(**fields):
        arguments = {
            "tenant": acme,
            "actor": manager,
            "company_id": company_ids[0],
            "recipients": [CLIENT],
            "title": "Onboarding documents",
            "message": "Please send these.",
            "items": [
                services.ItemSpec("Passport", accepted_types=("pdf", "jpg", "png"), max_size_mb=1),
                services.ItemSpec("Bank statement", accepted_types=("pdf",)),
                services.ItemSpec("Photo", required=False, accepted_types=("png",)),
            ],
            "lifetime_days": 14,
        }
        arguments.update(fields)
        with committed():
            return services.document_request_create(**arguments)

    return make
