"""gunicorn's access line never carries a secret, whatever format the operator asks for.

The web process in production writes one access line per request (config/gunicorn.conf.py,
used by the Dockerfile, docker-compose and bench_load); these tests drive the logger class it
names with a request for every secret-bearing URL of the project, a query string, a Referer
holding a link, and an Authorization header and cookie, and read the line it writes.
"""

from __future__ import annotations

import datetime
import io
import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from config.gunicorn_logging import RedactingLogger
from kernel.logging import SECRET_URL_PARAMETERS
from tests.urls import TenantUrl, public_urls, tenant_urls

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "Zq3-secretLINKtoken_0123456789abcdefABCDEF"
EVERY_ATOM = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(m)s %(U)s ?%(q)s %(H)s %(b)s "%(f)s" "%(a)s" '
    "%({authorization}i)s %({cookie}i)s %({x-request-id}i)s %({raw_uri}e)s "
    "%({query_string}e)s %({set-cookie}o)s %(D)s"
)


def _secret_urls() -> list[TenantUrl]:
    """Every route of both hosts with a secret URL parameter (a link token), so a new link
    is checked the moment it is routed."""
    found = [
        url
        for url in (*tenant_urls(), *public_urls())
        if SECRET_URL_PARAMETERS & set(url.converters)
    ]
    assert len(found) >= 5, "the link routes were not found"
    return found


def _access_line(path: str, *, access_log_format: str = EVERY_ATOM) -> str:
    config = Config()
    config.set("accesslog", "-")
    config.set("access_log_format", access_log_format)
    logger = RedactingLogger(config)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.access_log.handlers = [handler]
    path_info, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": f"https://acme.example.com/r/{TOKEN}/?code={TOKEN}",
        "HTTP_USER_AGENT": "pytest",
    }
    request = SimpleNamespace(
        headers=[
            ("AUTHORIZATION", f"Bearer shs_{TOKEN}"),
            ("COOKIE", f"sessionid={TOKEN}"),
            ("X-REQUEST-ID", "req-42"),
        ]
    )
    response = SimpleNamespace(
        status="200 OK", sent=12, headers=[("Set-Cookie", f"sessionid={TOKEN}")]
    )
    logger.access(response, request, environ, datetime.timedelta(milliseconds=5))
    return stream.getvalue()


@pytest.mark.parametrize("url", _secret_urls(), ids=lambda url: url.name)
def test_a_link_token_in_the_path_is_masked_in_every_atom(url):
    kwargs = {**url.placeholder_kwargs(7), "token": TOKEN}
    line = _access_line(url.path(**kwargs) + f"?signature={TOKEN}")
    assert TOKEN not in line
    assert "[token]" in line
    assert "req-42" in line  # the request id is kept for correlation
    assert '"https://acme.example.com"' in line  # the Referer keeps only its origin


def test_query_strings_cookies_and_authorization_never_reach_the_line():
    line = _access_line(f"/files/3/download/?sig={TOKEN}&expires=1")
    assert TOKEN not in line
    assert '"GET /files/3/download/ HTTP/1.1" 200' in line
    assert "Bearer" not in line
    assert "sessionid" not in line


def test_the_referer_keeps_its_origin_only():
    line = _access_line("/", access_log_format='"%(f)s"')
    assert line.strip() == '"https://acme.example.com"'


def test_every_way_the_web_process_starts_uses_the_redacting_configuration():
    settings = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    assert settings["logger_class"] == "config.gunicorn_logging.RedactingLogger"
    for path in ("Dockerfile", "docker-compose.yml", "bench/bench_load.py"):
        text = (ROOT / path).read_text()
        assert "config/gunicorn.conf.py" in text, path
        assert "--access-logformat" not in text, path
