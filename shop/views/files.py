"""File pages: the list, the upload form, the detail page, the download and deletion."""

from __future__ import annotations

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from kernel.capabilities import FILES_DELETE, FILES_UPLOAD, FILES_VIEW
from kernel.decorators import require_capability
from kernel.views import GET_POST, actor_of, delete_page, form_page, list_page

from .. import selectors, services, storage
from ..forms import FileUploadForm
from ..models import StoredFile
from ._common import CONFIRM_DELETE_TEMPLATE, ShopRequest


@require_capability(FILES_VIEW)
@require_GET
def file_list(request: ShopRequest) -> HttpResponse:
    return list_page(
        request,
        select=selectors.file_list,
        template="shop/file_list.html",
        sorts=selectors.FILE_SORTS,
        filters=StoredFile.Kind.choices,
        filter_param="kind",
    )


@require_capability(FILES_UPLOAD)
@require_http_methods(GET_POST)
def file_upload(request: ShopRequest) -> HttpResponse:
    viewer = request.membership
    if request.method == "POST":
        form = FileUploadForm(request.POST, request.FILES, viewer=viewer)
    else:
        initial = {
            key: request.GET[key] for key in ("company", "quote", "order") if request.GET.get(key)
        }
        form = FileUploadForm(viewer=viewer, initial=initial)
        companies = form.companies
        if "company" not in initial and len(companies[:2]) == 1:
            only = companies.first()
            if only is not None:  # the one company just counted
                form.initial["company"] = only.pk

    def save(data):
        return services.file_upload(
            **actor_of(request),
            company=data["company"],
            upload=data["upload"],
            filename=data["upload"].name,
            kind=data["kind"],
            quote=data["quote"],
            order=data["order"],
        )

    return form_page(
        request,
        form=form,
        save=save,
        done=lambda stored: f"“{stored.original_filename}” uploaded.",
        success_url=lambda stored: reverse("shop:file-detail", args=[stored.pk]),
        template="shop/file_form.html",
    )


@require_capability(FILES_VIEW)
@require_GET
def file_detail(request: ShopRequest, pk: int) -> HttpResponse:
    stored = selectors.file_get(viewer=request.membership, pk=pk)
    return render(request, "shop/file_detail.html", {"file": stored})


@require_capability(FILES_VIEW)
@require_GET
def file_download(request: ShopRequest, pk: int) -> HttpResponseBase:
    stored = selectors.file_get(viewer=request.membership, pk=pk)
    services.file_record_download(**actor_of(request), stored_file=stored)
    return storage.download_response(stored)


@require_capability(FILES_DELETE)
@require_http_methods(GET_POST)
def file_delete(request: ShopRequest, pk: int) -> HttpResponse:
    stored = selectors.file_get(viewer=request.membership, pk=pk)
    return delete_page(
        request,
        template=CONFIRM_DELETE_TEMPLATE,
        obj=stored,
        kind="file",
        delete=lambda: services.file_delete(**actor_of(request), stored_file=stored),
        cancel_url=reverse("shop:file-detail", args=[stored.pk]),
        done_url=reverse("shop:file-list"),
        done=f"“{stored.original_filename}” deleted.",
    )
