"""The customer portal: their company's requests (public replies only) and assets."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import throttle
from kernel import storage
from kernel.capabilities import (
    COMPANY_ASSETS_VIEW,
    REQUESTS_CREATE,
    REQUESTS_EXPORT,
    REQUESTS_REPLY,
    REQUESTS_VIEW,
)
from kernel.context import client_ip
from kernel.decorators import require_capability
from kernel.listing import clean_search
from kernel.views import GET_POST, actor_of, flash_error, form_page

from .. import selectors, services
from ..forms import PortalReplyForm, RequestForm, uploads_of
from ..models import Ticket
from ._common import DeskRequest, paginate, with_sla


def _detail(pk: int) -> str:
    return reverse("desk:request-detail", args=[pk])


@require_capability(REQUESTS_VIEW)
@require_GET
def request_list(request: DeskRequest) -> HttpResponse:
    filters = selectors.TicketFilters(status=request.GET.get("status", "")[:20])
    records = selectors.ticket_list(
        viewer=request.membership, q=request.GET.get("q", ""), filters=filters
    )
    page = paginate(request, records)
    return render(
        request,
        "desk/request_list.html",
        {
            "page_obj": page,
            "tickets": with_sla(page),
            "q": clean_search(request.GET.get("q")),
            "statuses": Ticket.Status.choices,
            "status": filters.status,
        },
    )


@require_capability(REQUESTS_CREATE)
@require_http_methods(GET_POST)
def request_create(request: DeskRequest) -> HttpResponse:
    form = RequestForm(request.POST or None, request.FILES or None, viewer=request.membership)

    def save(data):
        return services.ticket_create(
            **actor_of(request),
            subject=data["subject"],
            description=data["description"],
            priority=data["priority"],
            category=data["category"],
            asset_ids=[data["asset"]] if data["asset"] else [],
            uploads=uploads_of(data["attachments"]),
        )

    return form_page(
        request,
        form=form,
        save=save,
        done=lambda ticket: f"Thank you. Your request {ticket.number} was sent.",
        success_url=lambda ticket: _detail(ticket.pk),
        template="desk/form.html",
        context={
            "title": "New request",
            "multipart": True,
            "cancel_url": reverse("desk:request-list"),
        },
    )


@require_capability(REQUESTS_VIEW)
@require_GET
def request_detail(request: DeskRequest, pk: int) -> HttpResponse:
    viewer = request.membership
    ticket = selectors.ticket_get(viewer=viewer, pk=pk)
    policy = selectors.sla_policy()
    can_reopen = False
    if ticket.status == Ticket.Status.RESOLVED and ticket.resolved_at is not None:
        from datetime import timedelta

        from django.utils import timezone

        can_reopen = timezone.now() - ticket.resolved_at <= timedelta(
            days=policy.reopen_window_days
        )
    return render(
        request,
        "desk/request_detail.html",
        {
            "ticket": ticket,
            "sla": selectors.ticket_sla(ticket),
            "conversation": selectors.message_list(viewer=viewer, ticket=ticket),
            "attachments": selectors.attachments_visible(viewer).filter(ticket=ticket),
            "assets": selectors.assets_visible(viewer).filter(tickets=ticket),
            "reply_form": PortalReplyForm(),
            "can_reopen": can_reopen,
        },
    )


@require_capability(REQUESTS_REPLY)
@require_POST
def request_reply(request: DeskRequest, pk: int) -> HttpResponse:
    ticket = selectors.ticket_get(viewer=request.membership, pk=pk)
    form = PortalReplyForm(request.POST, request.FILES or None)
    if not form.is_valid():
        return render(
            request,
            "desk/form.html",
            {
                "form": form,
                "title": f"Reply on {ticket.number}",
                "multipart": True,
                "cancel_url": _detail(ticket.pk),
            },
            status=400,
        )
    try:
        services.request_reply(
            **actor_of(request),
            ticket=ticket,
            body=form.cleaned_data["body"],
            uploads=uploads_of(form.cleaned_data["attachments"]),
        )
    except ValidationError as error:
        flash_error(request, error)
    else:
        messages.success(request, "Your reply was sent.")
    return redirect(_detail(ticket.pk))


def _request_action(request: DeskRequest, pk: int, action, done: str) -> HttpResponse:
    ticket = selectors.ticket_get(viewer=request.membership, pk=pk)
    try:
        action(**actor_of(request), ticket=ticket)
    except ValidationError as error:
        flash_error(request, error)
    else:
        messages.success(request, done)
    return redirect(_detail(ticket.pk))


@require_capability(REQUESTS_REPLY)
@require_POST
def request_solved(request: DeskRequest, pk: int) -> HttpResponse:
    return _request_action(
        request, pk, services.request_confirm_solved, "Thank you. The request is closed."
    )


@require_capability(REQUESTS_REPLY)
@require_POST
def request_reopen(request: DeskRequest, pk: int) -> HttpResponse:
    return _request_action(request, pk, services.request_reopen, "The request is open again.")


@require_capability(REQUESTS_VIEW)
@require_GET
def request_attachment_download(request: DeskRequest, pk: int) -> HttpResponseBase:
    attachment = selectors.attachment_get(viewer=request.membership, pk=pk)
    services.attachment_record_download(**actor_of(request), attachment=attachment)
    return storage.download_response(attachment)


@require_capability(COMPANY_ASSETS_VIEW)
@require_GET
def portal_asset_list(request: DeskRequest) -> HttpResponse:
    records = selectors.asset_list(viewer=request.membership, q=request.GET.get("q", ""))
    return render(
        request,
        "desk/asset_list.html",
        {
            "page_obj": paginate(request, records),
            "q": clean_search(request.GET.get("q")),
            "portal": True,
        },
    )


@require_capability(COMPANY_ASSETS_VIEW)
@require_GET
def portal_asset_detail(request: DeskRequest, pk: int) -> HttpResponse:
    viewer = request.membership
    asset = selectors.asset_get(viewer=viewer, pk=pk)
    tickets = selectors.tickets_visible(viewer).filter(assets=asset)
    return render(
        request, "desk/asset_detail.html", {"asset": asset, "tickets": tickets, "portal": True}
    )


@require_capability(REQUESTS_EXPORT)
@require_http_methods(GET_POST)
def portal_export(request: DeskRequest) -> HttpResponseBase:
    """GET: what the export holds. POST: the export itself, a JSON document streamed as it
    is read (``services.portal_export``: rate limited, audited). Allowed in a cancelled
    workspace, whose people keep the right to take their data with them."""
    if request.method == "POST":
        try:
            export = services.portal_export(**actor_of(request), ip=client_ip(request))
        except throttle.Throttled as error:
            return throttle.refusal_page(request, error, template="desk/portal_export.html")
        response = StreamingHttpResponse(export.chunks, content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        response["Cache-Control"] = "private, no-store"
        return response
    return render(request, "desk/portal_export.html", {})


portal_export.allowed_when_cancelled = True  # type: ignore[attr-defined]

_ = form_page
