"""Every error under ``/api/`` is a problem document, whichever layer answered it.

Invariant: a response to a path under ``/api/`` with a status of 400 or more is
``application/problem+json`` (RFC 9457). The API's own errors already are (``api.gate``), and
so are the error handlers' (``kernel.errors``); this middleware, outside the tenant, session
and gate middleware, rewrites anything else a layer below answered directly (Django's 405,
a bare 400 or 413 from a middleware, a 404 page), keeping its status and headers such as
``Allow`` and ``Retry-After``. Pages are never touched.
"""

from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse

from kernel.errors import API_NOT_FOUND, is_api_request, problem_response

PROBLEM_JSON = "application/problem+json"
DETAILS = {
    401: "Send a valid API token as 'Authorization: Bearer <token>'.",
    404: API_NOT_FOUND,
    405: "This method is not allowed here; the Allow header lists the ones that are.",
    413: "The request body is too large.",
}
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "RateLimit", "RateLimit-Policy")


class ProblemDocumentMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or not is_api_request(request):
            return response
        if response.get("Content-Type", "").startswith(PROBLEM_JSON):
            return response
        status = response.status_code
        try:
            title = HTTPStatus(status).phrase
        except ValueError:
            title = "Error"
        detail = DETAILS.get(status, f"{title}.")
        problem = problem_response(status, title, detail)
        for name in _KEPT_HEADERS:
            if name in response:
                problem[name] = response[name]
        return problem
