"""Every error under /api/ is an RFC 9457 problem document, whichever layer answers it: the
API's operations, Django's error handlers, the workspace gate and the middleware."""

from __future__ import annotations

import json
from http import HTTPStatus

import pytest
from django.http import HttpResponse, HttpResponseNotAllowed
from django.test import Client, RequestFactory

from api.gate import TOO_LARGE
from api.middleware import ProblemDocumentMiddleware
from api.tests.conftest import ApiClient, token_for
from kernel.errors import API_NOT_FOUND
from support.gate import IMPERSONATION_FORBIDDEN
from support.tests.factories import grant_for, impersonation_client, support_agent

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == PROBLEM
    body = json.loads(response.content)
    assert body["status"] == status
    return body


def test_an_impersonation_cookie_on_the_api_gets_a_403_problem_not_the_html_page(acme):
    grant_for(acme)
    client, _session = impersonation_client(support_agent(), acme, role="owner")
    _token, secret = token_for("acme", "owner")
    response = client.get(
        "/api/v1/companies", HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )
    assert _problem(response, 403)["detail"] == IMPERSONATION_FORBIDDEN


def test_a_session_cookie_without_a_token_gets_the_401_problem(client_for):
    response = client_for("acme", "owner").post(
        "/api/v1/companies",
        {"name": "x"},
        content_type="application/json",
        HTTP_HOST="acme.localhost",
    )
    assert _problem(response, 401)["title"] == "Unauthorized"


def test_an_unknown_api_path_gets_the_missing_object_404_problem(acme):
    _token, secret = token_for("acme", "owner")
    client = ApiClient("acme", secret)
    missing = client.get("/companies/999999999")
    unknown = client.get("/no-such-resource")
    assert _problem(unknown, 404)["detail"] == API_NOT_FOUND == _problem(missing, 404)["detail"]
    on_unknown_host = Client(HTTP_HOST="nowhere.localhost").get("/api/v1/companies")
    assert _problem(on_unknown_host, 404)["detail"] == API_NOT_FOUND


def test_a_method_the_route_does_not_take_gets_a_405_problem_with_allow(acme):
    _token, secret = token_for("acme", "owner")
    response = ApiClient("acme", secret).client.delete(
        "/api/v1/companies", headers={"Authorization": f"Bearer {secret}"}
    )
    body = _problem(response, 405)
    assert "Allow header" in body["detail"]
    assert "GET" in response["Allow"]


def test_a_body_over_the_upload_limit_gets_a_413_problem(acme, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    _token, secret = token_for("acme", "owner")
    response = ApiClient("acme", secret).post("/companies", {"name": "x" * 2000})
    assert _problem(response, 413)["detail"] == TOO_LARGE


def test_a_server_error_in_an_operation_gets_a_500_problem_with_the_request_id(acme, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("shop.selectors.company_list", broken)
    _token, secret = token_for("acme", "owner")
    client = Client(HTTP_HOST="acme.localhost", raise_request_exception=False)
    response = client.get("/api/v1/companies", headers={"Authorization": f"Bearer {secret}"})
    body = _problem(response, 500)
    assert "boom" not in response.content.decode()
    assert "request id" in body["detail"]


def test_the_middleware_turns_any_other_api_error_into_a_problem_and_leaves_pages_alone():
    factory = RequestFactory()
    too_large = ProblemDocumentMiddleware(lambda r: HttpResponse("<h1>big</h1>", status=413))
    body = _problem(too_large(factory.post("/api/v1/files")), 413)
    assert body["title"] == HTTPStatus(413).phrase
    not_allowed = ProblemDocumentMiddleware(lambda r: HttpResponseNotAllowed(["GET"]))
    assert not_allowed(factory.put("/api/v1/companies"))["Allow"] == "GET"
    page = too_large(factory.post("/files/upload/"))
    assert page["Content-Type"].startswith("text/html")
