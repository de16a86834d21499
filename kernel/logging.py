"""One log line per refused request; no query strings and no link tokens in any log line.

Invariant: a request answered with a 4xx status (403, 404, 405, 429, a CSRF failure, a host we
do not serve...) is logged exactly once, at WARNING, as

    <METHOD> <path> <status>[ (<why>)]

with the request id and workspace in the line's prefix (``LOGGING`` in config/settings/base.py)
and no traceback: a refusal is the application working, not failing. The path never carries
its query string, and the value of a URL parameter that is a link token is masked
(``[token]``), because both may hold a secret (docs/security-model.md: never log links).
A real 500 keeps its traceback, logged once by Django.

Django logs each of these responses itself (``django.request`` and ``django.security.*``,
some with the exception's traceback, a 405 of a class-based view twice); the filter below
rewrites the first such record of a request and drops the rest. Code that refuses a request
for a reason worth keeping (the gate: who was refused where) calls :func:`note_refusal`
instead of logging a line of its own, and the reason ends up on the one line.

runserver's access log (``django.server``) goes through the same filter: its lines lose
their query string and tokens, and its lines for 4xx and 5xx answers are dropped because the
application has logged those already.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.http import HttpRequest
from django.urls import Resolver404, resolve

_REFUSAL_REASON = "_refusal_reason"
_REFUSAL_LOGGED = "_refusal_logged"
#: URL parameters whose value is a secret: masked in every log line.
SECRET_URL_PARAMETERS = frozenset({"token"})
_MASK = "[token]"
_REASON_LIMIT = 200
_REQUEST_LINE = re.compile(r"^(?P<method>\S+) (?P<target>\S+)(?P<rest>.*)$", re.DOTALL)


def note_refusal(request: HttpRequest, reason: str) -> None:
    """Say why ``request`` is refused; the reason is appended to its one log line."""
    setattr(request, _REFUSAL_REASON, reason)


def _masked(path: str, kwargs: dict) -> str:
    for name, value in kwargs.items():
        if name in SECRET_URL_PARAMETERS and isinstance(value, str) and value:
            path = path.replace(value, _MASK)
    return path


def path_for_log(path: str, *, resolver_match=None) -> str:
    """``path`` without query string, link tokens masked (resolved here if need be)."""
    path = path.split("?", 1)[0]
    if resolver_match is not None:
        return _masked(path, resolver_match.kwargs)
    for urlconf in (settings.ROOT_URLCONF, getattr(settings, "PUBLIC_SCHEMA_URLCONF", None)):
        if not urlconf:
            continue
        try:
            path = _masked(path, resolve(path, urlconf=urlconf).kwargs)
        except Resolver404:
            continue
    return path


def _escaped(text: str) -> str:
    # One line, whatever a visitor put in a header: control characters are escaped.
    return text[:_REASON_LIMIT].encode("unicode_escape").decode("ascii")


def _reason(record: logging.LogRecord, request: HttpRequest) -> str:
    noted = getattr(request, _REFUSAL_REASON, None)
    if noted:
        return _escaped(noted)
    if record.exc_info and record.exc_info[1] is not None:
        exception = record.exc_info[1]
        if record.name.startswith("django.security."):
            # Its message quotes what the visitor sent (a host name): the kind is enough.
            return type(exception).__name__
        message = str(exception)
        return _escaped(message) if message and message != "None" else ""
    return ""


class RequestLogFilter(logging.Filter):
    """Rewrites refusals to one line, keeps 5xx tracebacks, and scrubs the access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        request = getattr(record, "request", None)
        if record.name == "django.server":
            return self._access_line(record, status)
        if not isinstance(status, int) or not isinstance(request, HttpRequest):
            return True
        request_id = getattr(request, "request_id", None)
        if request_id:  # also when Django logs after the request id middleware has returned
            record.request_id = request_id
        if status >= 500:
            # A noted reason (a dependency that is down: kernel/errors.py) stays on the line.
            noted = getattr(request, _REFUSAL_REASON, None)
            record.msg = "%s %s %s (%s)" if noted else "%s %s %s"
            record.args = (*self._summary(request, status), *([_escaped(noted)] if noted else []))
            return True
        if status < 400:
            return True
        if getattr(request, _REFUSAL_LOGGED, False):
            return False
        setattr(request, _REFUSAL_LOGGED, True)
        reason = _reason(record, request)
        record.msg = "%s %s %s (%s)" if reason else "%s %s %s"
        record.args = (*self._summary(request, status), *([reason] if reason else []))
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True

    @staticmethod
    def _summary(request: HttpRequest, status: int) -> tuple[str, str, int]:
        match = getattr(request, "resolver_match", None)
        return request.method or "-", path_for_log(request.path, resolver_match=match), status

    @staticmethod
    def _access_line(record: logging.LogRecord, status) -> bool:
        if isinstance(status, int) and status >= 400:
            return False  # the application logged it: one line per refusal, one traceback
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
            line = _REQUEST_LINE.match(record.args[0])
            if line:
                request_line = f"{line['method']} {path_for_log(line['target'])}{line['rest']}"
                record.args = (request_line, *record.args[1:])
        return True
