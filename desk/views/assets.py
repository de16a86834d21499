"""Staff pages for customer companies' assets."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from kernel.capabilities import ASSETS_DELETE, ASSETS_EDIT, ASSETS_VIEW
from kernel.decorators import require_capability
from kernel.listing import clean_search, clean_sort
from kernel.views import GET_POST, actor_of, delete_page, form_page

from .. import selectors, services
from ..forms import AssetForm
from ..models import Asset
from ._common import DeskRequest, paginate


@require_capability(ASSETS_VIEW)
@require_GET
def asset_list(request: DeskRequest) -> HttpResponse:
    viewer = request.membership
    records = selectors.asset_list(
        viewer=viewer,
        q=request.GET.get("q", ""),
        sort=request.GET.get("sort", ""),
        status=request.GET.get("status", ""),
        company=request.GET.get("company", ""),
    )
    page = paginate(request, records)
    names = selectors.company_name_map({a.company_id for a in page})
    for asset in page:
        asset.company_name = names.get(asset.company_id, "—")
    return render(
        request,
        "desk/asset_list.html",
        {
            "page_obj": page,
            "q": clean_search(request.GET.get("q")),
            "sort": clean_sort(request.GET.get("sort"), selectors.ASSET_SORTS),
            "statuses": Asset.Status.choices,
            "portal": False,
        },
    )


@require_capability(ASSETS_VIEW)
@require_GET
def asset_detail(request: DeskRequest, pk: int) -> HttpResponse:
    viewer = request.membership
    asset = selectors.asset_get(viewer=viewer, pk=pk)
    tickets = selectors.tickets_visible(viewer).filter(assets=asset)
    names = selectors.company_name_map([asset.company_id])
    return render(
        request,
        "desk/asset_detail.html",
        {"asset": asset, "tickets": tickets, "company_name": names.get(asset.company_id, "—")},
    )


@require_capability(ASSETS_EDIT)
@require_http_methods(GET_POST)
def asset_create(request: DeskRequest) -> HttpResponse:
    form = AssetForm(request.POST or None, viewer=request.membership)

    def save(data):
        return services.asset_create(
            **actor_of(request),
            company_id=data["company"],
            **{k: data[k] for k in ("asset_type", "name", "serial", "location", "notes", "status")},
        )

    return form_page(
        request,
        form=form,
        save=save,
        done=lambda asset: f"Asset “{asset.name}” added.",
        success_url=lambda asset: reverse("desk:asset-detail", args=[asset.pk]),
        template="desk/form.html",
        context={"title": "New asset", "cancel_url": reverse("desk:asset-list")},
    )


@require_capability(ASSETS_EDIT)
@require_http_methods(GET_POST)
def asset_edit(request: DeskRequest, pk: int) -> HttpResponse:
    asset = selectors.asset_get(viewer=request.membership, pk=pk)
    form = AssetForm(
        request.POST or None, instance=Asset.objects.get(pk=asset.pk), viewer=request.membership
    )

    def save(data):
        return services.asset_update(
            **actor_of(request),
            asset=asset,
            **{k: data[k] for k in ("asset_type", "name", "serial", "location", "notes", "status")},
        )

    url = reverse("desk:asset-detail", args=[asset.pk])
    return form_page(
        request,
        form=form,
        save=save,
        done="Asset saved.",
        success_url=url,
        template="desk/form.html",
        context={"title": f"Edit {asset.name}", "cancel_url": url},
    )


@require_capability(ASSETS_DELETE)
@require_http_methods(GET_POST)
def asset_delete(request: DeskRequest, pk: int) -> HttpResponse:
    asset = selectors.asset_get(viewer=request.membership, pk=pk)
    return delete_page(
        request,
        template="desk/confirm_delete.html",
        obj=asset,
        kind="asset",
        delete=lambda: services.asset_delete(**actor_of(request), asset=asset),
        cancel_url=reverse("desk:asset-detail", args=[asset.pk]),
        done_url=reverse("desk:asset-list"),
        done=f"Asset “{asset.name}” deleted.",
    )
