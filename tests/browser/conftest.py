"""Browser tests: Debian's Chromium driven by Playwright against a live, threaded server.

The server is not pytest-django's ``live_server`` (and no fixture here may take that name,
which pytest-django answers with ``transactional_db``): its table flush would wipe the
session's seeded workspaces. Instead a threaded WSGI server runs on the test database; the
browser commits real rows, and each test removes what it created (:func:`workspace_remove`)
after the test's own transaction has been rolled back.

Without /usr/bin/chromium (or the playwright package) only these tests are skipped, with the
reason in pytest's skip summary (and in the report header when run as ``pytest tests/browser``).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
HERE = Path(__file__).resolve().parent


def _skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return (
            f"browser tests skipped: Debian's Chromium is not installed at {CHROMIUM} "
            "(install it with: apt-get install chromium)"
        )
    if importlib.util.find_spec("playwright") is None:
        return "browser tests skipped: the playwright package is missing (run: make install)"
    return None


def pytest_report_header(config):
    reason = _skip_reason()
    return [reason] if reason else [f"browser tests: Playwright with {CHROMIUM}"]


def pytest_collection_modifyitems(config, items):
    here = [item for item in items if HERE in Path(str(item.path)).parents]
    reason = _skip_reason()
    if reason:
        for item in here:
            item.add_marker(pytest.mark.skip(reason=reason))
    # They commit real rows and take longest: run them after everything else.
    items[:] = [item for item in items if item not in here] + here


@pytest.fixture(autouse=True)
def _sessions_removed(django_db_blocker):
    """Signing in through the browser commits a tracked session (``UserSession``) of a seeded
    member; remove every one this test made once its transaction has been rolled back, so no
    later test on this worker counts them. Autouse, so it is set up before ``db`` and torn
    down after it."""
    from django.utils import timezone

    started = timezone.now()
    yield
    from django.db import connection

    from accounts.models import UserSession

    with django_db_blocker.unblock():
        # A browser test takes the database through live_site, never a django_db mark (whose
        # autouse fixture would still hold the test transaction here).
        assert not connection.in_atomic_block, "request the database through live_site"
        connection.set_schema_to_public()
        UserSession.objects.filter(created_at__gte=started).delete()


@pytest.fixture
def live_site(db, settings):
    """``http://localhost:<port>``: the whole application on a free port, in threads.

    Requesting ``db`` makes pytest-django set up the test database (without it, a run of only
    these tests would reach the development database). Its transaction wraps this thread
    only; the server's threads have their own connections and commit for real.
    """
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class QuietRequestHandler(WSGIRequestHandler):
        def log_message(self, format, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietRequestHandler, allow_reuse_address=False)
    server.set_app(StaticFilesHandler(get_wsgi_application()))
    port = server.server_address[1]
    # Links and redirects between hosts (sign-up -> workspace) must carry this port.
    settings.APP_PORT = str(port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class Chromium:
    """Debian's Chromium under Playwright, with one page. ``close()`` may be called early:
    the test must close it before touching the ORM, because Playwright's sync API keeps an
    event loop in this thread and Django refuses synchronous queries under one."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = self._browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        self.page = context.new_page()
        # What the Content-Security-Policy refused on any page of the flow (an inline script
        # or style, a form redirected to a host it does not list): the test fails on it.
        self.csp_violations: list[str] = []
        self.page.on("console", self._console_message)
        self._open = True

    def _console_message(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        if self._open:
            self._open = False
            self._browser.close()
            self._playwright.stop()


@pytest.fixture
def chromium():
    browser = Chromium()
    try:
        yield browser
    finally:
        browser.close()
    assert browser.csp_violations == []


def workspace_remove(*, slug: str, emails: list[str]) -> None:
    """Undo what a browser test committed: the workspace's rows and its users; its schema is
    renamed out of the way.

    Platform audit events stay (the audit table refuses DELETE by design); the test database
    is dropped at the end of the run.
    """
    from django.db import connection, transaction
    from django_tenants.utils import tenant_context

    from accounts.models import User
    from tenants.models import Tenant
    from tests.schema_pool import schema_discard

    # Must run after the test's transaction ended, or the rows it read would block the rename
    # and the deletes would be rolled back with it: request this fixture before live_site.
    assert not connection.in_atomic_block, "workspace_remove ran inside the test transaction"
    connection.set_schema_to_public()
    discarded = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Check foreign keys now: deferred checks queued on the workspace's tables would
            # find their tables renamed away with the schema at COMMIT.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for tenant in Tenant.objects.filter(slug=slug):
            # Deletes run inside the workspace's context while its schema still exists, so
            # Django's cascade also finds the workspace tables that refer to users (quotes'
            # created_by ...); then the schema goes.
            with tenant_context(tenant):
                User.objects.filter(email__in=emails).delete()
                tenant.delete()
            discarded.append(tenant.schema_name)
        User.objects.filter(email__in=emails).delete()
    # After the commit: the rename is DDL, run as the owner on a fresh connection.
    for schema_name in discarded:
        schema_discard(schema_name)  # no DROP: the test database goes at the end


def sign_up_confirm(page, email: str) -> None:
    """After the sign-up form: open the link the "confirm your workspace" email carries (the
    server runs in this process, so its email is in ``mail.outbox``) and create the workspace."""
    import re

    from django.core import mail
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    (message,) = [m for m in mail.outbox if m.to == [email]]
    link = re.search(r"http://localhost:\d+/signup/confirm/[^/\s]+/", message.body)
    assert link, message.body
    page.goto(link.group(0))
    expect(page.get_by_role("heading", name="Create your workspace")).to_be_visible()
    page.get_by_role("button", name="Create workspace").click()
