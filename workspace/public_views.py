"""Pages of the public site (the bare APP_DOMAIN)."""

from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def landing(request):
    return render(request, "public/landing.html")


@require_GET
def security(request):
    return render(request, "public/security.html")
