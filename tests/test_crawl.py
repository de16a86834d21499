"""No dead buttons, no hidden paths: crawl the workspace as each role.

For each of the ten roles, signed in on acme's host, a breadth-first crawl starts at "/" and
follows every same-host link (``<a href>``, htmx ``hx-get``) whose endpoint is not PUBLIC.
On every page fetched, every link, every form action (``<form action>``, ``formaction``) and
every htmx endpoint is resolved against the tenant URLconf and must:

- resolve (no link to a URL that does not exist), and
- lead to an endpoint whose declared capability the role holds, or a PUBLIC one (no button
  the gate would refuse).

Every page fetched must answer 200 (a redirect is followed as another link) and carry the
security headers (``tests/security_headers.py``: a strict Content-Security-Policy,
Permissions-Policy, Referrer-Policy and the rest). Forms are never
submitted: their actions are only checked. Pages are fetched once per path (query strings
such as sort and filter re-render the same page); an object page pattern (e.g. a quote's
page) is fetched for a bounded number of objects (``PER_PATTERN``: every seeded shop record,
a few members and audit events), while the links of every fetched page are all checked.
The seeded workspace is small, so this reaches every kind of page each role can see;
``_crawl_extras`` adds the states the seed lacks (an accepted quote without an order, an
order without an invoice).

Finally every capability the role holds that some tenant view declares must be reachable:
the capability of some linked endpoint or form action on some page. A capability without a
way to it is a hidden path (the map grants it, but nobody can find it).

Crawl sizes are recorded per role (``record_property("crawl", ...)``) and printed in the
terminal summary by ``tests/conftest.py``.
"""

from __future__ import annotations

from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.test import Client
from django.urls import Resolver404, resolve
from django_tenants.utils import tenant_context

from conftest import sign_in_client
from kernel.capabilities import PUBLIC, ROLE_CAPABILITIES
from kernel.decorators import declared_capability
from kernel.roles import Role
from rbac.models import Membership
from tests.security_headers import security_header_problems
from tests.urls import tenant_urls

pytestmark = pytest.mark.django_db

URLCONF = "config.urls_tenant"
# Object pages fetched per URL pattern. A shop record's page changes with its state (a draft
# quote has Edit, a sent one Accept), so every seeded record's page is visited; a member's or
# an audit event's page looks the same for every row, so a few are enough.
PER_PATTERN = 3
PER_PATTERN_BY_NAMESPACE = {"shop": 12}
MAX_PAGES = 400  # a runaway guard, far above what the seeded workspace yields
_LINK_ATTRIBUTES = {"hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete", "formaction"}


class _Links(HTMLParser):
    """Collects (kind, url) pairs: kind is "link" (followed) or "action" (only checked)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self.forms_without_action = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "a" and attributes.get("href"):
            self.found.append(("link", attributes["href"]))
        if tag == "form":
            action = attributes.get("action")
            if action:
                method = (attributes.get("method") or "get").lower()
                self.found.append(("action" if method != "get" else "get-form", action))
            else:
                self.forms_without_action += 1  # posts back to the page itself
        for name in _LINK_ATTRIBUTES & set(attributes):
            if attributes[name]:
                kind = "link" if name == "hx-get" else "action"
                self.found.append((kind, attributes[name]))


def _view_capabilities() -> set[str]:
    """Capabilities some tenant view declares (others have no page yet to reach)."""
    return {declared_capability(url.callback) for url in tenant_urls()} - {PUBLIC, None}


def _crawl_extras(acme) -> None:
    """States the seed lacks, so every action button has a page it appears on."""
    from datetime import timedelta

    from django.utils import timezone

    from shop import services
    from shop.models import Company
    from shop.services import LineInput
    from shop.tests.seed import company_one_name

    owner = Membership.objects.select_related("user", "tenant").get(tenant=acme, role=Role.OWNER)
    actor = {"tenant": acme, "actor": owner}
    from decimal import Decimal

    with tenant_context(acme):
        company = Company.objects.get(name=company_one_name("acme"))
        lines = [LineInput("Crawl window decal", Decimal("2"), Decimal("40.00"))]
        awaiting_order = services.quote_create(
            **actor, company=company, title="Crawl accepted, no order yet", lines=lines
        )
        services.quote_send(**actor, quote=awaiting_order)
        services.quote_accept(**actor, quote=awaiting_order)
        to_invoice = services.quote_create(
            **actor, company=company, title="Crawl order, no invoice yet", lines=lines
        )
        services.quote_send(**actor, quote=to_invoice)
        services.quote_accept(**actor, quote=to_invoice)
        services.order_create_from_quote(
            **actor,
            quote=to_invoice,
            assignee=None,
            due_date=timezone.localdate() + timedelta(days=7),
        )


def _same_host_path(base: str, href: str) -> str | None:
    """The path of a same-host URL, or None for other hosts, fragments, mailto: and static."""
    if href.startswith(("mailto:", "tel:", "javascript:", "#")):
        return None
    absolute = urljoin(f"http://acme.localhost{base}", href)
    parts = urlsplit(absolute)
    if parts.hostname != "acme.localhost" or parts.path.startswith("/static/"):
        return None
    return parts.path


def crawl(client: Client, capabilities: frozenset[str]) -> dict:
    """BFS from "/"; returns sizes, problems and the capabilities of everything linked."""
    queue = deque(["/"])
    seen_paths: set[str] = {"/"}
    per_pattern: dict[str, int] = {}
    problems: list[str] = []
    reached: set[str] = set()
    pages = links = 0
    while queue and pages < MAX_PAGES:
        path = queue.popleft()
        response = client.get(path)
        pages += 1
        if response.status_code in (301, 302, 303):
            targets = [("link", response["Location"])]
        elif response.status_code != 200:
            problems.append(f"GET {path} answered {response.status_code}")
            continue
        elif not response.get("Content-Type", "").startswith("text/html"):
            continue  # a download: nothing to follow
        else:
            problems += [f"GET {path}: {problem}" for problem in security_header_problems(response)]
            parser = _Links()
            parser.feed(response.content.decode())
            targets = parser.found
        for kind, href in targets:
            target = _same_host_path(path, href)
            if target is None:
                continue
            links += 1
            try:
                match = resolve(target, urlconf=URLCONF)
            except Resolver404:
                problems.append(f"{path}: {kind} to {target} leads nowhere")
                continue
            capability = declared_capability(match.func)
            if capability != PUBLIC and capability not in capabilities:
                problems.append(f"{path}: {kind} to {target} needs {capability}")
                continue
            reached.add(capability)
            if kind != "link" or capability == PUBLIC or target in seen_paths:
                continue
            limit = PER_PATTERN_BY_NAMESPACE.get(match.namespace, PER_PATTERN)
            if match.kwargs and per_pattern.get(match.view_name, 0) >= limit:
                continue
            per_pattern[match.view_name] = per_pattern.get(match.view_name, 0) + 1
            seen_paths.add(target)
            queue.append(target)
    return {"pages": pages, "links": links, "problems": problems, "reached": reached}


@pytest.mark.parametrize("role", [role.value for role in Role])
def test_every_link_and_form_leads_somewhere_the_role_may_go_and_every_capability_is_reachable(
    role, acme, member, record_property
):
    _crawl_extras(acme)
    capabilities = ROLE_CAPABILITIES[role]
    client = sign_in_client(Client(), member("acme", role), acme)
    result = crawl(client, capabilities)
    record_property("crawl", {"role": role, "pages": result["pages"], "links": result["links"]})
    print(f"crawl {role}: {result['pages']} pages, {result['links']} links")
    assert result["problems"] == [], "\n".join(result["problems"])
    unreachable = sorted((capabilities & _view_capabilities()) - result["reached"])
    assert unreachable == [], f"{role} holds {unreachable} but no page links to them"
    assert result["pages"] < MAX_PAGES
