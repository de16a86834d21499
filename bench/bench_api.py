"""The companies list through the API against the same list as an HTML page, in one run.

One process on the full stack (``bench.settings_stack``, DEBUG off, a throw-away database):
a workspace with ``ROWS`` companies and its owner, who is signed in (the session and CSRF
cookies a browser sends) and holds a personal API token with every capability of theirs.

* **html**: ``GET /companies/``: the session, the gate's lookup, the shop's list page (page 1,
  25 rows) rendered in the base layout;
* **api**: ``GET /api/v1/companies?limit=25``: the bearer token checked (hash lookup, the
  member's current capabilities, last-use time and address written), the same selector, the
  first keyset page of the same 25 companies serialized to JSON.

Both through an in-process WSGI loop (no sockets, one thread), in interleaved rounds so that
drift on a busy machine falls on both alike. The ratio printed is the API's throughput over
the page's (above 1: the API answers more requests a second), the median of the rounds'
ratios. The API's rate limits are raised for the run: it measures answering, not refusing.

Uses the embedded PostgreSQL and Redis, or DATABASE_URL / REDIS_URL when they are set.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time

from bench.common import run_side, scratch_database

ROWS = 500
PAGE_ROWS = 25
WARMUP_REQUESTS = 100
ROUNDS = 8
ROUND_REQUESTS = 150
WORKSPACE = "bench"
HOST = f"{WORKSPACE}.localhost"


def _environ(path: str, query: str, headers: dict[str, str]) -> dict:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": HOST,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": HOST,
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    environ.update(headers)
    return environ


class Page:
    """One URL through the WSGI application, timed request by request."""

    def __init__(self, application, path: str, query: str = "", **headers: str):
        self.application = application
        self.path, self.query, self.headers = path, query, headers

    def get(self) -> tuple[str, bytes]:
        statuses: list[str] = []

        def start_response(status, headers, exc_info=None):
            statuses.append(status)

        environ = _environ(self.path, self.query, self.headers)
        body = b"".join(self.application(environ, start_response))
        return statuses[-1], body

    def check(self, expect: bytes) -> bytes:
        status, body = self.get()
        if not status.startswith("200") or expect not in body:
            raise RuntimeError(f"unexpected response {status}: {body[:300]!r}")
        return body

    def timings(self, count: int) -> list[float]:
        seconds = []
        for _ in range(count):
            started = time.perf_counter()
            status, _body = self.get()
            seconds.append(time.perf_counter() - started)
            if not status.startswith("200"):
                raise RuntimeError(f"non-200 response while measuring: {status}")
        return seconds


def _side() -> None:
    import django

    django.setup()
    from datetime import timedelta

    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from api.services import api_token_create
    from bench.bench_gate import companies_insert, owner_signed_in
    from kernel.capabilities import capabilities_for
    from rbac.models import Membership
    from tenants.services import tenant_provision

    settings.RATE_LIMITS = {
        **getattr(settings, "RATE_LIMITS", {}),
        "api_address.ip": (10**9, 60),
        "api_token.token": (10**9, 60),
    }
    call_command("migrate_schemas", interactive=False, verbosity=0)
    tenant = tenant_provision(slug=WORKSPACE, name="Bench Signs")
    cookie = owner_signed_in(tenant)
    owner = Membership.objects.select_related("user", "tenant").get(tenant=tenant)
    with tenant_context(tenant):
        companies_insert(ROWS)
        secret = api_token_create(
            tenant=tenant,
            owner=owner,
            name="bench",
            scopes=sorted(capabilities_for(owner)),
            expires_at=timezone.now() + timedelta(days=1),
            created_by=owner,
        ).secret
    connection.set_schema_to_public()

    application = WSGIHandler()
    pages = {
        "html": Page(application, "/companies/", HTTP_COOKIE=cookie),
        "api": Page(
            application,
            "/api/v1/companies",
            f"limit={PAGE_ROWS}",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        ),
    }
    sizes = {name: len(page.check(b"Company 0000 Signs")) for name, page in pages.items()}
    listed = json.loads(pages["api"].get()[1])["items"]
    if len(listed) != PAGE_ROWS:
        raise RuntimeError(f"the API listed {len(listed)} companies, not {PAGE_ROWS}")
    for page in pages.values():
        page.timings(WARMUP_REQUESTS)
    rounds: dict[str, list[list[float]]] = {"html": [], "api": []}
    for index in range(ROUNDS):
        order = ("html", "api") if index % 2 == 0 else ("api", "html")
        for name in order:
            rounds[name].append(pages[name].timings(ROUND_REQUESTS))
    print(json.dumps({"rounds": rounds, "sizes": sizes}))


def _figures(label: str, rounds: list[list[float]], size: int) -> str:
    flat = [value for one in rounds for value in one]
    return (
        f"{label}: {len(flat) / sum(flat):7.1f} req/s  median "
        f"{statistics.median(flat) * 1000:.2f} ms  p95 "
        f"{statistics.quantiles(flat, n=20)[18] * 1000:.2f} ms  ({len(flat)} requests, "
        f"{size} bytes)"
    )


def run() -> list[str]:
    from config import embedded

    embedded.export_service_urls()
    with scratch_database("bench_api") as database:
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings_stack",
            "BENCH_DATABASE": database,
        }
        result = run_side("bench.bench_api", "side", environment=environment, timeout=1800)
    rounds, sizes = result["rounds"], result["sizes"]
    ratios = [sum(html) / sum(api) for html, api in zip(rounds["html"], rounds["api"], strict=True)]
    return [
        f"companies list, page 1 of {ROWS} ({PAGE_ROWS} rows), in-process WSGI, one thread, "
        f"{ROUNDS} interleaved rounds of {ROUND_REQUESTS} requests each",
        _figures("html GET /companies/             ", rounds["html"], sizes["html"]),
        _figures("api  GET /api/v1/companies?limit=25", rounds["api"], sizes["api"]),
        f"api/html throughput: {statistics.median(ratios):.2f}x (median of the rounds; "
        f"min {min(ratios):.2f}, max {max(ratios):.2f})",
    ]


if __name__ == "__main__":
    {"side": _side}[sys.argv[1]]()
