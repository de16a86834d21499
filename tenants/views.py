"""Views of the tenants app that are not workspace pages."""

from __future__ import annotations

from django.shortcuts import render

from .selectors import public_url


def unknown_workspace(request):
    """A friendly 404 for a host that is no workspace of ours."""
    return render(
        request,
        "tenants/unknown_workspace.html",
        {"public_home": public_url("/")},
        status=404,
    )
