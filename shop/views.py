"""Workspace pages for the shop's data."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from rbac.capabilities import WORKSPACE_VIEW
from rbac.decorators import require_capability


@require_capability(WORKSPACE_VIEW)
@require_GET
def home(request):
    return render(request, "shop/home.html")
