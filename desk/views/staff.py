"""The staff desk: the queue, a ticket's page and its actions, bulk actions, the SLA policy
and overrides, and the dashboard."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.events import Event
from kernel import storage
from kernel.capabilities import (
    DASHBOARD_VIEW,
    SLA_MANAGE,
    SLA_OVERRIDE,
    TICKETS_CREATE,
    TICKETS_VIEW,
    TICKETS_WORK,
)
from kernel.decorators import require_capability
from kernel.listing import clean_search, clean_sort
from kernel.views import GET_POST, actor_of, add_service_error, flash_error, form_page

from .. import charts, selectors, services
from ..forms import (
    AssignForm,
    BulkForm,
    MergeForm,
    OverrideForm,
    ReplyForm,
    SlaPolicyForm,
    StatusForm,
    TicketCreateForm,
    TicketEditForm,
    uploads_of,
)
from ..models import Priority, Ticket
from ._common import DeskRequest, paginate, with_sla


def _detail(pk: int) -> str:
    return reverse("desk:ticket-detail", args=[pk])


@require_capability(TICKETS_VIEW)
@require_GET
def ticket_list(request: DeskRequest) -> HttpResponse:
    viewer = request.membership
    filters = selectors.TicketFilters.from_query(request.GET)
    records = selectors.ticket_list(
        viewer=viewer, q=request.GET.get("q", ""), sort=request.GET.get("sort", ""), filters=filters
    )
    page = paginate(request, records)
    return render(
        request,
        "desk/ticket_list.html",
        {
            "page_obj": page,
            "tickets": with_sla(page),
            "q": clean_search(request.GET.get("q")),
            "sort": clean_sort(request.GET.get("sort"), selectors.TICKET_SORTS),
            "filters": filters,
            "statuses": Ticket.Status.choices,
            "priorities": Priority.choices,
            "sla_states": selectors.SLA_FILTERS,
            "saved_views": selectors.SAVED_VIEWS,
            "companies": selectors.company_choices(viewer),
            "assignees": services.assignable_users(request.tenant),
            "bulk_form": BulkForm(tenant=request.tenant, ticket_ids=[]),
        },
    )


@require_capability(TICKETS_WORK)
@require_POST
def ticket_bulk(request: DeskRequest) -> HttpResponse:
    ids = [int(v) for v in request.POST.getlist("tickets") if v.isdigit()]
    form = BulkForm(request.POST, tenant=request.tenant, ticket_ids=ids)
    if not form.is_valid():
        messages.error(request, "Choose tickets and an action.")
        return render(request, "desk/form.html", {"form": form, "title": "Bulk action"}, status=400)
    data = form.cleaned_data
    try:
        if data["action"] == "assign":
            count = services.ticket_bulk_assign(
                **actor_of(request), ticket_ids=data["tickets"], assignee_id=data["assignee"]
            )
            messages.success(request, f"{count} ticket(s) assigned.")
        else:
            count = services.ticket_bulk_close(**actor_of(request), ticket_ids=data["tickets"])
            messages.success(request, f"{count} ticket(s) closed.")
    except ValidationError as error:
        flash_error(request, error)
    return redirect("desk:ticket-list")


@require_capability(TICKETS_CREATE)
@require_http_methods(GET_POST)
def ticket_create(request: DeskRequest) -> HttpResponse:
    form = TicketCreateForm(request.POST or None, request.FILES or None, viewer=request.membership)

    def save(data):
        return services.ticket_create(
            **actor_of(request),
            company_id=data["company"],
            requester=form.people.get(data["requester"]) if data["requester"] else None,
            requester_name=data["requester_name"],
            requester_email=data["requester_email"],
            subject=data["subject"],
            description=data["description"],
            priority=data["priority"],
            category=data["category"],
            uploads=uploads_of(data["attachments"]),
        )

    return form_page(
        request,
        form=form,
        save=save,
        done=lambda ticket: f"Ticket {ticket.number} opened.",
        success_url=lambda ticket: _detail(ticket.pk),
        template="desk/form.html",
        context={
            "title": "New ticket",
            "multipart": True,
            "cancel_url": reverse("desk:ticket-list"),
        },
    )


@require_capability(TICKETS_VIEW)
@require_GET
def ticket_detail(request: DeskRequest, pk: int) -> HttpResponse:
    viewer = request.membership
    ticket = selectors.ticket_get(viewer=viewer, pk=pk)
    names = selectors.company_name_map([ticket.company_id])
    history = selectors.ticket_history(viewer=viewer, ticket=ticket)
    return render(
        request,
        "desk/ticket_detail.html",
        {
            "ticket": ticket,
            "company_name": names.get(ticket.company_id, "—"),
            "sla": selectors.ticket_sla(ticket),
            "conversation": selectors.message_list(viewer=viewer, ticket=ticket),
            "attachments": selectors.attachments_visible(viewer).filter(ticket=ticket),
            "overrides": selectors.override_list(viewer=viewer, ticket=ticket),
            "history": history,
            # Seed data (the demo's tickets) is written without audit events of its own.
            "creation_recorded": history.filter(event_type=Event.TICKET_CREATED).exists(),
            "merged": ticket.merged.all(),
            "reply_form": ReplyForm(),
            "status_form": StatusForm(initial={"status": ticket.status}),
            "assign_form": AssignForm(
                tenant=request.tenant, initial={"assignee": ticket.assignee_id}
            ),
            "merge_form": MergeForm(),
            "next_statuses": [
                (value, label)
                for value, label in Ticket.Status.choices
                if value in services.TICKET_STATUS_TRANSITIONS[ticket.status]
            ],
        },
    )


@require_capability(TICKETS_WORK)
@require_http_methods(GET_POST)
def ticket_edit(request: DeskRequest, pk: int) -> HttpResponse:
    viewer = request.membership
    ticket = selectors.ticket_get(viewer=viewer, pk=pk)
    initial = {
        "subject": ticket.subject,
        "priority": ticket.priority,
        "category": ticket.category,
        "tags": " ".join(ticket.tags),
        "watchers": list(ticket.watchers.values_list("pk", flat=True)),
        "assets": list(ticket.assets.values_list("pk", flat=True)),
    }
    form = TicketEditForm(request.POST or None, initial=initial, ticket=ticket, viewer=viewer)

    def save(data):
        return services.ticket_update(
            **actor_of(request),
            ticket=ticket,
            subject=data["subject"],
            priority=data["priority"],
            category=data["category"],
            tags=data["tags"],
            watcher_ids=data["watchers"],
            asset_ids=data["assets"],
        )

    return form_page(
        request,
        form=form,
        save=save,
        done=f"Ticket {ticket.number} saved.",
        success_url=_detail(ticket.pk),
        template="desk/form.html",
        context={"title": f"Edit {ticket.number}", "cancel_url": _detail(ticket.pk)},
    )


def _ticket_form_action(request: DeskRequest, pk: int, form_class, act, done: str, **form_kwargs):
    """A POST-only form on the ticket page: bad input answers 400 on the form's own page;
    a service's refusal is flashed on the ticket's page."""
    ticket = selectors.ticket_get(viewer=request.membership, pk=pk)
    form = (
        form_class(request.POST, request.FILES or None, **form_kwargs)
        if form_class is ReplyForm
        else form_class(request.POST, **form_kwargs)
    )
    if not form.is_valid():
        return render(
            request,
            "desk/form.html",
            {
                "form": form,
                "title": f"{ticket.number}: {ticket.subject}",
                "cancel_url": _detail(ticket.pk),
                "multipart": form_class is ReplyForm,
            },
            status=400,
        )
    try:
        act(ticket, form.cleaned_data)
    except ValidationError as error:
        flash_error(request, error)
    else:
        messages.success(request, done)
    return redirect(_detail(ticket.pk))


@require_capability(TICKETS_WORK)
@require_POST
def ticket_reply(request: DeskRequest, pk: int) -> HttpResponse:
    def act(ticket, data):
        services.ticket_reply(
            **actor_of(request),
            ticket=ticket,
            body=data["body"],
            internal=data["internal"],
            uploads=uploads_of(data["attachments"]),
        )

    return _ticket_form_action(request, pk, ReplyForm, act, "Posted.")


@require_capability(TICKETS_WORK)
@require_POST
def ticket_status(request: DeskRequest, pk: int) -> HttpResponse:
    def act(ticket, data):
        services.ticket_change_status(**actor_of(request), ticket=ticket, status=data["status"])

    return _ticket_form_action(request, pk, StatusForm, act, "Status changed.")


@require_capability(TICKETS_WORK)
@require_POST
def ticket_assign(request: DeskRequest, pk: int) -> HttpResponse:
    def act(ticket, data):
        services.ticket_assign(**actor_of(request), ticket=ticket, assignee_id=data["assignee"])

    return _ticket_form_action(
        request, pk, AssignForm, act, "Assignee changed.", tenant=request.tenant
    )


@require_capability(TICKETS_WORK)
@require_POST
def ticket_merge(request: DeskRequest, pk: int) -> HttpResponse:
    def act(ticket, data):
        number = data["into"].strip().upper()
        into = selectors.tickets_visible(request.membership).filter(number=number).first()
        if into is None:
            raise ValidationError("No ticket has that number.")
        services.ticket_merge(**actor_of(request), ticket=ticket, into=into)

    return _ticket_form_action(request, pk, MergeForm, act, "Ticket merged.")


@require_capability(SLA_OVERRIDE)
@require_http_methods(GET_POST)
def ticket_sla_override(request: DeskRequest, pk: int) -> HttpResponse:
    ticket = selectors.ticket_get(viewer=request.membership, pk=pk)
    form = OverrideForm(request.POST or None)

    def save(data):
        return services.sla_override(**actor_of(request), ticket=ticket, **data)

    return form_page(
        request,
        form=form,
        save=save,
        done="SLA target overridden.",
        success_url=_detail(ticket.pk),
        template="desk/form.html",
        context={"title": f"Override the SLA of {ticket.number}", "cancel_url": _detail(ticket.pk)},
    )


@require_capability(TICKETS_VIEW)
@require_GET
def attachment_download(request: DeskRequest, pk: int) -> HttpResponseBase:
    attachment = selectors.attachment_get(viewer=request.membership, pk=pk)
    services.attachment_record_download(**actor_of(request), attachment=attachment)
    return storage.download_response(attachment)


SLA_POLICY_APPLIES_TO_NEW_TICKETS = (
    "Changes apply to tickets opened from now on: open tickets keep the due times they have, "
    "unless you tick “Also recompute the due times of open tickets” below. "
    "Changing a ticket's priority moves its unmet due times to the new priority's targets "
    "under this policy, keeping the time it spent paused and any override made by hand."
)


@require_capability(SLA_MANAGE)
@require_http_methods(GET_POST)
def sla_policy(request: DeskRequest) -> HttpResponse:
    policy = selectors.sla_policy()
    if request.method == "POST":
        form = SlaPolicyForm(request.POST)
    else:
        form = SlaPolicyForm(initial=SlaPolicyForm.initial_for(policy))
    return form_page(
        request,
        form=form,
        save=lambda data: services.sla_policy_update(
            **actor_of(request), **form.service_arguments()
        ),
        done=lambda policy: (
            "SLA policy saved. Open tickets' due times were recomputed."
            if form.cleaned_data.get("recompute_open_tickets")
            else "SLA policy saved. New tickets use it from now on."
        ),
        success_url=reverse("desk:sla-policy"),
        template="desk/form.html",
        context={
            "title": "SLA policy",
            "intro": SLA_POLICY_APPLIES_TO_NEW_TICKETS,
            "cancel_url": reverse("desk:ticket-list"),
        },
    )


@require_capability(DASHBOARD_VIEW)
@require_GET
def dashboard(request: DeskRequest) -> HttpResponse:
    data = selectors.dashboard(viewer=request.membership, now=timezone.now())
    return render(
        request,
        "desk/dashboard.html",
        {
            "charts": [
                (
                    "Open tickets by status, and those resolved or closed in the last 30 days",
                    charts.bars(data.by_status),
                ),
                ("Open tickets by priority", charts.bars(data.by_priority)),
                ("Open tickets by SLA state", charts.bars(data.sla_states)),
                ("Open tickets per assignee", charts.bars(data.by_assignee)),
                (
                    "Average first response (hours), last 30 days",
                    charts.bars(data.first_response_hours, decimals=1),
                ),
                (
                    "Average resolution (hours), last 30 days",
                    charts.bars(data.resolution_hours, decimals=1),
                ),
            ]
        },
    )


_ = add_service_error
