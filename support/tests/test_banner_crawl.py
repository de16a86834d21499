"""Both banners on every page: crawl the workspace while a support session is live.

The agent (impersonating the owner, so the widest set of pages) must see the impersonation
banner and the "support is viewing" banner on every HTML page; a member must see the latter.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from urllib.parse import urljoin, urlsplit

import pytest
from django.urls import Resolver404, resolve

from support.tests.factories import grant_for, impersonation_client, support_agent

pytestmark = pytest.mark.django_db

_HREF = re.compile(r'href="([^"#]+)"')
# Pages per route (a hundred tickets' pages are one page kind): every kind a link reaches is
# crawled, however many the shop has before the desk's, and the crawl stays bounded.
PAGES_PER_ROUTE = 2


def _route(path: str) -> str:
    try:
        return resolve(path, urlconf="config.urls_tenant").view_name
    except Resolver404:
        return path


def _crawl(client) -> dict[str, str]:
    seen: set[str] = set()
    per_route: Counter[str] = Counter()
    pages: dict[str, str] = {}
    queue = deque(["/"])
    while queue:
        path = queue.popleft()
        route = _route(path)
        if path in seen or per_route[route] >= PAGES_PER_ROUTE:
            continue
        seen.add(path)
        per_route[route] += 1
        response = client.get(path)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        body = response.content.decode()
        pages[path] = body
        for href in _HREF.findall(body):
            url = urlsplit(urljoin(path, href))
            if url.netloc or not url.path.startswith("/") or url.path.startswith("/static/"):
                continue
            if url.path not in seen:
                queue.append(url.path)
    return pages


# The desk and the portal are in the crawl (a page limit once ended it in the shop's pages).
STAFF_DESK_ROUTES = {
    "desk:ticket-list",
    "desk:ticket-detail",
    "desk:dashboard",
    "desk:asset-list",
    "desk:asset-detail",
}
PORTAL_ROUTES = {"desk:request-list", "desk:request-detail", "desk:portal-asset-list"}


def test_agent_sees_both_banners_on_every_page(acme):
    grant_for(acme)
    client, _session = impersonation_client(support_agent(), acme, role="owner")
    pages = _crawl(client)
    assert len(pages) > 10
    crawled = {_route(path) for path in pages}
    assert crawled >= STAFF_DESK_ROUTES, STAFF_DESK_ROUTES - crawled
    for path, body in pages.items():
        assert 'id="impersonation-banner"' in body, path
        assert 'id="support-viewing-banner"' in body, path


def test_members_see_support_banner_on_every_page(acme, client_for):
    grant_for(acme)
    impersonation_client(support_agent(), acme)
    for role in ("owner", "customer"):
        pages = _crawl(client_for("acme", role))
        expected = STAFF_DESK_ROUTES if role == "owner" else PORTAL_ROUTES
        assert expected <= {_route(path) for path in pages}, role
        for path, body in pages.items():
            assert 'id="support-viewing-banner"' in body, (role, path)
            assert 'id="impersonation-banner"' not in body, (role, path)
