"""The OpenAPI document: committed, served, and readable without script."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from api.schema_file import COMMITTED, document_json

pytestmark = pytest.mark.django_db


def test_the_committed_document_is_the_one_the_code_generates():
    assert COMMITTED.read_text() == document_json(), "run: manage.py api_schema"


def test_the_check_command_fails_on_a_stale_document(tmp_path, monkeypatch):
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n")
    monkeypatch.setattr("api.management.commands.api_schema.COMMITTED", stale)
    with pytest.raises(CommandError, match="out of date"):
        call_command("api_schema", "--check")
    call_command("api_schema")
    assert stale.read_text() == document_json()
    call_command("api_schema", "--check")


def test_the_document_is_openapi_3_1_and_served_without_a_token():
    response = Client(HTTP_HOST="acme.localhost").get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.1")
    assert response.content.decode() == document_json()
    assert "/api/v1/companies" in document["paths"]
    assert document["paths"]["/api/v1/companies"]["get"]["x-capability"] == "companies:view"


def test_the_docs_page_lists_every_operation_and_carries_no_inline_script():
    response = Client(HTTP_HOST="acme.localhost").get("/api/v1/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "GET /api/v1/companies" in page
    assert "companies:view" in page
    # The only scripts are the base layout's static files: nothing inline for the CSP.
    assert "<script>" not in page
    assert page.count("<script ") == page.count('<script src="/static/')
    assert "'unsafe-inline'" not in response["Content-Security-Policy"].split("script-src")[1]
