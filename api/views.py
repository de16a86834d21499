"""The API's Django-level views: its URL patterns wrapped for the workspace gate and the rate
limiter, and the static documentation page.

The workspace gate sees each API URL as PUBLIC (no session needed: the token is checked by
``api.gate`` for every operation), and the rate-limit sweep sees the API's per-address and
per-token limits declared on each. No CORS header is ever added (no django-cors-headers), so
browsers on other origins cannot read API responses.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from accounts import throttle
from kernel.capabilities import PUBLIC
from kernel.context import client_ip
from kernel.decorators import require_capability

from . import gate
from .idempotency import settle
from .v1 import api

DOCS_LIMIT = throttle.Limit(
    name="api_docs",
    rules=(throttle.Rate(throttle.Per.IP, 120, 60),),
    message=gate.THROTTLED,
    event=throttle.limiter.Event.REQUEST_THROTTLED,
)


def _served(view: Callable) -> Callable:
    @functools.wraps(view)
    def serve(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["RateLimit-Policy"] = gate.rate_limit_policy()
        return settle(request, response)

    serve.answers_problem_json = True  # type: ignore[attr-defined]  # kernel.middleware
    return require_capability(PUBLIC)(throttle.limited_by(*gate.API_LIMITS)(serve))


def _documents(view: Callable) -> Callable:
    """The schema and the docs page: public (a client needs them before it has a token)."""

    @functools.wraps(view)
    def serve(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            throttle.limit(DOCS_LIMIT, ip=client_ip(request))
        except throttle.Throttled as error:
            return gate.problem(
                429,
                "Too Many Requests",
                error.message,
                headers={"Retry-After": str(error.retry_after_seconds)},
            )
        return view(request, *args, **kwargs)

    return require_capability(PUBLIC)(throttle.limited_by(DOCS_LIMIT)(serve))


def openapi_document(request: HttpRequest) -> HttpResponse:
    from .schema_file import document_json

    return HttpResponse(document_json(), content_type="application/json")


def docs(request: HttpRequest) -> HttpResponse:
    """A page listing every operation, rendered on the server (no script: the strict CSP)."""
    from .schema_file import document as openapi

    document = openapi()
    operations = []
    for route, methods in document["paths"].items():
        for method, operation in methods.items():
            operations.append(
                {
                    "method": method.upper(),
                    "path": route,
                    "summary": operation.get("summary", ""),
                    "capability": operation.get("x-capability", ""),
                    "parameters": operation.get("parameters", []),
                    "responses": sorted(operation.get("responses", {})),
                }
            )
    return render(request, "api/docs.html", {"operations": operations, "info": document["info"]})


def urlpatterns() -> list[URLPattern]:
    patterns, _app, _namespace = api.urls
    wrapped: list[URLPattern] = []
    for pattern in patterns:
        if not isinstance(pattern, URLPattern) or pattern.callback is None:
            raise TypeError(f"unexpected API URL entry {pattern!r}")
        if pattern.name in ("openapi-json", "api-root"):
            continue  # the document is served below with its own limit; the root is nothing
        pattern.callback = _served(pattern.callback)
        wrapped.append(pattern)
    wrapped += [
        path("openapi.json", _documents(openapi_document), name="openapi-json"),
        path("docs/", _documents(docs), name="docs"),
    ]
    return wrapped
