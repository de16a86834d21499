"""The members' pages: list with progress, create, detail, resend, extend, revoke, review,
and the audited download of what a client sent."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kernel import storage
from kernel.capabilities import DOCREQUESTS_MANAGE, DOCREQUESTS_VIEW
from kernel.decorators import require_capability
from kernel.views import WorkspaceRequest, actor_of, flash_error, form_page
from rbac.companies import company_choices
from tenants.selectors import workspace_url

from .. import selectors, services
from ..files import files_described
from ..forms import ExtendForm, RequestCreateForm, ReviewForm

GET_POST = ["GET", "POST"]


def _link_notice(request: WorkspaceRequest, issued: services.Issued) -> None:
    """The link, shown once to the member who created or resent it (only its hash is kept)."""
    link = workspace_url(request.tenant, services.link_path(issued.token))
    messages.info(request, f"Link emailed. Copy it now, it is not shown again: {link}")


@require_capability(DOCREQUESTS_VIEW)
@require_GET
def request_list(request: WorkspaceRequest) -> HttpResponse:
    records = list(selectors.requests_visible(request.membership)[:200])
    names = selectors.company_name_map({record.company_id for record in records})
    rows = [(record, names.get(record.company_id, "—")) for record in records]
    return render(request, "docrequests/request_list.html", {"rows": rows})


@require_capability(DOCREQUESTS_MANAGE)
@require_http_methods(GET_POST)
def request_create(request: WorkspaceRequest) -> HttpResponse:
    form = RequestCreateForm(
        request.POST or None, company_choices=company_choices(viewer=request.membership)
    )

    def save(_data: dict) -> services.Issued:
        issued = services.document_request_create(**actor_of(request), **form.service_arguments())
        _link_notice(request, issued)
        return issued

    return form_page(
        request,
        form=form,
        save=save,
        done="Document request created.",
        success_url=lambda issued: f"/docrequests/{issued.document_request.pk}/",
        template="docrequests/form.html",
        context={"title": "New document request", "cancel_url": "/docrequests/"},
    )


@require_capability(DOCREQUESTS_VIEW)
@require_GET
def request_detail(request: WorkspaceRequest, pk: int) -> HttpResponse:
    record = selectors.request_get(viewer=request.membership, pk=pk)
    company_name = selectors.company_name_map({record.company_id}).get(record.company_id, "—")
    items = list(record.items.prefetch_related("uploads"))
    uploads = [upload for item in items for upload in item.uploads.all()]
    described = files_described({upload.stored_file_id for upload in uploads})
    for upload in uploads:
        # The copy among the company's files, while it is there (a member may delete it).
        linked = upload.stored_file_id
        upload.company_file = described.get(linked) if linked else None  # type: ignore[attr-defined]
    return render(
        request,
        "docrequests/request_detail.html",
        {
            "record": record,
            "company_name": company_name,
            "items": items,
            "extend_form": ExtendForm(),
            "review_form": ReviewForm(),
        },
    )


@require_capability(DOCREQUESTS_MANAGE)
@require_POST
def request_resend(request: WorkspaceRequest, pk: int) -> HttpResponse:
    record = selectors.request_get(viewer=request.membership, pk=pk)
    try:
        issued = services.document_request_resend(**actor_of(request), document_request=record)
    except ValidationError as error:
        flash_error(request, error)
    else:
        _link_notice(request, issued)
    return redirect("docrequests:detail", pk=pk)


@require_capability(DOCREQUESTS_MANAGE)
@require_POST
def request_extend(request: WorkspaceRequest, pk: int) -> HttpResponse:
    record = selectors.request_get(viewer=request.membership, pk=pk)
    form = ExtendForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a number of days from 1 to 90.")
        return redirect("docrequests:detail", pk=pk)
    try:
        services.document_request_extend(
            **actor_of(request), document_request=record, days=form.cleaned_data["days"]
        )
    except ValidationError as error:
        flash_error(request, error)
    else:
        messages.success(request, "Link extended.")
    return redirect("docrequests:detail", pk=pk)


@require_capability(DOCREQUESTS_MANAGE)
@require_POST
def request_revoke(request: WorkspaceRequest, pk: int) -> HttpResponse:
    record = selectors.request_get(viewer=request.membership, pk=pk)
    try:
        services.document_request_revoke(**actor_of(request), document_request=record)
    except ValidationError as error:
        flash_error(request, error)
    else:
        messages.success(request, "Link revoked. It no longer opens anything.")
    return redirect("docrequests:detail", pk=pk)


@require_capability(DOCREQUESTS_MANAGE)
@require_POST
def item_review(request: WorkspaceRequest, pk: int) -> HttpResponse:
    item = selectors.item_get(viewer=request.membership, pk=pk)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose accept or reject.")
        return redirect("docrequests:detail", pk=item.request_id)
    try:
        services.item_review(
            **actor_of(request),
            item=item,
            accept=form.cleaned_data["decision"] == "accept",
            comment=form.cleaned_data["comment"],
        )
    except ValidationError as error:
        flash_error(request, error)
    else:
        messages.success(request, "Decision saved; the client sees it on their checklist.")
    return redirect("docrequests:detail", pk=item.request_id)


@require_capability(DOCREQUESTS_VIEW)
@require_GET
def upload_download(request: WorkspaceRequest, pk: int) -> HttpResponseBase:
    upload = selectors.upload_get(viewer=request.membership, pk=pk)
    services.upload_record_download(**actor_of(request), upload=upload)
    return storage.download_response(upload)
