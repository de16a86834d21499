"""Every tenant URL declares the capability it needs; an undeclared one fails here."""

from __future__ import annotations

from kernel.capabilities import ALL_CAPABILITIES, PUBLIC
from kernel.decorators import declared_capability
from tests.urls import tenant_urls


def test_every_tenant_url_declares_a_known_capability():
    undeclared = [url.route for url in tenant_urls() if declared_capability(url.callback) is None]
    assert undeclared == []
    for url in tenant_urls():
        assert declared_capability(url.callback) in ALL_CAPABILITIES | {PUBLIC}, url.route


def test_the_url_enumeration_sees_the_workspace_pages():
    names = {url.name for url in tenant_urls()}
    assert {"accounts:sign-in", "accounts:sign-out", "shop:home"} <= names


def test_a_view_without_declaration_is_refused_by_the_gate(client_for, settings):
    """Fail closed: the gate raises rather than serving an undeclared view."""
    import pytest
    from django.core.exceptions import ImproperlyConfigured
    from django.http import HttpResponse
    from django.urls import path

    def undeclared(request):
        return HttpResponse("should never be served")

    urlconf = type("Urls", (), {"urlpatterns": [path("undeclared/", undeclared)]})
    client = client_for("acme", "owner")
    client.raise_request_exception = True
    from unittest import mock

    with mock.patch(
        "django_tenants.middleware.main.TenantMainMiddleware.setup_url_routing"
    ) as routing:

        def route(request, force_public=False):
            request.urlconf = urlconf

        routing.side_effect = route
        with pytest.raises(ImproperlyConfigured, match="declares no capability"):
            client.get("/undeclared/")
