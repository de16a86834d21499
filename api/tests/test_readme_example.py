"""The README's API example, walked over real HTTP: sign in and create a token on the tokens
page, then run the README's own curl commands (list companies, create a ticket).

The server is a WSGI server in a thread that shares this test's database connection (as
Django's LiveServerThread does), so everything it writes is rolled back with the test and the
session's seeded workspaces stay as they were. Requests are made one at a time.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import shutil
import subprocess
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.subprocess]

README = Path(__file__).resolve().parents[2] / "README.md"
TOKEN = re.compile(r"shs_[0-9a-f]+_[A-Za-z0-9_-]{43}")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def http_site(db):
    """``(host, port)`` of the application served over HTTP on this test's connection."""
    from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections, connections

    class Quiet(WSGIRequestHandler):
        def log_message(self, format, *args):
            pass

    connection = connections["default"]
    connection.inc_thread_sharing()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    server = WSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=False)
    server.set_app(get_wsgi_application())

    def serve():
        connections["default"] = connection
        server.serve_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        connection.dec_thread_sharing()


def _readme_commands() -> list[str]:
    text = README.read_text()
    section = text.split("## API", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands, current = [], ""
    for line in block.splitlines():
        line = line.split("#", 1)[0].rstrip() if line.lstrip().startswith("TOKEN=") else line
        if not line.strip() or line.startswith("TOKEN="):
            continue
        current += line.rstrip("\\").rstrip() + " "
        if not line.endswith("\\"):
            commands.append(current.strip())
            current = ""
    return commands


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_api_example_works_over_http(http_site, acme):
    port = http_site
    base = f"http://127.0.0.1:{port}"
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def fetch(path, data=None):
        body = None if data is None else urllib.parse.urlencode(data, doseq=True).encode()
        request = urllib.request.Request(f"{base}{path}", data=body)  # noqa: S310 - http only
        request.add_header("Host", "acme.localhost:8000")
        with opener.open(request, timeout=30) as response:
            return response.read().decode()

    page = fetch("/accounts/sign-in/")
    fetch(
        "/accounts/sign-in/",
        {
            "csrfmiddlewaretoken": CSRF.search(page).group(1),
            "email": "owner@acme.example",
            "password": PASSWORD,
        },
    )
    page = fetch("/settings/api-tokens/")
    created = fetch(
        "/settings/api-tokens/",
        {
            "csrfmiddlewaretoken": CSRF.search(page).group(1),
            "name": "README walk",
            "scopes": ["companies:view", "tickets:create"],
            "expires_days": "7",
        },
    )
    found = TOKEN.search(created)
    assert found, created[-3000:]
    token = found.group(0)

    commands = _readme_commands()
    assert len(commands) == 2  # list companies, create a ticket
    outputs = []
    for command in commands:
        command = command.replace("$TOKEN", token)
        command = command.replace(
            "curl -s", f"curl -s --connect-to acme.localhost:8000:127.0.0.1:{port}"
        )
        result = subprocess.run(  # noqa: S603 - the README's own command, our test server
            ["/bin/sh", "-c", command], capture_output=True, text=True, timeout=60, check=True
        )
        outputs.append(json.loads(result.stdout))
    companies, ticket = outputs
    assert "Acme Customer One" in [company["name"] for company in companies["items"]]
    assert ticket["subject"] == "Printer offline"
    assert ticket["company_id"] == 1
    assert ticket["status"] == "new"
