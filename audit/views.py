"""The Audit page of workspace settings: list, detail, export. Viewing and exporting are
themselves audited (by the services these views call)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from kernel.capabilities import AUDIT_EXPORT, AUDIT_READ
from kernel.decorators import require_capability

from . import anchors, export, selectors, services
from .forms import AuditExportForm, AuditFilterForm, PageForm

EXPORT_CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


@require_capability(AUDIT_READ)
@require_GET
def event_list(request):
    form = AuditFilterForm(request.GET)
    page_form = PageForm(request.GET)
    context: dict[str, Any] = {"form": form, "page_form": page_form, "page": None, "events": []}
    if not (form.is_valid() and page_form.is_valid()):
        return render(request, "audit/event_list.html", context, status=400)
    filters = form.filters()
    events = selectors.audit_events_filtered(viewer=request.membership, filters=filters)
    paginator = Paginator(events, settings.AUDIT_PAGE_SIZE)
    # A page past the last (an old bookmark, a narrower filter) shows the last page, as the
    # other lists do (kernel.views.list_page); a page that is not a number is a form error.
    page = paginator.get_page(page_form.cleaned_data.get("page") or 1)
    rows = list(page.object_list)
    services.audit_log_view(viewer=request.membership, filters=filters, page=page.number)
    query = request.GET.copy()
    query.pop("page", None)
    context.update(
        page=page,
        events=rows,
        filters=filters,
        query=query.urlencode(),
    )
    return render(request, "audit/event_list.html", context)


@require_capability(AUDIT_READ)
def event_detail(request, event_id: int):
    # Look up first: an id from another workspace answers 404 to every method, like a
    # missing one, rather than 405 for some.
    event = selectors.audit_event_get(viewer=request.membership, event_id=event_id)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    services.audit_event_view(viewer=request.membership, event=event)
    return render(request, "audit/event_detail.html", {"event": event})


@require_capability(AUDIT_EXPORT)
@require_GET
def event_export(request):
    form = AuditExportForm(request.GET)
    if not form.is_valid():
        return render(
            request,
            "audit/event_list.html",
            {"form": form, "page": None, "events": []},
            status=400,
        )
    filters = form.filters()
    export_format = form.cleaned_data["format"]
    head = selectors.audit_stream_head(viewer=request.membership)
    events = (
        selectors.audit_events_filtered(viewer=request.membership, filters=filters)
        .filter(sequence__lte=head)
        .order_by("sequence")
    )
    services.audit_log_export(
        viewer=request.membership,
        filters=filters,
        export_format=export_format,
        up_to_sequence=head,
    )
    writer = export.csv_chunks if export_format == "csv" else export.jsonl_chunks
    response = StreamingHttpResponse(
        writer(
            events,
            schema_name=request.tenant.schema_name,
            chunk_size=settings.AUDIT_EXPORT_CHUNK_SIZE,
        ),
        content_type=EXPORT_CONTENT_TYPES[export_format],
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    filename = f"audit-{request.tenant.slug}-{stamp}.{export_format}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_capability(AUDIT_EXPORT)
@require_GET
def digest_download(request):
    """The workspace's signed digests, the public key and the offline verifier, as one ZIP
    (audit.anchors.digest_bundle); checked with openssl and Python alone."""
    names = selectors.audit_digests_visible(viewer=request.membership)
    services.audit_digests_download(viewer=request.membership, digests=len(names))
    response = HttpResponse(anchors.digest_bundle(names), content_type="application/zip")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    filename = f"audit-digests-{request.tenant.slug}-{stamp}.zip"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
