"""The workspace's home page: the dashboard of what the viewer may see."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kernel.capabilities import WORKSPACE_VIEW
from kernel.decorators import require_capability

from .. import selectors
from ._common import ShopRequest


@require_capability(WORKSPACE_VIEW)
@require_GET
def home(request: ShopRequest) -> HttpResponse:
    return render(request, "shop/home.html", selectors.dashboard(viewer=request.membership))
