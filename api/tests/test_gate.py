"""The API's gate, swept over every operation enumerated from the router: declarations, the
route x role matrix from the capability map, cross-workspace and cross-company lookups, the
cancelled workspace, audit events of API writes, problem documents, Idempotency-Key and the
rate limits."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.utils import timezone
from django_tenants.utils import tenant_context

from api.tests.conftest import ApiClient, token_for
from api.tests.sweeps import BODIES, PARAMETER_MODELS, routes
from audit.models import AuditEvent
from desk.models import Ticket
from desk.services import assets as asset_services
from desk.services import tickets as ticket_services
from exports.models import ExportJob
from kernel.capabilities import (
    ALL_CAPABILITIES,
    CANCELLED_WORKSPACE_EXTRA,
    ROLE_CAPABILITIES,
    capabilities_for,
)
from kernel.roles import Role
from rbac.models import Membership
from shop.models import Company
from shop.services import companies as company_services
from shop.tests import factories
from tenants.models import Tenant
from tenants.writability import WORKSPACE_READ_ONLY_MESSAGE

pytestmark = pytest.mark.django_db


def test_every_operation_declares_a_known_capability():
    found = routes()
    assert len(found) >= 47
    assert [str(r) for r in found if r.capability not in ALL_CAPABILITIES] == []


def test_every_write_has_a_body_for_the_sweeps():
    writes = {(r.method, r.route) for r in routes() if r.method != "GET"}
    assert writes == set(BODIES)


def test_every_path_parameter_names_a_model_the_sweeps_know():
    assert {p for r in routes() for p in r.parameters} == set(PARAMETER_MODELS)


def _client(slug: str, role: str) -> ApiClient:
    member = factories.membership(Tenant.objects.get(slug=slug), role)
    _token, secret = token_for(slug, role, scopes=sorted(capabilities_for(member)))
    return ApiClient(slug, secret)


@pytest.mark.sweep
def test_route_by_role_matrix_follows_the_capability_map(acme):
    problems = []
    for role in Role:
        client = _client("acme", role.value)
        held = ROLE_CAPABILITIES[role]
        for route in routes():
            response = route.call(client)
            refused = response.status_code == 403
            if (route.capability in held) == refused or response.status_code >= 500:
                problems.append(f"{role.value} {route}: {response.status_code}")
            if refused:
                assert response.json()["detail"] == (
                    f"This token does not allow {route.capability}."
                )
    assert problems == []


def _ids(model, tenant) -> list[int]:
    with tenant_context(tenant):
        rows = model.objects.all()
        if model is Membership:
            rows = rows.filter(tenant=tenant)
        return list(rows.order_by("pk").values_list("pk", flat=True))


def _holder(capability: str) -> str:
    if capability in ROLE_CAPABILITIES[Role.OWNER]:
        return "owner"
    return next(role.value for role in Role if capability in ROLE_CAPABILITIES[role])


def _acme_only_records(acme) -> None:
    """Two more of every record an API route names by id, through the services (audit
    events come with them), so acme has ids globex lacks."""
    owner = factories.membership(acme, "owner")
    with tenant_context(acme):
        for number in range(2):
            company = factories.make_company(acme, name=f"MARKER-acme extra {number}")
            company_services.contact_create(
                tenant=acme, actor=owner, company=company, name=f"MARKER-acme contact {number}"
            )
            order = factories.make_order(acme, company=company)
            factories.make_invoice(acme, order=order)
            factories.make_file(acme, company=company)
            asset_services.asset_create(
                tenant=acme,
                actor=owner,
                company_id=company.pk,
                asset_type="Printer",
                name=f"MARKER-acme asset {number}",
            )
            ticket_services.ticket_create(
                tenant=acme,
                actor=owner,
                subject=f"MARKER-acme ticket {number}",
                description="Only acme has this one",
                company_id=company.pk,
                requester_name="Someone",
            )
            ExportJob.objects.create(requested_by=owner.user, status=ExportJob.Status.FAILED)


@pytest.mark.sweep
def test_acme_objects_asked_for_on_globex_get_exactly_what_a_missing_object_gets(acme, globex):
    # The two seeds are alike, so acme gets a few records more: ids globex does not have.
    _acme_only_records(acme)
    with_ids = [route for route in routes() if route.parameters]
    # Tokens first: making one writes globex audit events, whose ids must not catch up.
    clients = {role: _client("globex", role) for role in {_holder(r.capability) for r in with_ids}}
    missing = clients["owner"].get("/companies/999999999")
    assert missing.status_code == 404
    checked = 0
    for route in with_ids:
        model = apps.get_model(PARAMETER_MODELS[route.parameters[0]])
        foreign = sorted(set(_ids(model, acme)) - set(_ids(model, globex)))[-3:]
        assert foreign, f"no acme-only {model.__name__} id for {route}"
        client = clients[_holder(route.capability)]
        for object_id in [999_999_999, *foreign]:
            response = route.call(client, object_id)
            assert (response.status_code, response.content) == (404, missing.content), (
                f"{route} {object_id}"
            )
            assert b"MARKER-acme" not in response.content
            checked += 1
    assert checked >= 4 * 8  # every route with an id: the placeholder and 3 acme ids


@pytest.mark.sweep
def test_a_token_used_on_another_workspaces_host_gets_the_missing_object_404_everywhere(
    acme, globex
):
    missing = _client("globex", "owner").get("/companies/999999999")
    _token, acme_secret = token_for("acme", "owner")
    on_globex = ApiClient("globex", acme_secret)
    for route in routes():
        response = route.call(on_globex)
        assert (response.status_code, response.content) == (404, missing.content), str(route)


def test_a_customer_sees_only_their_own_companys_requests(acme):
    customer = factories.membership(acme, "customer")
    client = _client("acme", "customer")
    listed = client.get("/requests")
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert items
    assert {item["company_id"] for item in items} == {customer.company_id}
    with tenant_context(acme):
        theirs = Ticket.objects.filter(company_id=customer.company_id).first()
        others = list(
            Ticket.objects.exclude(company_id=customer.company_id).values_list("pk", flat=True)
        )
    assert others
    missing = client.get("/requests/999999999")
    for ticket_id in others:
        for path in (f"/requests/{ticket_id}", f"/requests/{ticket_id}/messages"):
            response = client.get(path)
            assert (response.status_code, response.content) == (404, missing.content), path
    assert client.get(f"/requests/{theirs.pk}").status_code == 200
    # Internal notes never reach a customer through the API either.
    messages = client.get(f"/requests/{theirs.pk}/messages").json()
    assert all(message["kind"] == "reply" for message in messages)
    # Staff capabilities stay out of reach: the token cannot hold them.
    assert client.get("/companies").status_code == 403
    assert client.get("/tickets").status_code == 403


def test_a_customers_request_is_filed_for_their_own_company(acme):
    customer = factories.membership(acme, "customer")
    response = _client("acme", "customer").post(
        "/requests", {"subject": "Printer jam", "description": "Paper stuck"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["company_id"] == customer.company_id
    assert response.json()["sla"]["overall"] in {"on_track", "at_risk", "breached", "paused"}


def test_an_api_write_is_audited_as_the_person_with_the_api_token(acme):
    token, secret = token_for("acme", "owner")
    response = ApiClient("acme", secret).post(
        "/companies", {"name": "Made through the API", "email": "api@example.com"}
    )
    assert response.status_code == 201, response.content
    with tenant_context(acme):
        company = Company.objects.get(name="Made through the API")
        event = AuditEvent.objects.filter(target_type="shop.company", target_id=str(company.pk))
        event = event.get()
    assert response.json()["id"] == company.pk
    assert event.actor_kind == "api_token"
    assert event.actor_email == "owner@acme.example"
    assert event.remote_addr == "192.0.2.10"
    assert event.additional_data["api_token"] == token.pk


def test_invalid_input_gets_a_problem_document_with_field_errors(acme):
    client = _client("acme", "owner")
    response = client.post("/companies", {"name": "   "})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "Enter the company's name.",
        "errors": [{"field": "name", "message": "Enter the company's name."}],
    }
    malformed = client.post("/companies", {"email": "x"})
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "name"
    bad_cursor = client.get("/companies?cursor=forged")
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["errors"][0]["field"] == "cursor"


def test_lists_page_with_a_cursor_and_sort(acme):
    client = _client("acme", "owner")
    first = client.get("/companies?limit=1&sort=-name")
    assert first.status_code == 200
    body = first.json()
    assert len(body["items"]) == 1
    second = client.get(f"/companies?limit=1&sort=-name&cursor={body['next_cursor']}")
    assert second.status_code == 200
    assert second.json()["items"][0]["name"] < body["items"][0]["name"]
    # A cursor replayed with another sort is refused rather than skipping rows.
    mixed = client.get(f"/companies?limit=1&sort=name&cursor={body['next_cursor']}")
    assert mixed.status_code == 422


def test_a_retried_post_with_the_same_idempotency_key_creates_once(acme):
    client = _client("acme", "owner")
    headers = {"Idempotency-Key": "create-bakery-1"}
    first = client.post("/companies", {"name": "Idempotent Bakery"}, headers=headers)
    again = client.post("/companies", {"name": "Idempotent Bakery"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    other = client.post("/companies", {"name": "Another Bakery"}, headers=headers)
    assert other.status_code == 422
    assert (
        other.json()["detail"] == "This Idempotency-Key was already used for a different request."
    )
    with tenant_context(acme):
        assert Company.objects.filter(name="Idempotent Bakery").count() == 1
        assert not Company.objects.filter(name="Another Bakery").exists()


def test_a_failed_post_releases_its_idempotency_key(acme):
    client = _client("acme", "owner")
    headers = {"Idempotency-Key": "k"}
    assert client.post("/companies", {"name": " "}, headers=headers).status_code == 422
    assert client.post("/companies", {"name": " "}, headers=headers).status_code == 422


def test_a_cancelled_workspace_refuses_api_writes_and_still_answers_reads(acme):
    clients = {role: _client("acme", role) for role in ("owner", "customer")}
    acme.state = Tenant.State.CANCELLED
    acme.billing_status = Tenant.BillingStatus.CANCELLED
    acme.cancelled_at = timezone.now()
    acme.save()
    for route in routes():
        client = clients[_holder(route.capability)]
        response = route.call(client)
        if route.method == "GET":
            assert response.status_code in (200, 404), str(route)
        elif route.capability in CANCELLED_WORKSPACE_EXTRA:  # exporting stays open
            assert response.status_code in (200, 201, 404, 422), str(route)
        else:
            assert response.status_code == 403, str(route)
            assert response.json()["detail"] == WORKSPACE_READ_ONLY_MESSAGE


def test_no_session_cookie_authenticates_an_api_call(client_for):
    client = client_for("acme", "owner")  # signed in to the pages
    response = client.get("/api/v1/companies", HTTP_HOST="acme.localhost")
    assert response.status_code == 401
    assert "Access-Control-Allow-Origin" not in response


def test_past_the_per_token_limit_the_api_answers_429_with_retry_after_and_ratelimit(
    acme, settings
):
    settings.RATE_LIMITS = {"api_token.token": (2, 60)}
    client = _client("acme", "owner")
    statuses = [client.get("/companies").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = client.get("/companies")
    assert refused["Content-Type"] == "application/problem+json"
    assert int(refused["Retry-After"]) >= 1
    assert refused["RateLimit"].startswith("r=0, t=")
    assert '"api_token.token";q=2;w=60' in refused["RateLimit-Policy"]
