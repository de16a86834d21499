"""Cross-tenant isolation sweep over every tenant URL, enumerated from the URLconf.

A member of globex must get, for anything of acme's, exactly what a missing object gets,
and acme's marker strings must never appear in any response to globex. A new URL is covered
automatically; a new URL with an object id whose model this sweep cannot map fails it.
"""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.test import Client
from django_tenants.utils import tenant_context

from conftest import sign_in_client
from kernel.capabilities import PUBLIC, ROLE_CAPABILITIES
from kernel.decorators import declared_capability
from tests.urls import TenantUrl, tenant_urls

pytestmark = pytest.mark.django_db

# URL name prefix -> the model whose primary key the URL's <int:pk> names.
OBJECT_MODELS = {
    "shop:company": "shop.Company",
    "shop:contact": "shop.Contact",
    "shop:quote": "shop.Quote",
    "shop:order": "shop.Order",
    "shop:invoice": "shop.Invoice",
    "shop:file": "shop.StoredFile",
    "desk:ticket": "desk.Ticket",
    "desk:attachment": "desk.TicketAttachment",
    "desk:asset": "desk.Asset",
    "desk:request-attachment": "desk.TicketAttachment",
    "desk:request": "desk.Ticket",
    "desk:portal-asset": "desk.Asset",
    "docrequests:item": "docrequests.RequestItem",
    "docrequests:upload": "docrequests.Upload",
    "docrequests:": "docrequests.DocumentRequest",
    "audit:event": "audit.AuditEvent",
    "exports:": "exports.ExportJob",
    # Public-schema rows with global ids: _ids() narrows them by their tenant column.
    "rbac:member": "rbac.Membership",
    "rbac:company-person": "rbac.Membership",
    "rbac:invitation": "rbac.Invitation",
    "rbac:company-invitation": "rbac.Invitation",
    "accounts:session": "accounts.UserSession",
    "support_access:grant": "support.SupportAccessGrant",
    "api-tokens:": "api.ApiToken",
}
ACME_MARKERS = (
    b"MARKER-acme",
    b"acme-marker.example",
    b"marker-acme-artwork",
    b"Acme Signs",
    # The desk's seed (desk.tests.seed): request subjects, notes, asset serials, file names.
    b"at acme company",
    b"INTERNAL-NOTE-acme",
    b"SN-acme-",
    b"jam-acme-",
    b"public-acme-",
    b"internal-acme-",
)
_CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"|"X-CSRFToken": "[^"]+"')


def _model_for(url: TenantUrl):
    for prefix, label in sorted(OBJECT_MODELS.items(), key=lambda item: -len(item[0])):
        if url.name.startswith(prefix):
            return apps.get_model(label)
    raise AssertionError(f"{url.name} takes an object id; map it in OBJECT_MODELS")


def _object_urls() -> list[TenantUrl]:
    # A PUBLIC URL's parameter is a secret token, not an object id (sign-in hand-off,
    # invitation link); each token flow proves its own cross-workspace refusal in its tests.
    return [
        url
        for url in tenant_urls()
        if url.converters and declared_capability(url.callback) != PUBLIC
    ]


def _ids(model, tenant) -> list:
    """Ids of ``tenant``'s rows: its schema's tables, or its rows of a public-schema table."""
    with tenant_context(tenant):
        rows = model.objects.all()
        if any(field.name == "tenant" for field in model._meta.fields):
            rows = rows.filter(tenant=tenant)
        return list(rows.order_by("pk").values_list("pk", flat=True))


def _plain_urls() -> list[TenantUrl]:
    return [url for url in tenant_urls() if not url.converters]


def _assert_no_acme_markers(response, where: str) -> None:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    for marker in ACME_MARKERS:
        assert marker not in body, f"{where} leaked {marker!r}"


def _missing_response(client: Client, url: TenantUrl, method: str):
    return getattr(client, method)(url.path(**url.placeholder_kwargs()))


@pytest.fixture
def globex_owner_on_acme_host(acme, member):
    return sign_in_client(Client(), member("globex", "owner"), acme)


@pytest.fixture
def globex_owner(globex, member):
    return sign_in_client(Client(), member("globex", "owner"), globex)


@pytest.mark.parametrize("method", ["get", "post"])
def test_globex_member_on_acme_host_gets_the_missing_object_404_everywhere(
    method, acme, globex_owner_on_acme_host, client_for
):
    acme_owner = client_for("acme", "owner")
    missing = acme_owner.get("/this-page-does-not-exist/")
    assert missing.status_code == 404
    checked = 0
    for url in tenant_urls():
        if declared_capability(url.callback) == PUBLIC:
            continue
        if url.converters:
            model = _model_for(url)
            ids = _ids(model, acme)[:3]
            assert ids, f"no acme {model.__name__} seeded for {url.name}"
            paths = [url.path(**url.placeholder_kwargs(object_id)) for object_id in ids]
        else:
            paths = [url.path()]
        for path in paths:
            response = getattr(globex_owner_on_acme_host, method)(path)
            assert response.status_code == 404, f"{method.upper()} {path}"
            assert response.content == missing.content, f"{method.upper()} {path}"
            checked += 1
    # Every URL not public to the session gate (the JSON API's are: its own gate answers
    # them, api/tests/test_gate.py) was asked at least once.
    gated = [url for url in tenant_urls() if declared_capability(url.callback) != PUBLIC]
    assert checked >= len(gated)


@pytest.mark.parametrize("method", ["get", "post"])
def test_acme_object_ids_on_globex_host_behave_like_missing_objects(
    method, acme, globex, globex_owner, client_for
):
    for url in _object_urls():
        model = _model_for(url)
        acme_ids = set(_ids(model, acme))
        globex_ids = set(_ids(model, globex))
        # A globex member whose role passes the gate for this URL (the owner, unless the
        # capability is a customer role's), so the view's own lookup is what answers.
        capability = declared_capability(url.callback)
        holder = next(r for r in ROLE_CAPABILITIES if capability in ROLE_CAPABILITIES[r])
        client = globex_owner if holder == "owner" else client_for("globex", holder)
        missing = _missing_response(client, url, method)
        for object_id in sorted(acme_ids)[:5]:
            response = getattr(client, method)(url.path(**url.placeholder_kwargs(object_id)))
            where = f"{method.upper()} {url.name}({object_id})"
            if object_id not in globex_ids:
                # 404; or 405 for a POST to a page that only reads, answered before any
                # lookup (an earlier delete URL may have removed globex's own object).
                assert response.status_code == missing.status_code, where
                assert missing.status_code in (404, 405 if method == "post" else 404), where
                assert _CSRF.sub(b"", response.content) == _CSRF.sub(b"", missing.content), where
            _assert_no_acme_markers(response, where)


def test_globex_pages_lists_and_searches_never_show_acme_rows(globex_owner):
    searches = ["", "MARKER", "acme", "marker-contact", "artwork", "a"]
    pages = 0
    for url in _plain_urls():
        if declared_capability(url.callback) == PUBLIC:
            continue
        for query in searches:
            response = globex_owner.get(url.path(), {"q": query} if query else {})
            _assert_no_acme_markers(response, f"GET {url.name}?q={query}")
            pages += 1
    assert pages > 0


def test_globex_own_marker_is_visible_to_globex_so_the_search_really_ran(globex_owner):
    from django.urls import reverse

    response = globex_owner.get(
        reverse("shop:company-list", urlconf="config.urls_tenant"), {"q": "MARKER"}
    )
    assert response.status_code == 200
    assert b"MARKER-globex" in response.content
