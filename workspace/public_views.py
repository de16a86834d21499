"""Pages of the public site (the bare APP_DOMAIN)."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts import throttle
from audit.anchors import public_key_fingerprint, public_key_pem

STATIC_PAGE = "a static page: no form, no lookup, nothing sent"


@throttle.not_limited(STATIC_PAGE)
@require_GET
def landing(request):
    return render(request, "public/landing.html")


@throttle.not_limited(STATIC_PAGE)
@require_GET
def security(request):
    # The key that verifies the signed audit digests owners download (audit/anchors.py).
    context = {"audit_key_pem": public_key_pem(), "audit_key_id": public_key_fingerprint()}
    return render(request, "public/security.html", context)
