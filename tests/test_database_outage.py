"""When PostgreSQL restarts, requests get a friendly 503 and the next ones work again.

Finding (issue 13): with PostgreSQL restarted, requests in flight answered 500 with a
traceback. The server here is the whole application (WSGI) in one thread of its own with a
persistent connection (``CONN_MAX_AGE``), the way a gunicorn worker holds one; the test kills
that connection's backend with ``pg_terminate_backend``, as a restart does, and reads what the
next requests get. Only the embedded server's superuser may kill another role's backend.

The test's own transaction is invisible to the server's connection, so the session it signs
in with is written (and removed) by a thread of its own, which commits.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlparse, urlunparse

import pytest
from django.conf import settings
from django.db import connection, connections
from django.db.backends.signals import connection_created
from django.test import Client

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not os.environ.get("EMBEDDED_POSTGRES"),
        reason="needs the embedded server's superuser to kill another role's backend",
    ),
]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


class OneThreadSite:
    """The application served by one thread that keeps its database connection between
    requests; ``backend_pid`` is that connection's server process."""

    def __init__(self) -> None:
        from django.core.handlers.wsgi import WSGIHandler
        from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer

        class QuietRequestHandler(WSGIRequestHandler):
            def log_message(self, format, *args):
                pass

        self.server = WSGIServer(("127.0.0.1", 0), QuietRequestHandler, allow_reuse_address=False)
        self.server.set_app(WSGIHandler())
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.wrappers: list = []
        self.cookie = ""

    def _created(self, sender, connection, **kwargs) -> None:
        if threading.current_thread() is self.thread:
            self.wrappers.append(connection)

    def __enter__(self) -> OneThreadSite:
        connection_created.connect(self._created)
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        connection_created.disconnect(self._created)
        for wrapper in self.wrappers:  # the thread is gone; its connection must not linger
            if wrapper.connection is not None and not wrapper.connection.closed:
                wrapper.connection.close()

    @property
    def backend_pid(self) -> int:
        return self.wrappers[-1].connection.info.backend_pid

    def get(self, host: str, path: str, accept: str = "text/html") -> Reply:
        client = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        client.request(
            "GET",
            path,
            headers={"Host": f"{host}:{self.port}", "Cookie": self.cookie, "Accept": accept},
        )
        response = client.getresponse()
        reply = Reply(response.status, dict(response.getheaders()), response.read())
        client.close()
        return reply


@pytest.fixture
def superuser_sql(django_db_setup):
    import psycopg

    from config.embedded import privileged_database_url

    url = urlparse(privileged_database_url())
    conn = psycopg.connect(
        urlunparse(url._replace(path="/" + settings.DATABASES["default"]["NAME"])),
        autocommit=True,
    )
    yield conn
    conn.close()


def committed(work):
    """Run ``work`` in a thread of its own, whose connection commits (and is closed after)."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed back to the test's thread
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.fixture
def signed_in_owner() -> Iterator[str]:
    """The Cookie header of a committed session of acme's owner (removed afterwards)."""
    from accounts.models import User, UserSession
    from conftest import sign_in_client
    from tenants.models import Tenant

    def sign_in() -> str:
        connection.set_schema_to_public()
        acme = Tenant.objects.get(slug="acme")
        owner = User.objects.get(email="owner@acme.example")
        client = sign_in_client(Client(), owner, acme)
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    session_key = committed(sign_in)
    yield f"{settings.SESSION_COOKIE_NAME}={session_key}"

    def sign_out() -> None:
        from django.contrib.sessions.models import Session

        connection.set_schema_to_public()
        UserSession.objects.filter(user__email="owner@acme.example", tenant__slug="acme").delete()
        Session.objects.filter(session_key=session_key).delete()

    committed(sign_out)


@contextmanager
def health_checks(enabled: bool) -> Iterator[None]:
    """Whether connections opened in the block check themselves before a request's first
    query (production: yes). Without, the first query after a restart is the one that fails,
    as a query in flight does."""
    configured = connections.settings["default"]
    saved = configured["CONN_HEALTH_CHECKS"]
    configured["CONN_HEALTH_CHECKS"] = enabled
    try:
        yield
    finally:
        configured["CONN_HEALTH_CHECKS"] = saved


def kill(superuser_sql, pid: int) -> None:
    with superuser_sql.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert cursor.fetchone() == (True,)


def acme_companies_page(reply: Reply) -> bool:
    """The companies list as acme's owner sees it: acme's rows (its schema, through its
    database role; the runtime login role alone may read nothing there) and none of globex's."""
    return (
        reply.status == 200
        and b"Acme Customer One" in reply.body
        and b"Globex Customer One" not in reply.body
    )


def test_production_settings_health_check_and_recycle_connections():
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
    assert 0 < settings.DATABASES["default"]["CONN_MAX_AGE"] <= 300


def test_after_a_restart_the_next_request_reconnects_in_its_workspace_context(
    superuser_sql, signed_in_owner
):
    with health_checks(True), OneThreadSite() as site:
        site.cookie = signed_in_owner
        assert acme_companies_page(site.get("acme.localhost", "/companies/"))
        first = site.backend_pid

        kill(superuser_sql, first)

        assert acme_companies_page(site.get("acme.localhost", "/companies/"))
        assert acme_companies_page(site.get("acme.localhost", "/companies/"))
        assert site.backend_pid != first


def test_a_request_whose_connection_died_gets_a_friendly_503_and_the_next_one_works(
    superuser_sql, signed_in_owner, caplog
):
    with health_checks(False), OneThreadSite() as site:
        site.cookie = signed_in_owner
        assert acme_companies_page(site.get("acme.localhost", "/companies/"))
        first = site.backend_pid

        kill(superuser_sql, first)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            failed = site.get("acme.localhost", "/companies/")

        assert failed.status == 503
        assert failed.headers["Retry-After"] == "10"
        assert failed.headers["Content-Type"] == "text/html; charset=utf-8"
        assert b"<h1>Shopsafe is briefly unavailable</h1>" in failed.body
        assert b"Traceback" not in failed.body
        assert b"Acme" not in failed.body  # an error page says nothing about the viewer
        # One line, no traceback, in the logs either.
        logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [r.name for r in logged] == ["kernel.errors"]
        assert logged[0].exc_info is None
        assert (
            logged[0]
            .getMessage()
            .startswith("GET /companies/ 503 (database unavailable: OperationalError")
        )

        assert acme_companies_page(site.get("acme.localhost", "/companies/"))
        assert site.backend_pid != first


def test_a_json_client_gets_a_problem_document_when_the_database_is_gone(
    superuser_sql, signed_in_owner
):
    with health_checks(False), OneThreadSite() as site:
        site.cookie = signed_in_owner
        assert site.get("acme.localhost", "/companies/").status == 200
        kill(superuser_sql, site.backend_pid)

        failed = site.get("acme.localhost", "/companies/", accept="application/json")

    assert failed.status == 503
    assert failed.headers["Content-Type"] == "application/problem+json"
    assert json.loads(failed.body) == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "Shopsafe is briefly unavailable. Please try again in a moment.",
    }


def test_the_host_lookup_answers_503_when_its_connection_died_then_recovers(superuser_sql):
    from tenants.selectors import tenant_host_cache_forget

    def forget_host() -> None:  # so the host lookup reads PostgreSQL, in the first middleware
        tenant_host_cache_forget("localhost")  # Redis's entry and this process's map

    with health_checks(False), OneThreadSite() as site:
        forget_host()
        assert site.get("localhost", "/").status == 200
        kill(superuser_sql, site.backend_pid)

        forget_host()
        failed = site.get("localhost", "/find-workspaces/")
        again = site.get("localhost", "/find-workspaces/")

    assert failed.status == 503
    assert b"<h1>Shopsafe is briefly unavailable</h1>" in failed.body
    assert again.status == 200
