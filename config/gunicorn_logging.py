"""gunicorn's access log without secrets: the one place web access lines are written in
production (runserver's go through ``kernel.logging``'s filter).

gunicorn's own access line carries the raw request target (``%(r)s``: path *and* query
string), the path (``%(U)s``), the query string (``%(q)s``), the ``Referer`` (``%(f)s``),
and, on request, any header or environ value (``%({authorization}i)s``, ``%({cookie}i)s``).
Any of these can hold a link token, a short-lived download signature, a Bearer token or a
session cookie, and docs/security-model.md promises none of them reaches a log line. So every
atom is rebuilt here from an allowlist: the request line and path are the path only, with the
values of secret URL parameters masked by the same :func:`kernel.logging.path_for_log` the
application's own lines use; the query string is never logged; the ``Referer`` keeps only its
scheme and host; headers and environ values other than the request id are dropped, whatever
``--access-logformat`` asks for.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from gunicorn.glogging import Logger

#: Atoms that never hold a secret and are kept as gunicorn computes them.
_KEPT = frozenset(["h", "l", "t", "s", "m", "H", "b", "B", "a", "T", "D", "M", "L", "p"])
#: The one header worth correlating with the application's lines.
_REQUEST_ID = "{x-request-id}i"


def _referer_origin(referer: str) -> str:
    parts = urlsplit(referer)
    if not parts.scheme or not parts.netloc:
        return "-"
    host = parts.netloc.rsplit("@", 1)[-1]  # never a user:password@ part
    return f"{parts.scheme}://{host}"


def _path(environ: dict) -> str:
    from kernel.logging import path_for_log  # Django is set up in a worker, not at import

    return path_for_log(environ.get("PATH_INFO") or "/")


class RedactingLogger(Logger):
    """gunicorn's logger with an access line that cannot carry a secret."""

    def atoms(self, resp, req, environ, request_time):
        computed = super().atoms(resp, req, environ, request_time)
        path = _path(environ)
        atoms = {name: value for name, value in computed.items() if name in _KEPT}
        atoms.update(
            {
                "u": "-",
                "r": f"{environ.get('REQUEST_METHOD', '-')} {path} "
                f"{environ.get('SERVER_PROTOCOL', '-')}",
                "U": path,
                "q": "",
                "f": _referer_origin(environ.get("HTTP_REFERER", "")),
                _REQUEST_ID: computed.get(_REQUEST_ID, "-"),
            }
        )
        return atoms  # gunicorn's SafeAtoms prints any atom dropped here as "-"
