"""Security headers on every HTML response, and templates a strict CSP can serve.

The crawl (tests/test_crawl.py) checks the headers on every workspace page each role sees;
this module covers the public site, the pages anonymous visitors reach, the error pages, and
the templates and static files themselves.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.security_headers import csp_directives, security_header_problems

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _template_files() -> list[Path]:
    folders = [PROJECT_ROOT / "templates", *PROJECT_ROOT.glob("*/templates")]
    return sorted(path for folder in folders for path in folder.rglob("*.html"))


class _InlineCode(HTMLParser):
    """Finds what a strict CSP refuses: inline scripts and styles, event handlers, js: URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and not attributes.get("src"):
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style> block")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{name}= handler on <{tag}>")
            if name == "style":
                self.found.append(f"style= attribute on <{tag}>")
            if name.startswith("hx-on"):
                self.found.append(f"{name} (htmx evaluates it as script) on <{tag}>")
            if (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL in {name} on <{tag}>")
            if name in {"hx-vals", "hx-headers"} and (value or "").strip().startswith("js:"):
                self.found.append(f"{name} evaluated as script on <{tag}>")


def test_the_template_scan_finds_every_kind_of_inline_code():
    parser = _InlineCode()
    parser.feed(
        '<script>alert(1)</script><style>p{}</style><a onclick="x()" href="javascript:y()">'
        '<p style="color:red" hx-on:click="z()" hx-vals="js:{a: 1}"></p>'
    )
    assert parser.found == [
        "<script> without src",
        "<style> block",
        "onclick= handler on <a>",
        "javascript: URL in href on <a>",
        "style= attribute on <p>",
        "hx-on:click (htmx evaluates it as script) on <p>",
        "hx-vals evaluated as script on <p>",
    ]


def test_no_template_holds_inline_script_event_handlers_or_inline_styles():
    templates = _template_files()
    assert len(templates) > 50  # the scan really reads the project's templates
    found = []
    for path in templates:
        # Template tags become a placeholder so the HTML parser sees the markup around them.
        text = re.sub(r"{%.*?%}|{{.*?}}", "X", path.read_text(), flags=re.DOTALL)
        parser = _InlineCode()
        parser.feed(text)
        found += [f"{path.relative_to(PROJECT_ROOT)}: {what}" for what in parser.found]
    assert found == []


def test_htmx_is_configured_never_to_evaluate_strings_or_inject_styles():
    base = (PROJECT_ROOT / "templates" / "base.html").read_text()
    config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", base)
    assert config is not None
    assert '"allowEval": false' in config.group(1)
    assert '"allowScriptTags": false' in config.group(1)
    assert '"includeIndicatorStyles": false' in config.group(1)


def test_no_static_script_evaluates_strings():
    scripts = list((PROJECT_ROOT / "static" / "js").rglob("*.js"))
    assert scripts
    for path in scripts:
        text = path.read_text()
        assert not re.search(r"\beval\(|new Function\(|setTimeout\(\s*['\"]", text), path


def test_content_security_policy_is_strict():
    csp = csp_directives(_policy_header())
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    # Sign-up and the support console post a form that redirects to a workspace's own host.
    assert csp["form-action"] == [
        "'self'",
        f"http://{settings.APP_DOMAIN}:{settings.APP_PORT}",
        f"http://*.{settings.APP_DOMAIN}:{settings.APP_PORT}",
    ]


def _policy_header() -> str:
    from django.http import HttpResponse
    from django.test import RequestFactory

    from kernel.security_headers import SecurityHeadersMiddleware

    response = SecurityHeadersMiddleware(lambda request: HttpResponse())(RequestFactory().get("/"))
    return response["Content-Security-Policy"]


PUBLIC_PAGES = ["/", "/security/", "/signup/", "/find-workspaces/", "/support/sign-in/"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_carry_the_security_headers(path):
    response = Client(HTTP_HOST="localhost").get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert security_header_problems(response) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("acme.localhost", "/accounts/sign-in/"),
        ("acme.localhost", "/accounts/password-reset/"),
        ("acme.localhost", "/invitations/no-such-invitation-token/"),
        ("nosuchshop.localhost", "/"),  # the unknown-workspace page, before any URLconf
        ("localhost", "/no-such-page/"),
        ("acme.localhost", "/no-such-page/"),
        ("evil.example", "/"),  # a host we do not serve: 400
    ],
)
def test_pages_anonymous_visitors_reach_carry_the_security_headers(host, path):
    response = Client(HTTP_HOST=host).get(path)
    assert response["Content-Type"].startswith("text/html")
    assert security_header_problems(response) == []


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["localhost", "acme.localhost"])
def test_every_stylesheet_and_script_a_page_links_is_served_with_debug_off(host):
    assert settings.DEBUG is False
    page = Client(HTTP_HOST=host).get("/accounts/sign-in/" if host != "localhost" else "/")
    assets = re.findall(rb'(?:href|src)="(/static/[^"]+)"', page.content)
    assert len(assets) >= 3  # pico, app.css, htmx
    for asset in assets:
        response = Client(HTTP_HOST=host).get(asset.decode())
        assert response.status_code == 200, asset
        expected = "text/css" if asset.endswith(b".css") else "text/javascript"
        assert response["Content-Type"].startswith(expected), asset
        assert response["X-Content-Type-Options"] == "nosniff"
