"""Personal API tokens: created through the service, checked at every request.

Every way a token can be wrong (missing, malformed, unknown, expired, revoked, its member
removed) gets the same 401 problem body; a token of another workspace gets the 404 a missing
object gets; lowering the member's role shrinks what the token does at once.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context

from api import services
from api.gate import UNAUTHORIZED
from api.models import ApiToken
from api.tests.conftest import ApiClient, token_for
from api.tokens import PREFIX, token_hash, token_parse
from audit.events import Event
from audit.models import AuditEvent
from kernel.capabilities import capabilities_for
from rbac import services as rbac_services
from shop.tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def missing_object(acme):
    """What a missing object gets on acme's host (the owner asking for company 999999999)."""
    _token, secret = token_for("acme", "owner")
    response = ApiClient("acme", secret).get("/companies/999999999")
    assert response.status_code == 404
    return response


def _unauthorized_body(response) -> bytes:
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == "Bearer"
    return response.content


def test_the_secret_is_shown_once_and_only_its_hash_is_stored(acme):
    token, secret = token_for("acme", "owner")
    workspace_part = f"{PREFIX}{acme.pk:x}_"
    assert secret.startswith(workspace_part)
    assert len(secret) - len(workspace_part) == 43  # 32 random bytes, url-safe base64
    with tenant_context(acme):
        stored = ApiToken.objects.get(pk=token.pk)
    assert stored.secret_hash == token_hash(secret)
    assert secret not in str(stored.__dict__)
    assert token_parse(secret) is not None


def test_missing_malformed_unknown_expired_revoked_and_removed_tokens_get_one_401_body(
    acme, member
):
    _sales_token, sales_secret = token_for("acme", "sales")
    owner_token, owner_secret = token_for("acme", "owner")
    _expired_token, expired_secret = token_for("acme", "manager", days=1)
    unknown = f"{PREFIX}{acme.pk:x}_" + "A" * 43
    bodies = {
        "missing": _unauthorized_body(ApiClient("acme", None).get("/companies")),
        "not bearer": _unauthorized_body(
            ApiClient("acme", None).get("/companies", headers={"Authorization": "Basic eDp5"})
        ),
        "malformed": _unauthorized_body(ApiClient("acme", "not-a-token").get("/companies")),
        "unknown": _unauthorized_body(ApiClient("acme", unknown).get("/companies")),
    }
    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        bodies["expired"] = _unauthorized_body(ApiClient("acme", expired_secret).get("/companies"))
    with tenant_context(acme):
        services.api_token_revoke(
            tenant=acme, actor=factories.membership(acme, "owner"), token=owner_token
        )
    bodies["revoked"] = _unauthorized_body(ApiClient("acme", owner_secret).get("/companies"))
    assert ApiClient("acme", sales_secret).get("/companies").status_code == 200
    rbac_services.membership_remove(
        tenant=acme,
        actor=factories.membership(acme, "admin"),
        membership=factories.membership(acme, "sales"),
    )
    bodies["member removed"] = _unauthorized_body(ApiClient("acme", sales_secret).get("/companies"))
    assert len(set(bodies.values())) == 1, bodies
    assert UNAUTHORIZED.encode() in bodies["missing"]


def test_a_token_of_another_workspace_gets_the_404_of_a_missing_object(globex, missing_object):
    _token, globex_secret = token_for("globex", "owner")
    response = ApiClient("acme", globex_secret).get("/companies")
    assert response.status_code == 404
    assert response.content == missing_object.content


def test_lowering_the_members_role_shrinks_the_token_at_once(acme):
    _token, secret = token_for("acme", "manager")
    client = ApiClient("acme", secret)
    assert client.get("/members").status_code == 200
    rbac_services.membership_change_role(
        tenant=acme,
        actor=factories.membership(acme, "owner"),
        membership=factories.membership(acme, "manager"),
        role="employee",
    )
    refused = client.get("/members")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "This token does not allow members:view."
    assert client.get("/companies").status_code == 200  # employees still see companies


def test_a_read_only_token_cannot_write_and_the_refusal_is_audited(acme):
    owner = factories.membership(acme, "owner")
    token, secret = token_for("acme", "owner", scopes=services.scopes_read_only(owner))
    response = ApiClient("acme", secret).post("/companies", {"name": "Should not exist"})
    assert response.status_code == 403
    assert response.json() == {
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
        "detail": "This token does not allow companies:create.",
    }
    with tenant_context(acme):
        refusal = AuditEvent.objects.filter(event_type=Event.API_TOKEN_REFUSED).get()
        assert refusal.actor_kind == "api_token"
        assert refusal.actor_id == owner.user_id
        assert refusal.additional_data == {"capability": "companies:create", "api_token": token.pk}
        from shop.models import Company

        assert not Company.objects.filter(name="Should not exist").exists()


def test_scopes_must_be_capabilities_the_member_holds(acme):
    sales = factories.membership(acme, "sales")
    with tenant_context(acme), pytest.raises(ValidationError) as refused:
        services.api_token_create(
            tenant=acme,
            owner=sales,
            name="too much",
            scopes=["members:manage", "companies:view"],
            expires_at=timezone.now() + timedelta(days=1),
            created_by=sales,
        )
    assert refused.value.message_dict == {
        "scopes": ["You cannot give a token a permission you do not have: members:manage."]
    }


@pytest.mark.parametrize(
    ("expires_in", "message"),
    [
        (None, services.EXPIRY_REQUIRED),
        (timedelta(days=366), services.EXPIRY_TOO_FAR),
        (timedelta(seconds=-1), services.EXPIRY_PAST),
    ],
)
def test_every_token_expires_within_a_year(acme, expires_in, message):
    owner = factories.membership(acme, "owner")
    expires_at = None if expires_in is None else timezone.now() + expires_in
    with tenant_context(acme), pytest.raises(ValidationError) as refused:
        services.api_token_create(
            tenant=acme,
            owner=owner,
            name="x",
            scopes=["companies:view"],
            expires_at=expires_at,
            created_by=owner,
        )
    assert refused.value.message_dict == {"expires_at": [message]}


def test_a_support_agent_gets_no_token(acme):
    owner = factories.membership(acme, "owner")
    owner.user.is_support_agent = True
    owner.user.save(update_fields=["is_support_agent"])
    with tenant_context(acme), pytest.raises(PermissionDenied, match="Support agents"):
        services.api_token_create(
            tenant=acme,
            owner=owner,
            name="agent",
            scopes=["companies:view"],
            expires_at=timezone.now() + timedelta(days=1),
            created_by=owner,
        )


def test_creating_and_revoking_are_audited_and_only_owners_revoke_others_tokens(acme):
    sales_token, _secret = token_for("acme", "sales")
    with tenant_context(acme):
        created = AuditEvent.objects.get(
            event_type=Event.API_TOKEN_CREATED, target_id=str(sales_token.pk)
        )
        assert created.target_id == str(sales_token.pk)
        assert created.additional_data["for"] == "sales@acme.example"
        with pytest.raises(PermissionDenied, match=services.CANNOT_REVOKE):
            services.api_token_revoke(
                tenant=acme, actor=factories.membership(acme, "manager"), token=sales_token
            )
        services.api_token_revoke(
            tenant=acme, actor=factories.membership(acme, "owner"), token=sales_token
        )
        revoked = AuditEvent.objects.get(event_type=Event.API_TOKEN_REVOKED)
        assert revoked.target_id == str(sales_token.pk)
        assert revoked.actor_email == "owner@acme.example"


def test_the_token_records_its_last_use(acme):
    token, secret = token_for("acme", "owner")
    ApiClient("acme", secret, ip="198.51.100.7").get("/companies")
    with tenant_context(acme):
        used = ApiToken.objects.get(pk=token.pk)
    assert used.last_used_ip == "198.51.100.7"
    assert used.last_used_at is not None


def test_the_read_only_preset_is_the_members_read_capabilities(acme):
    owner = factories.membership(acme, "owner")
    preset = services.scopes_read_only(owner)
    assert "companies:view" in preset
    assert "companies:create" not in preset
    assert set(preset) <= capabilities_for(owner)
