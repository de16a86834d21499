"""Keyset pagination: walking a list page by page gives exactly the one-page order, rows
written between two pages shift nothing, and bad cursors and sorts get a field error."""

from __future__ import annotations

import pytest
from django.core import signing
from django_tenants.utils import tenant_context

from api.pagination import CURSOR_INVALID, SORT_UNKNOWN
from api.tests.conftest import ApiClient, token_for
from shop.tests import factories

pytestmark = pytest.mark.django_db


def _owner(slug: str = "acme") -> ApiClient:
    return ApiClient(slug, token_for(slug, "owner")[1])


def _walk(client: ApiClient, path: str, params: dict, limit: int) -> list[int]:
    ids: list[int] = []
    cursor = None
    for _ in range(100):
        response = client.get(
            path, {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.content
        body = response.json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize(
    ("path", "sort"),
    [
        ("/companies", "-name"),
        ("/orders", "due_date"),  # nullable: NULLs last ascending ...
        ("/orders", "-due_date"),  # ... and first descending
        ("/orders", "assignee"),  # a related, nullable column
        ("/tickets", "-due"),
        ("/members", "name"),
        ("/quotes", ""),  # the default order
    ],
)
def test_walking_a_list_page_by_page_gives_the_one_page_order(acme, path, sort):
    owner = factories.membership(acme, "owner")
    with tenant_context(acme):
        company = factories.make_company(acme, actor=owner, name="Walk Co")
        factories.make_order(acme, company=company)  # no due date, no assignee
    client = _owner()
    whole = client.get(path, {"sort": sort, "limit": 200}).json()["items"]
    assert len(whole) >= 2
    walked = _walk(client, path, {"sort": sort}, limit=1)
    assert walked == [item["id"] for item in whole]


def test_a_row_written_between_two_pages_neither_repeats_nor_skips_one(acme):
    client = _owner()
    first = client.get("/companies", {"sort": "name", "limit": 2}).json()
    seen = [item["name"] for item in first["items"]]
    with tenant_context(acme):
        factories.make_company(acme, name="  AAA first of all")  # sorts before the cursor
    rest = _walk(client, "/companies", {"sort": "name"}, limit=200)
    second = client.get(
        "/companies", {"sort": "name", "limit": 200, "cursor": first["next_cursor"]}
    ).json()
    names = [item["name"] for item in second["items"]]
    assert not set(seen) & set(names)
    assert len(rest) == len(seen) + len(names) + 1  # the new row is found from the start


def test_a_forged_edited_or_replayed_cursor_is_a_field_error(acme):
    client = _owner()
    first = client.get("/companies", {"sort": "name", "limit": 1}).json()
    cursor = first["next_cursor"]
    forged = signing.dumps({"c": {"q": "", "sort": "name"}, "k": ["A", 1]}, salt="other")
    edited = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    for bad, params in [
        (forged, {"sort": "name"}),
        (edited, {"sort": "name"}),
        (cursor, {"sort": "-name"}),  # made for another sort
        (cursor, {"sort": "name", "q": "bakery"}),  # made for other filters
    ]:
        response = client.get("/companies", {**params, "cursor": bad})
        assert response.status_code == 422, bad
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["errors"] == [{"field": "cursor", "message": CURSOR_INVALID}]


def test_a_sort_outside_the_whitelist_is_a_field_error_naming_the_choices(acme):
    response = _owner().get("/companies", {"sort": "password"})
    assert response.status_code == 422
    message = SORT_UNKNOWN.format(options="name, email, phone, created")
    assert response.json()["errors"] == [{"field": "sort", "message": message}]
    assert _owner().get("/members", {"sort": "-secret"}).status_code == 422


def test_filters_narrow_a_list(acme):
    client = _owner()
    with tenant_context(acme):
        company = factories.make_company(acme, name="Filter Co")
        factories.make_quote(acme, company=company, title="Filtered sign")
    drafts = client.get("/quotes", {"status": "draft", "q": "Filtered"}).json()["items"]
    assert [quote["title"] for quote in drafts] == ["Filtered sign"]
    assert drafts[0]["lines"][0]["description"] == "Vinyl banner 3x6 ft"
    assert client.get("/quotes", {"status": "sent", "q": "Filtered"}).json()["items"] == []
