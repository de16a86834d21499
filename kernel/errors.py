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
- Every refusal is logged once, as one line, by the filter in ``kernel.logging``; these views
  only say why (``note_refusal``) where Django's own log line would not.
"""

from __future__ import annotations

import logging

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseNotFound,
    HttpResponseServerError,
)
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

from .logging import note_refusal

logger = logging.getLogger(__name__)

FORM_EXPIRED_MESSAGE = (
    "The page you sent this form from has expired, or your browser did not send its cookie. "
    "Go back, reload the page and try again."
)
_LAST_RESORT_500 = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    "<title>Something went wrong · Shopsafe</title></head><body><main><h1>Something went wrong"
    "</h1><p>Please try again in a moment.</p></main></body></html>"
)


def _request_id(request: HttpRequest) -> str:
    return getattr(request, "request_id", "") or ""


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    body = loader.render_to_string("400.html")
    return HttpResponseBadRequest(body)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # 403 goes only to someone the gate let in (a member without the capability): the page
    # may show the workspace's navigation, so it renders with the request's context.
    message = str(exception) if exception is not None else ""
    body = loader.render_to_string("403.html", {"exception": message}, request)
    return HttpResponseForbidden(body)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    body = loader.render_to_string("404.html")
    return HttpResponseNotFound(body)


def server_error(request: HttpRequest) -> HttpResponse:
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
    body = loader.render_to_string("403_csrf.html", {"message": FORM_EXPIRED_MESSAGE})
    return HttpResponseForbidden(body)
