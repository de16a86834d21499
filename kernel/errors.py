"""The error pages of both URL configurations (``handler400/403/404/500``) and of CSRF failures.

Invariants:
- What a visitor sees is one of our templates, never Django's technical pages (DEBUG is off
  unless a developer opts in) and never a traceback, SQL or settings.
- The 400, 404 and 500 pages carry nothing about the viewer: no navigation, no names, no
  CSRF token (``error_base.html``), so a refusal and a missing object answer byte-identical
  404s. The 404 of a non-member and of a missing object must stay the same bytes
  (tests/test_isolation_sweep.py).
- The 500 page is rendered without the request's context processors and without the
  database, which may be what failed; if even the template fails, a fixed HTML string is
  sent. It shows the request id, which is also on the log line with the traceback.
- An exception that means a dependency is briefly unavailable is answered ``503 Service
  Unavailable`` with ``Retry-After``, never a 500 or a traceback: PostgreSQL restarting or
  unreachable (Django's ``OperationalError`` and ``InterfaceError``), and Redis refusing a
  client that does not fall back (the caches do: ``kernel/cache.py``). The page is
  ``503.html`` rendered without the request (the session, the messages and the context
  processors all need the database that just failed); a client that asks for JSON gets an
  RFC 9457 problem document instead. Each such request is one WARNING line without a
  traceback, with its class and SQLSTATE but not its message or path (a path may hold a
  token). Connections then come back by themselves: ``CONN_HEALTH_CHECKS`` makes each
  request's first query check a persistent connection and reconnect.
- Under ``/api/`` every error is an RFC 9457 problem document (``application/problem+json``),
  never one of the HTML pages: the handlers below answer one there, and
  ``api.middleware.ProblemDocumentMiddleware`` turns whatever else a middleware answered
  (a 405, a bare 400) into one. A 404 there says the same as the API's missing object.
- Every refusal is logged once, as one line, by the filter in ``kernel.logging``; these views
  only say why (``note_refusal``) where Django's own log line would not.
"""

from __future__ import annotations

import json
import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseNotFound,
    HttpResponseServerError,
)
from django.template import loader
from django.utils.log import log_response
from django.views.decorators.csrf import requires_csrf_token

from .logging import note_refusal

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10
UNAVAILABLE_DETAIL = "Shopsafe is briefly unavailable. Please try again in a moment."
_JSON_TYPES = ("application/problem+json", "application/json")

FORM_EXPIRED_MESSAGE = (
    "The page you sent this form from has expired, or your browser did not send its cookie. "
    "Go back, reload the page and try again."
)
_LAST_RESORT_500 = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    "<title>Something went wrong · Shopsafe</title></head><body><main><h1>Something went wrong"
    "</h1><p>Please try again in a moment.</p></main></body></html>"
)


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
        page = loader.render_to_string("503.html", {"detail": UNAVAILABLE_DETAIL})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


API_PREFIX = "/api/"
API_NOT_FOUND = "No such record."  # api.gate.NOT_FOUND: a missing route reads as a missing object
API_BAD_REQUEST = "The request could not be read."
API_SERVER_ERROR = "Something went wrong on our side. Quote request id {request_id} if you ask us."


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def problem_response(status: int, title: str, detail: str) -> HttpResponse:
    """An RFC 9457 problem document, as the API answers every error."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return HttpResponse(json.dumps(body), status=status, content_type="application/problem+json")


def _request_id(request: HttpRequest) -> str:
    return getattr(request, "request_id", "") or ""


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        return problem_response(400, "Bad Request", API_BAD_REQUEST)
    body = loader.render_to_string("400.html")
    return HttpResponseBadRequest(body)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # 403 goes only to someone the gate let in (a member without the capability): the page
    # may show the workspace's navigation, so it renders with the request's context.
    message = str(exception) if exception is not None else ""
    if is_api_request(request):
        return problem_response(403, "Forbidden", message or "You may not do this.")
    body = loader.render_to_string("403.html", {"exception": message}, request)
    return HttpResponseForbidden(body)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        return problem_response(404, "Not Found", API_NOT_FOUND)
    body = loader.render_to_string("404.html")
    return HttpResponseNotFound(body)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: 503 for a dependency that is briefly down, our 500 page otherwise."""
    error = sys.exc_info()[1]  # called by Django while it handles the exception
    dependency = unavailable_dependency(error) if error is not None else None
    if error is not None and dependency is not None:
        response = unavailable_response(request)
        note_refusal(request, f"{dependency} unavailable: {_error_shown(error)}")
        # One line, and it marks the response as logged, so Django does not log it again
        # with the traceback.
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
    if is_api_request(request):
        detail = API_SERVER_ERROR.format(request_id=_request_id(request) or "-")
        return problem_response(500, "Internal Server Error", detail)
    body: str
    try:
        body = loader.render_to_string("500.html", {"request_id": _request_id(request)})
    except Exception:  # the page of last resort must not fail in turn
        logger.exception("the 500 page could not be rendered")
        body = _LAST_RESORT_500
    return HttpResponseServerError(body)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: a form posted without a valid token (expired, or forged)."""
    note_refusal(request, reason)
    if is_api_request(request):
        return problem_response(403, "Forbidden", "Send an API token; cookies are not read here.")
    body = loader.render_to_string("403_csrf.html", {"message": FORM_EXPIRED_MESSAGE})
    return HttpResponseForbidden(body)
