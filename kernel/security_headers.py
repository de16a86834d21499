"""The response headers that tell a browser what our pages may do.

Invariant: every response that leaves the application, whatever produced it (a view, an
error page, the gate's refusal, the unknown-workspace page, a static file), passes this
middleware, which sits at the top of ``MIDDLEWARE`` with Django's SecurityMiddleware and
XFrameOptionsMiddleware. Together they set, from the one "Security headers" block of
``config/settings/base.py``:

- ``Content-Security-Policy``: django-csp from ``CONTENT_SECURITY_POLICY``, plus the origins a
  submitted form may be redirected to (this host's siblings: sign-up on the public site lands
  on the new workspace's host; and the private bucket when a download answers with a
  presigned link). Browsers check ``form-action`` on every redirect after a form post.
- ``Permissions-Policy`` from ``PERMISSIONS_POLICY``: every listed feature switched off.
- ``Referrer-Policy``, ``X-Content-Type-Options``, ``Cross-Origin-Opener-Policy``: Django's
  SecurityMiddleware; ``X-Frame-Options``: Django's XFrameOptionsMiddleware.
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase


def app_origins() -> list[str]:
    """The public site's origin and a wildcard for every workspace host."""
    port = f":{settings.APP_PORT}" if settings.APP_PORT else ""
    return [
        f"{settings.APP_SCHEME}://{settings.APP_DOMAIN}{port}",
        f"{settings.APP_SCHEME}://*.{settings.APP_DOMAIN}{port}",
    ]


def permissions_policy(features: dict[str, list[str]]) -> str:
    """``{"camera": [], "fullscreen": ["self"]}`` -> ``camera=(), fullscreen=(self)``."""
    return ", ".join(f"{name}=({' '.join(allowed)})" for name, allowed in features.items())


class SecurityHeadersMiddleware(CSPMiddleware):
    """django-csp's middleware with our form targets, plus Permissions-Policy."""

    # Both read the settings on every response (a few string joins), so a changed APP_PORT
    # or an overridden setting in a test takes effect without rebuilding the middleware.

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        form_targets = [*app_origins(), *settings.FORM_REDIRECT_ORIGINS]
        parts.update = {**(parts.update or {})}
        parts.update["form-action"] = [*parts.update.get("form-action", []), *form_targets]
        return parts

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        response = super().process_response(request, response)
        policy = permissions_policy(settings.PERMISSIONS_POLICY)
        response.headers.setdefault("Permissions-Policy", policy)
        return response
