"""The member's API tokens page: create (shown once), list, revoke; a recent second factor
in a workspace that requires 2FA."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.tests.twofactor_helpers import code_now, enroll
from api import settings_views
from api.models import ApiToken
from api.tests.conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db

PAGE = "/settings/api-tokens/"


def _create(client, **fields):
    data = {"name": "reporting", "read_only": "on", "expires_days": "30", **fields}
    return client.post(PAGE, data, HTTP_HOST="acme.localhost")


def test_a_member_creates_a_token_sees_it_once_and_it_works(acme, client_for):
    client = client_for("acme", "sales")
    response = _create(client)
    assert response.status_code == 200
    secret = response.context["created"].secret
    assert secret.encode() in response.content
    assert ApiClient("acme", secret).get("/companies").status_code == 200
    again = client.get(PAGE, HTTP_HOST="acme.localhost")
    assert secret.encode() not in again.content
    assert b"reporting" in again.content
    with tenant_context(acme):
        token = ApiToken.objects.get(name="reporting")
    assert "companies:create" not in token.scopes
    assert "companies:view" in token.scopes


def test_a_token_needs_permissions_and_an_expiry(acme, client_for):
    response = _create(client_for("acme", "sales"), read_only="", expires_days="1000")
    assert response.status_code == 200  # the form again, with its errors
    form = response.context["form"]
    assert "expires_days" in form.errors
    with tenant_context(acme):
        assert not ApiToken.objects.filter(name="reporting").exists()


def test_owners_revoke_any_members_token_and_members_only_their_own(acme, client_for):
    sales_token, sales_secret = token_for("acme", "sales")
    owner_token, _ = token_for("acme", "owner")
    manager = client_for("acme", "manager")
    refused = manager.post(f"{PAGE}{owner_token.pk}/revoke/", HTTP_HOST="acme.localhost")
    assert refused.status_code == 404
    owner = client_for("acme", "owner")
    listed = owner.get(PAGE, HTTP_HOST="acme.localhost")
    assert b"sales@acme.example" in listed.content
    done = owner.post(f"{PAGE}{sales_token.pk}/revoke/", HTTP_HOST="acme.localhost")
    assert done.status_code == 302
    assert ApiClient("acme", sales_secret).get("/companies").status_code == 401
    with tenant_context(acme):
        assert ApiToken.objects.get(pk=owner_token.pk).revoked_at is None


def test_in_a_2fa_workspace_an_old_session_must_give_a_code(acme, client_for, member):
    seed, _codes = enroll(member("acme", "owner"))
    acme.require_2fa = True
    acme.save()
    client = client_for("acme", "owner")
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        without = _create(client)
        assert without.status_code == 200
        assert settings_views.CODE_NEEDED in without.context["form"].errors["code"]
        wrong = _create(client, code="000000" if code_now(seed) != "000000" else "111111")
        assert settings_views.CODE_WRONG in wrong.context["form"].errors["code"]
        with tenant_context(acme):
            assert not ApiToken.objects.filter(name="reporting").exists()
        right = _create(client, code=code_now(seed))
        assert right.status_code == 200, right.context["form"].errors
        assert right.context["created"] is not None
