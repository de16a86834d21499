"""A workspace address is unique whatever its case: the database refuses a case-variant
workspace row, schema name or hostname (unique indexes on the lowered values, tenants 0009),
the "already taken?" checks probe those indexes, and a person who types a case variant of a
taken address, or whose sign-up loses a race for it, is told it is taken next to the field."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tenants import services
from tenants.models import Domain, Tenant
from tenants.services import SLUG_TAKEN, tenant_provision

pytestmark = pytest.mark.django_db


def test_the_database_refuses_a_workspace_row_whose_slug_differs_only_in_case(acme):
    with pytest.raises(IntegrityError), transaction.atomic():
        Tenant.objects.create(slug="ACME", schema_name="ws_acme_other", name="Twin")
    assert Tenant.objects.filter(name="Twin").count() == 0


def test_the_database_refuses_a_hostname_that_differs_only_in_case(acme, globex):
    hostname = Domain.objects.get(tenant=acme).domain
    with pytest.raises(IntegrityError), transaction.atomic():
        Domain.objects.create(domain=hostname.upper(), tenant=globex, is_primary=False)
    assert Domain.objects.filter(tenant=globex).count() == 1


def test_a_schema_name_differing_only_in_case_is_refused_by_one_index_probe(acme):
    twin = Tenant(slug="acme-twin", schema_name=acme.schema_name.upper(), name="Twin")
    with CaptureQueriesContext(connection) as captured, pytest.raises(ValidationError) as refused:
        twin.save()
    assert "already exists" in refused.value.messages[0]
    (check,) = captured.captured_queries
    # lower(...) = lower(...) probes the unique index; UPPER(...) would scan every row.
    assert 'LOWER("tenants_tenant"."schema_name")' in check["sql"]
    assert "UPPER" not in check["sql"]


def test_a_case_variant_of_a_taken_address_is_refused_as_taken_next_to_the_field(acme):
    response = Client(HTTP_HOST="localhost").post(
        "/signup/",
        {
            "full_name": "Sam Shop",
            "email": "sam@new.example",
            "password": "a long passphrase for a new shop",
            "workspace_name": "Sam's Signs",
            "slug": " ACME ",
        },
    )
    assert response.status_code == 400
    assert b'id="id_slug_error"' in response.content
    assert SLUG_TAKEN.encode() in response.content
    assert Tenant.objects.filter(slug__in=["acme", "ACME"]).count() == 1


def test_a_provisioning_that_loses_the_race_for_its_address_gets_the_taken_error(acme, monkeypatch):
    # Another sign-up took "acme" between this one's check and its insert.
    monkeypatch.setattr(services, "_slug_taken", lambda slug: False)
    workspaces = Tenant.objects.count()
    with pytest.raises(ValidationError) as refused:
        tenant_provision(slug="acme", name="Late Shop")
    assert refused.value.code == "taken"
    assert refused.value.messages == [SLUG_TAKEN]
    assert Tenant.objects.count() == workspaces
