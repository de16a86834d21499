"""Friendly error pages on every host, and one log line per refused request.

What a visitor sees when something is refused or breaks is our page, never Django's: 400,
403 (including an expired form), 404 and 500, on the public site and on workspace hosts. What
the terminal or the log collector sees is one line per refused request (method, path without
its query string and with link tokens masked, status, request id) and the traceback of a real
500 exactly once.
"""

from __future__ import annotations

import io
import logging
import re

import pytest
from django.test import Client, RequestFactory

from conftest import sign_in_client
from tests.security_headers import security_header_problems

pytestmark = pytest.mark.django_db

STYLESHEET = b'<link rel="stylesheet" href="/static/css/app.css">'


@pytest.fixture
def log_lines():
    """The lines the configured console handler writes while the test runs (read with ())."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    output = io.StringIO()
    previous = handler.setStream(output)
    try:
        yield lambda: output.getvalue().splitlines()
    finally:
        handler.setStream(previous)


def _boom(*args, **kwargs):
    raise RuntimeError("the template engine broke")


# --- The pages --------------------------------------------------------------------------------


def test_a_host_we_do_not_serve_gets_the_friendly_400_page():
    response = Client(HTTP_HOST="evil.example").get("/")
    assert response.status_code == 400
    assert b"<h1>Bad request</h1>" in response.content
    assert STYLESHEET in response.content


@pytest.mark.parametrize("host", ["localhost", "acme.localhost"])
def test_a_missing_page_gets_the_friendly_404_without_url_patterns(host):
    response = Client(HTTP_HOST=host).get("/no-such-page/")
    assert response.status_code == 404
    assert b"<h1>Page not found</h1>" in response.content
    assert STYLESHEET in response.content
    assert b"URLconf" not in response.content
    assert b"accounts/" not in response.content


def test_a_member_without_the_capability_gets_the_friendly_403_page(client_for):
    response = client_for("acme", "employee").get("/settings/audit/")
    assert response.status_code == 403
    assert b"<h1>You can't do that here</h1>" in response.content
    assert b"Your role in this workspace does not allow this action." in response.content
    assert STYLESHEET in response.content


@pytest.mark.parametrize(
    ("host", "path"), [("localhost", "/find-workspaces/"), ("acme.localhost", "/accounts/sign-in/")]
)
def test_a_form_posted_without_its_csrf_token_gets_the_friendly_expired_form_page(host, path):
    response = Client(HTTP_HOST=host, enforce_csrf_checks=True).post(path, {"email": "a@b.example"})
    assert response.status_code == 403
    assert b"<h1>This form has expired</h1>" in response.content
    assert STYLESHEET in response.content
    assert b"CSRF verification failed" not in response.content
    assert security_header_problems(response) == []


@pytest.mark.parametrize(
    ("host", "view_module"),
    [("localhost", "workspace.public_views"), ("acme.localhost", "accounts.views")],
)
def test_a_server_error_gets_the_friendly_500_page_with_the_request_id(
    host, view_module, monkeypatch
):
    monkeypatch.setattr(f"{view_module}.render", _boom)
    path = "/" if host == "localhost" else "/accounts/sign-in/"
    response = Client(HTTP_HOST=host, raise_request_exception=False).get(path)
    assert response.status_code == 500
    assert b"<h1>Something went wrong</h1>" in response.content
    assert STYLESHEET in response.content
    reference = f"<code>{response['X-Request-ID']}</code>".encode()
    assert reference in response.content
    assert b"Traceback" not in response.content
    assert b"the template engine broke" not in response.content
    assert security_header_problems(response) == []


@pytest.mark.usefixtures("_no_database")
def test_the_500_page_renders_without_the_database_or_context_processors():
    from kernel.errors import server_error

    request = RequestFactory().get("/")
    request.request_id = "0123456789abcdef"
    response = server_error(request)
    assert response.status_code == 500
    assert b"<code>0123456789abcdef</code>" in response.content


@pytest.fixture
def _no_database(django_db_blocker):
    """Any query while the 500 page renders raises (pytest-django's blocker)."""
    with django_db_blocker.block():
        yield


def test_both_url_configurations_declare_the_same_error_handlers():
    from config import urls_public, urls_tenant

    for status in ("400", "403", "404", "500"):
        handler = getattr(urls_public, f"handler{status}")
        assert handler == getattr(urls_tenant, f"handler{status}")
        assert handler.startswith("kernel.errors.")


# --- One line per refused request ---------------------------------------------------------------


def _refusal_line(lines: list[str]) -> str:
    assert len(lines) == 1, "\n".join(lines)
    assert "Traceback" not in lines[0]
    return lines[0]


def test_a_refused_capability_is_one_warning_line_with_method_path_status_and_request_id(
    client_for, log_lines
):
    client = client_for("acme", "employee")
    response = client.get("/settings/audit/?token=query-secret")
    assert response.status_code == 403
    line = _refusal_line(log_lines())
    request_id = response["X-Request-ID"]
    assert re.search(
        rf" WARNING django\.request \[ws_acme {request_id}\] GET /settings/audit/ 403 "
        r"\(needs audit:read\)$",
        line,
    ), line
    assert "query-secret" not in line


def test_a_missing_page_is_one_line(client_for, log_lines):
    response = client_for("acme", "owner").get("/no-such-page/?q=1")
    assert response.status_code == 404
    line = _refusal_line(log_lines())
    assert line.endswith(f"[ws_acme {response['X-Request-ID']}] GET /no-such-page/ 404")


def test_a_non_member_refused_by_the_gate_is_one_line_that_says_why(acme, member, log_lines):
    outsider = sign_in_client(Client(), member("globex", "owner"), acme)
    response = outsider.get("/companies/?page=2")
    assert response.status_code == 404
    line = _refusal_line(log_lines())
    user = member("globex", "owner")
    assert line.endswith(
        f"[ws_acme {response['X-Request-ID']}] GET /companies/ 404"
        f" (user {user.pk} is not a member of acme)"
    ), line


def test_a_wrong_method_is_one_line(log_lines):
    response = Client(HTTP_HOST="localhost").post("/security/?next=x")
    assert response.status_code == 405
    line = _refusal_line(log_lines())
    assert line.endswith(f"[public {response['X-Request-ID']}] POST /security/ 405")


def test_a_missing_csrf_token_is_one_line(log_lines):
    client = Client(HTTP_HOST="acme.localhost", enforce_csrf_checks=True)
    response = client.post("/accounts/sign-in/?next=/quotes/", {"email": "a@b.example"})
    assert response.status_code == 403
    line = _refusal_line(log_lines())
    assert line.endswith(
        f"[ws_acme {response['X-Request-ID']}] POST /accounts/sign-in/ 403 (CSRF cookie not set.)"
    ), line


def test_a_host_we_do_not_serve_is_one_line_not_a_traceback(log_lines):
    response = Client(HTTP_HOST="evil.example").get("/wp-login.php?x=1")
    assert response.status_code == 400
    line = _refusal_line(log_lines())
    assert " WARNING " in line
    assert line.endswith(" GET /wp-login.php 400 (DisallowedHost)"), line


def test_a_link_token_in_a_refused_path_is_masked(log_lines):
    token = "a-guessed-invitation-token-value"
    response = Client(HTTP_HOST="acme.localhost").get(f"/invitations/{token}/")
    assert response.status_code in (400, 410)
    line = _refusal_line(log_lines())
    assert f"GET /invitations/[token]/ {response.status_code}" in line
    assert token not in line


def test_a_server_error_logs_its_traceback_once(monkeypatch, log_lines):
    monkeypatch.setattr("workspace.public_views.render", _boom)
    response = Client(HTTP_HOST="localhost", raise_request_exception=False).get("/?token=q")
    assert response.status_code == 500
    output = "\n".join(log_lines())
    assert output.count("Traceback (most recent call last)") == 1
    assert output.count("RuntimeError: the template engine broke") == 1
    assert f"ERROR django.request [public {response['X-Request-ID']}]" in output
    assert "token=q" not in output
