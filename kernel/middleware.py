"""The one place request input passes before a view reads it: characters PostgreSQL cannot
store are refused with a 400 that says where they were.

Invariant: no view runs with a NUL (U+0000) or a lone surrogate in a query parameter's name or
value, in a URL parameter, in a posted field's name or in an uploaded file's field or file name
(``kernel.text`` says why those cannot be stored). Posted field *values* are left to the form,
which puts its refusal next to the field (kernel.text: every text form field refuses NUL), and
to the service, which checks what it stores (``kernel.text.text_fields_check``).

It runs in ``process_view``, after the gate (``MIDDLEWARE`` lists it last): someone the gate
refuses gets the gate's answer whatever the address holds, and the request is logged as one
line, never with the value.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .text import text_storable

logger = logging.getLogger("kernel.input")

# Messages people see (tests assert on them).
INPUT_UNSTORABLE_ADDRESS = (
    "The address contains a character that cannot be used (a null byte or a broken "
    "character). Remove it from the address and try again."
)
INPUT_UNSTORABLE_FIELD_NAME = (
    "The form sent a field name with a character that cannot be used. Reload the page and "
    "try again."
)
INPUT_UNSTORABLE_FILE_NAME = (
    "The uploaded file's name contains a character that cannot be used. Rename the file and "
    "try again."
)
_FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
TEMPLATE = "input_refused.html"


def _all_storable(values: Iterable[object]) -> bool:
    return all(text_storable(value) for value in values if isinstance(value, str))


def unstorable_input(request: HttpRequest, view_kwargs: dict) -> str | None:
    """The message for the first place in ``request`` holding an unstorable character, or
    None when there is none. Posted values are not looked at (see the module docstring)."""
    query = request.GET
    if not _all_storable([*query.keys(), *(v for _, values in query.lists() for v in values)]):
        return INPUT_UNSTORABLE_ADDRESS
    if not _all_storable(view_kwargs.values()):
        return INPUT_UNSTORABLE_ADDRESS
    if request.method == "POST" and request.content_type in _FORM_CONTENT_TYPES:
        if not _all_storable([*request.POST.keys(), *request.FILES.keys()]):
            return INPUT_UNSTORABLE_FIELD_NAME
        names = [
            getattr(upload, "name", "")
            for _, uploads in request.FILES.lists()
            for upload in uploads
        ]
        if not _all_storable(names):
            return INPUT_UNSTORABLE_FILE_NAME
    return None


class UnstorableInputMiddleware:
    """Answers 400, with the reason, before a view reads input it could not store."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs) -> HttpResponse | None:
        message = unstorable_input(request, view_kwargs)
        if message is None:
            return None
        # The view's name, not the path: a path may carry a token (an invitation link).
        match = request.resolver_match
        logger.warning(
            "request refused: unstorable character in its input (%s)",
            match.view_name if match is not None else "?",
        )
        if getattr(view_func, "answers_problem_json", False):
            # A JSON API's view (api.views): the refusal as an RFC 9457 problem document.
            body = {"type": "about:blank", "title": "Bad Request", "status": 400}
            body["detail"] = message
            return HttpResponse(
                json.dumps(body), status=400, content_type="application/problem+json"
            )
        return render(request, TEMPLATE, {"message": message}, status=400)
