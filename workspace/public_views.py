"""Pages of the public site (the bare APP_DOMAIN), the trust center among them, and
``/.well-known/security.txt``, which every host serves (the workspace hosts through
``security_txt_workspace``, declared PUBLIC)."""

from datetime import timedelta

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts import throttle
from audit.anchors import public_key_fingerprint, public_key_pem
from kernel.capabilities import PUBLIC
from kernel.decorators import require_capability
from subprocessors import selectors as subprocessor_selectors
from subprocessors.services import ANNUAL_NOTICE_DAYS
from tenants.selectors import public_url

from .trust import FAQ, PILLARS, ROADMAP, VERIFY_PATH

STATIC_PAGE = "a static page: no form, no lookup, nothing sent"
LIST_PAGE = "a public read of a short list: no form, no lookup by input, nothing sent"


@throttle.not_limited(STATIC_PAGE)
@require_GET
def landing(request):
    return render(request, "public/landing.html")


@throttle.not_limited(STATIC_PAGE)
@require_GET
def security(request):
    context = {
        "pillars": PILLARS,
        "roadmap": ROADMAP,
        "faq": FAQ,
        "verify_path": VERIFY_PATH,
        # The key that verifies the signed audit digests owners download (audit/anchors.py).
        "audit_key_pem": public_key_pem(),
        "audit_key_id": public_key_fingerprint(),
    }
    return render(request, "public/security.html", context)


@throttle.not_limited(LIST_PAGE)
@require_GET
def subprocessors(request):
    context = {
        "entries": subprocessor_selectors.current_entries(),
        "upcoming": subprocessor_selectors.upcoming_changes(),
        "history": subprocessor_selectors.change_history(),
        "notice_days": ANNUAL_NOTICE_DAYS,
    }
    return render(request, "public/subprocessors.html", context)


@throttle.not_limited(STATIC_PAGE)
@require_GET
def disclosure(request):
    context = {"contact": settings.SECURITY_CONTACT_EMAIL}
    return render(request, "public/disclosure.html", context)


def security_txt_body(request) -> str:
    """RFC 9116 fields. Expires is set from now (SECURITY_TXT_EXPIRES_DAYS), so it is always
    in the future; Canonical is this host's own https URL (one file per host)."""
    expires = timezone.now() + timedelta(days=settings.SECURITY_TXT_EXPIRES_DAYS)
    lines = [
        f"Contact: mailto:{settings.SECURITY_CONTACT_EMAIL}",
        f"Expires: {expires.replace(microsecond=0).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"Policy: {public_url('/security/disclosure/')}",
        "Preferred-Languages: en",
        f"Canonical: https://{request.get_host()}/.well-known/security.txt",
    ]
    return "\n".join(lines) + "\n"


def _security_txt(request) -> HttpResponse:
    return HttpResponse(security_txt_body(request), content_type="text/plain; charset=utf-8")


@throttle.not_limited(STATIC_PAGE)
@require_GET
def security_txt(request):
    return _security_txt(request)


@require_capability(PUBLIC)
@throttle.not_limited(STATIC_PAGE)
@require_GET
def security_txt_workspace(request):
    # The same file on a workspace host: anyone may read it, signed in or not, in any
    # lifecycle state, and it names nothing of the workspace.
    return _security_txt(request)
