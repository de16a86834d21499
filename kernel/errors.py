"""The server-error handler of both URL configurations (``handler500``).

Invariant: an exception that means a dependency is briefly unavailable is answered
``503 Service Unavailable`` with ``Retry-After``, never a 500 or a traceback: PostgreSQL
restarting or unreachable (Django's ``OperationalError`` and ``InterfaceError``), and Redis
refusing an alias that must not fail open (the rate limiter's, ``CACHES["platform"]``). The
page is ``503.html`` rendered without the request, because the session, the messages and the
context processors all need the database that just failed; a client that asks for JSON gets
an RFC 9457 problem document instead. Each such request is one WARNING line without a
traceback, with its class and SQLSTATE but not its message or path (a path may hold a token).
Every other exception is Django's own 500 (``500.html``), logged with its traceback as before.

Connections then come back by themselves: ``CONN_HEALTH_CHECKS`` makes each request's first
query check a persistent connection and reconnect, and a connection that raised is closed at
the end of its request (Django's ``close_if_unusable_or_obsolete``).
"""

from __future__ import annotations

import json
import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.log import log_response
from django.views.defaults import server_error as django_server_error

logger = logging.getLogger("kernel.errors")

RETRY_AFTER_SECONDS = 10
UNAVAILABLE_DETAIL = "Shopsafe is briefly unavailable. Please try again in a moment."
_JSON_TYPES = ("application/problem+json", "application/json")


def unavailable_dependency(error: BaseException | None) -> str | None:
    """``"database"`` or ``"redis"`` when ``error`` means that dependency is down, else None."""
    if isinstance(error, OperationalError | InterfaceError):
        return "database"
    import redis

    if isinstance(error, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return "redis"
    return None


def _error_shown(error: BaseException) -> str:
    # Django wraps the driver's error; psycopg's carries the SQLSTATE (none when the
    # connection itself broke). The message is left out: it may quote data.
    sqlstate = getattr(error.__cause__, "sqlstate", None)
    return f"{type(error).__name__} (SQLSTATE {sqlstate})" if sqlstate else type(error).__name__


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 answer: a problem document for JSON clients, the page for everyone else."""
    preferred = request.get_preferred_type(["text/html", *_JSON_TYPES])
    if preferred in _JSON_TYPES or request.path.startswith("/api/"):
        problem = {
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": UNAVAILABLE_DETAIL,
        }
        response = HttpResponse(
            json.dumps(problem), status=503, content_type="application/problem+json"
        )
    else:
        page = render_to_string("503.html", {"detail": UNAVAILABLE_DETAIL})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: 503 for a dependency that is briefly down, Django's 500 otherwise."""
    error = sys.exc_info()[1]  # called by Django while it handles the exception
    dependency = unavailable_dependency(error)
    if error is None or dependency is None:
        return django_server_error(request)
    response = unavailable_response(request)
    # One line, and it marks the response as logged, so Django does not log it again with
    # the traceback.
    log_response(
        "503 %s unavailable: %s",
        dependency,
        _error_shown(error),
        response=response,
        request=request,
        logger=logger,
        level="warning",
    )
    return response
