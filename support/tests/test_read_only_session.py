"""A read-only support session shows no write button, and the gate agrees with what it shows.

Templates read ``caps``; the gate decides with the same set
(``support.gate.impersonation_capabilities``). In a read-only session that set holds only read
capabilities, so every page fetched must carry no form that posts anywhere except the one way
out (the banner's "End session"; the nav hides sign-out during a session), and no link the
gate refuses.
"""

from __future__ import annotations

from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.urls import Resolver404, resolve

from kernel.capabilities import PUBLIC, capabilities_for
from kernel.decorators import declared_capability
from rbac.models import Membership
from support.gate import (
    FORBIDDEN_CAPABILITIES,
    FORBIDDEN_URL_NAMES,
    READ_CAPABILITIES,
    impersonation_capabilities,
)
from support.tests.factories import grant_for, impersonation_client, support_agent
from tests.urls import tenant_urls

pytestmark = pytest.mark.django_db

URLCONF = "config.urls_tenant"
# The only POST forms a read-only session may be shown: leaving the session, signing out.
POST_ALLOWED = frozenset({"support_access:session-end"})
PAGE_LIMIT = 150
PER_PATTERN = 4


class _Page(HTMLParser):
    """Links followed (``<a href>``, ``hx-get``) and forms as (method, action or "")."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"] or "")
        if attributes.get("hx-get"):
            self.links.append(attributes["hx-get"] or "")
        if tag == "form":
            method = (attributes.get("method") or "get").lower()
            self.forms.append((method, attributes.get("action") or ""))
        for name in ("hx-post", "hx-put", "hx-patch", "hx-delete", "formaction"):
            if attributes.get(name):
                self.forms.append(("post", attributes[name] or ""))


def _tenant_path(host: str, base: str, href: str) -> str | None:
    if href.startswith(("mailto:", "tel:", "javascript:", "#")):
        return None
    parts = urlsplit(urljoin(f"http://{host}{base}", href))
    if parts.hostname != host or parts.path.startswith("/static/"):
        return None
    return parts.path


def _crawl(client, host: str, capabilities: frozenset[str]) -> tuple[int, list[str]]:
    """Breadth-first from "/"; returns (pages fetched, problems)."""
    queue, seen, per_pattern = deque(["/"]), {"/"}, {}
    problems: list[str] = []
    pages = 0
    while queue and pages < PAGE_LIMIT:
        path = queue.popleft()
        response = client.get(path)
        pages += 1
        if response.status_code != 200:
            problems.append(f"GET {path} answered {response.status_code}")
            continue
        if not response.get("Content-Type", "").startswith("text/html"):
            continue
        page = _Page()
        page.feed(response.content.decode())
        for method, action in page.forms:
            if method == "get":
                continue
            target = _tenant_path(host, path, action) if action else path
            try:
                name = resolve(target or "", urlconf=URLCONF).view_name
            except Resolver404:
                name = f"nowhere ({target})"
            if name not in POST_ALLOWED:
                problems.append(f"{path}: a form posts to {name}")
        for href in page.links:
            target = _tenant_path(host, path, href)
            if target is None:
                continue
            try:
                match = resolve(target, urlconf=URLCONF)
            except Resolver404:
                problems.append(f"{path}: link to {target} leads nowhere")
                continue
            capability = declared_capability(match.func)
            if capability == PUBLIC or capability not in capabilities:
                problems.append(f"{path}: link to {target} needs {capability}")
                continue
            if target in seen or (
                match.kwargs and per_pattern.get(match.view_name, 0) >= PER_PATTERN
            ):
                continue
            per_pattern[match.view_name] = per_pattern.get(match.view_name, 0) + 1
            seen.add(target)
            queue.append(target)
    return pages, problems


def _seeded_member(tenant, role: str) -> Membership:
    return Membership.objects.select_related("user").get(
        tenant=tenant, user__email=f"{role}@{tenant.slug}.example", is_active=True
    )


def test_read_only_session_holds_only_the_read_capabilities_of_the_member(acme):
    grant_for(acme, allow_write=True)
    agent = support_agent()
    owner = _seeded_member(acme, "owner")
    _client, read_only = impersonation_client(agent, acme, role="owner")
    assert impersonation_capabilities(read_only, owner) == frozenset(
        {
            "workspace:view",
            "companies:view",
            "quotes:view",
            "orders:view",
            "invoices:view",
            "files:view",
            "tickets:view",
            "assets:view",
            "dashboard:view",
            "document_requests:view",
            "members:view",
            "audit:read",
            "settings:roles",
            "security:verify",
        }
    )
    read_only.write = True
    assert impersonation_capabilities(read_only, owner) == (
        capabilities_for(owner) - FORBIDDEN_CAPABILITIES
    )
    assert impersonation_capabilities(read_only, None) == frozenset()


def test_every_tenant_page_outside_the_read_capabilities_is_refused_in_a_read_only_session(acme):
    """The gate and ``caps`` agree URL by URL: a GET is let through exactly when the session's
    capability set holds the view's capability."""
    grant_for(acme, allow_write=True)
    client, session = impersonation_client(support_agent(), acme, role="owner")
    held = impersonation_capabilities(session, _seeded_member(acme, "owner"))
    checked = 0
    for url in tenant_urls():
        capability = declared_capability(url.callback)  # type: ignore[arg-type]
        if getattr(url.callback, "allowed_during_impersonation", False):
            continue
        status = client.get(url.path(**url.placeholder_kwargs())).status_code
        if capability in held and url.name not in FORBIDDEN_URL_NAMES:
            # A missing object is a 404, a POST-only read view a 405: never refused.
            assert status in (200, 302, 404, 405), (url.name, status)
        else:
            assert status == 403, (url.name, capability, status)
        checked += 1
    assert checked > 60
    session.refresh_from_db()
    assert session.ended_at is None


@pytest.mark.parametrize("role", ["owner", "manager", "accountant", "customer", "company_admin"])
def test_read_only_session_pages_show_no_form_that_writes_and_no_refused_link(acme, role):
    grant_for(acme, allow_write=True)
    membership = _seeded_member(acme, role)
    client, session = impersonation_client(support_agent(), acme, member=membership)
    capabilities = impersonation_capabilities(session, membership)
    assert capabilities <= READ_CAPABILITIES
    pages, problems = _crawl(client, "acme.localhost", capabilities)
    assert problems == [], "\n".join(problems)
    assert pages > 5


def test_write_session_shows_the_write_buttons_a_read_only_session_hides(acme):
    grant_for(acme, allow_write=True)
    agent = support_agent()
    read_only, _session = impersonation_client(agent, acme, role="manager")
    home = read_only.get("/").content.decode()
    assert "New company" not in home
    assert 'href="/companies/new/"' not in home
    assert read_only.get("/companies/new/").status_code == 403
    read_only.post("/support-session/end/")
    write, _session = impersonation_client(agent, acme, role="manager", write=True)
    home = write.get("/").content.decode()
    assert "New company" in home
    assert 'href="/companies/new/"' in home
    assert write.get("/companies/new/").status_code == 200
