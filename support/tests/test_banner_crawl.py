"""Both banners on every page: crawl the workspace while a support session is live.

The agent (impersonating the owner, so the widest set of pages) must see the impersonation
banner and the "support is viewing" banner on every HTML page; a member must see the latter.
"""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urljoin, urlsplit

import pytest

from support.tests.factories import grant_for, impersonation_client, support_agent

pytestmark = pytest.mark.django_db

_HREF = re.compile(r'href="([^"#]+)"')
PAGE_LIMIT = 60


def _crawl(client) -> dict[str, str]:
    seen: set[str] = set()
    pages: dict[str, str] = {}
    queue = deque(["/"])
    while queue and len(pages) < PAGE_LIMIT:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
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


def test_agent_sees_both_banners_on_every_page(acme):
    grant_for(acme)
    client, _session = impersonation_client(support_agent(), acme, role="owner")
    pages = _crawl(client)
    assert len(pages) > 10
    for path, body in pages.items():
        assert 'id="impersonation-banner"' in body, path
        assert 'id="support-viewing-banner"' in body, path


def test_members_see_support_banner_on_every_page(acme, client_for):
    grant_for(acme)
    impersonation_client(support_agent(), acme)
    for role in ("owner", "customer"):
        pages = _crawl(client_for("acme", role))
        assert pages
        for path, body in pages.items():
            assert 'id="support-viewing-banner"' in body, (role, path)
            assert 'id="impersonation-banner"' not in body, (role, path)
