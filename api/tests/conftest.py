"""Fixtures for the API tests: tokens made through the service, and a client per token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from api.services import api_token_create
from kernel.capabilities import capabilities_for
from shop.tests import factories
from tenants.models import Tenant


def token_for(slug: str, role: str, *, scopes=None, days: int = 30, name: str = "test"):
    """A token for ``slug``'s seeded member with ``role`` (all their capabilities by
    default); returns (ApiToken, secret)."""
    tenant = Tenant.objects.get(slug=slug)
    member = factories.membership(tenant, role)
    with tenant_context(tenant):
        created = api_token_create(
            tenant=tenant,
            owner=member,
            name=name,
            scopes=sorted(capabilities_for(member)) if scopes is None else scopes,
            expires_at=timezone.now() + timedelta(days=days),
            created_by=member,
        )
    return created.token, created.secret


class ApiClient:
    """GET/POST/PUT/PATCH/DELETE JSON against one workspace host with one token."""

    def __init__(self, slug: str, secret: str | None, *, ip: str = "192.0.2.10"):
        self.client = Client(HTTP_HOST=f"{slug}.localhost", REMOTE_ADDR=ip)
        self.secret = secret

    def _headers(self, extra):
        headers = {} if self.secret is None else {"Authorization": f"Bearer {self.secret}"}
        return {**headers, **(extra or {})}

    def get(self, path, data=None, headers=None):
        return self.client.get(f"/api/v1{path}", data or {}, headers=self._headers(headers))

    def post(self, path, body, headers=None):
        return self.client.post(
            f"/api/v1{path}", body, content_type="application/json", headers=self._headers(headers)
        )

    def upload(self, path, data, headers=None):
        """POST multipart/form-data (files among ``data``)."""
        return self.client.post(f"/api/v1{path}", data, headers=self._headers(headers))

    def put(self, path, body, headers=None):
        return self.client.put(
            f"/api/v1{path}", body, content_type="application/json", headers=self._headers(headers)
        )

    def patch(self, path, body, headers=None):
        return self.client.patch(
            f"/api/v1{path}", body, content_type="application/json", headers=self._headers(headers)
        )

    def delete(self, path, headers=None):
        return self.client.delete(f"/api/v1{path}", headers=self._headers(headers))


@pytest.fixture
def api_as(db):
    """api_as(slug, role, scopes=None) -> an ApiClient with a fresh token of that member."""

    def make(slug: str, role: str = "owner", *, scopes=None) -> ApiClient:
        _token, secret = token_for(slug, role, scopes=scopes)
        return ApiClient(slug, secret)

    return make
