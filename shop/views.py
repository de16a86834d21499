"""Workspace pages for the shop's data.

Invariant: every view declares its capability (the gate enforces it before the view runs),
fetches objects only through the selectors (so a record the viewer may not see is the same
404 as a missing one), and changes data only through the services, with POST and CSRF.
Views hold no business rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.twofactor.action_codes import Action
from accounts.twofactor.stepup import action_confirmation_step
from kernel.capabilities import (
    COMPANIES_CREATE,
    COMPANIES_DELETE,
    COMPANIES_EDIT,
    COMPANIES_VIEW,
    FILES_DELETE,
    FILES_UPLOAD,
    FILES_VIEW,
    INVOICES_CREATE,
    INVOICES_DELETE,
    INVOICES_EDIT,
    INVOICES_VIEW,
    INVOICES_VOID,
    ORDERS_CREATE,
    ORDERS_DELETE,
    ORDERS_EDIT,
    ORDERS_VIEW,
    QUOTES_CREATE,
    QUOTES_DELETE,
    QUOTES_EDIT,
    QUOTES_RESPOND,
    QUOTES_SEND,
    QUOTES_VIEW,
    WORKSPACE_VIEW,
)
from kernel.decorators import require_capability

from . import selectors, services, storage
from .forms import (
    CompanyForm,
    ContactForm,
    FileUploadForm,
    InvoiceForm,
    OrderForm,
    OrderStatusForm,
    QuoteForm,
    QuoteLineFormSet,
    quote_line_initial,
)
from .models import Invoice, Order, Quote, StoredFile

PAGE_SIZE = 25
GET_POST = ["GET", "POST"]


# --- Helpers -------------------------------------------------------------------------------


def _list_page(
    request: HttpRequest,
    *,
    select: Callable[..., QuerySet],
    template: str,
    sorts: dict,
    filters: Sequence[tuple[str, str]] | None = None,
    filter_param: str = "status",
) -> HttpResponse:
    """A searchable, sortable, paginated list of what ``select`` (a list selector) shows the
    viewer. ``filters`` are the choices of the list's one filter, ``filter_param`` its query
    parameter; a list without ``filters`` passes the selector no filter."""
    narrowing = {} if filters is None else {filter_param: request.GET.get(filter_param, "")}
    records = select(
        viewer=request.membership,
        q=request.GET.get("q"),
        sort=request.GET.get("sort"),
        **narrowing,
    )
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page_obj": page,
        "q": selectors.clean_search(request.GET.get("q")),
        "sort": selectors.clean_sort(request.GET.get("sort"), sorts),
        "filters": filters or (),
        "filter_param": filter_param,
        "filter_value": request.GET.get(filter_param, ""),
    }
    return render(request, template, context)


def _add_service_error(form: Form, error: ValidationError) -> None:
    """Put a service's ValidationError next to the field it names, or at the top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _flash_error(request: HttpRequest, error: ValidationError) -> None:
    messages.error(request, " ".join(error.messages))


def _form_page(
    request: HttpRequest,
    *,
    form: Form,
    save: Callable[[dict], Any],
    done: str | Callable[[Any], str],
    success_url: str | Callable[[Any], str],
    template: str,
    context: dict | None = None,
) -> HttpResponse:
    """GET: the form. POST: a valid form runs ``save(cleaned_data)``, which calls the service
    and returns what it wrote; ``done`` (the success message) and ``success_url`` may be
    functions of that result. A submitted form that fails, on input or on the service's
    refusal (shown next to its field), answers 400. The actor is ``request.membership``."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(form.cleaned_data)
        except ValidationError as error:
            _add_service_error(form, error)
        else:
            messages.success(request, done(saved) if callable(done) else done)
            return redirect(success_url(saved) if callable(success_url) else success_url)
    status = 400 if request.method == "POST" else 200
    return render(request, template, {"form": form, **(context or {})}, status=status)


def _confirm_delete(request: HttpRequest, *, obj, kind: str, cancel_url: str) -> HttpResponse:
    return render(
        request,
        "shop/confirm_delete.html",
        {"object": obj, "kind": kind, "cancel_url": cancel_url},
    )


def _delete_page(
    request: HttpRequest, *, obj, kind: str, delete, cancel_url: str, done_url: str, done: str
) -> HttpResponse:
    """GET: the confirmation page. POST: run the service's ``delete()``; its refusal is shown
    on the object's page, success on ``done_url``."""
    if request.method != "POST":
        return _confirm_delete(request, obj=obj, kind=kind, cancel_url=cancel_url)
    try:
        delete()
    except ValidationError as error:
        _flash_error(request, error)
        return redirect(cancel_url)
    messages.success(request, done)
    return redirect(done_url)


def _actor(request: HttpRequest):
    return {"tenant": request.tenant, "actor": request.membership}


def _company_url(pk: int) -> str:
    return reverse("shop:company-detail", args=[pk])


# --- Home ----------------------------------------------------------------------------------


@require_capability(WORKSPACE_VIEW)
@require_GET
def home(request):
    return render(request, "shop/home.html", selectors.dashboard(viewer=request.membership))


# --- Companies -----------------------------------------------------------------------------


@require_capability(COMPANIES_VIEW)
@require_GET
def company_list(request):
    return _list_page(
        request,
        select=selectors.company_list,
        template="shop/company_list.html",
        sorts=selectors.COMPANY_SORTS,
    )


@require_capability(COMPANIES_CREATE)
@require_http_methods(GET_POST)
def company_create(request):
    return _form_page(
        request,
        form=CompanyForm(request.POST or None),
        save=lambda data: services.company_create(**_actor(request), **data),
        done=lambda company: f"Company “{company.name}” created.",
        success_url=lambda company: _company_url(company.pk),
        template="shop/company_form.html",
    )


@require_capability(COMPANIES_VIEW)
@require_GET
def company_detail(request, pk: int):
    viewer = request.membership
    company = selectors.company_get(viewer=viewer, pk=pk)
    return render(
        request,
        "shop/company_detail.html",
        {
            "company": company,
            "contacts": selectors.contact_list(viewer=viewer).filter(company=company),
            "quotes": selectors.quote_list(viewer=viewer).filter(company=company)[:10],
            "orders": selectors.order_list(viewer=viewer).filter(company=company)[:10],
            "invoices": selectors.invoice_list(viewer=viewer).filter(company=company)[:10],
            "files": selectors.file_list(viewer=viewer).filter(company=company)[:10],
        },
    )


@require_capability(COMPANIES_EDIT)
@require_http_methods(GET_POST)
def company_edit(request, pk: int):
    company = selectors.company_get(viewer=request.membership, pk=pk)
    return _form_page(
        request,
        form=CompanyForm(request.POST or None, instance=company),
        save=lambda data: services.company_update(**_actor(request), company=company, **data),
        done="Company saved.",
        success_url=_company_url(company.pk),
        template="shop/company_form.html",
        context={"company": company},
    )


@require_capability(COMPANIES_DELETE)
@require_http_methods(GET_POST)
def company_delete(request, pk: int):
    """A company without records is deleted here; one with records is offered the
    confirmed deletion of everything (``company_delete_all``)."""
    company = selectors.company_get(viewer=request.membership, pk=pk)
    if request.method != "POST":
        records = selectors.company_records(viewer=request.membership, company=company)
        return render(
            request,
            "shop/company_confirm_delete.html",
            {
                "company": company,
                "records": records,
                "record_lines": _company_record_lines(records),
                "capabilities_needed": services.company_delete_with_records_capabilities(records),
                "cancel_url": _company_url(company.pk),
            },
        )
    return _delete_page(
        request,
        obj=company,
        kind="company",
        delete=lambda: services.company_delete(**_actor(request), company=company),
        cancel_url=_company_url(company.pk),
        done_url=reverse("shop:company-list"),
        done=f"Company “{company.name}” deleted.",
    )


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


def _company_record_lines(records: selectors.CompanyRecords) -> list[str]:
    """What deleting the company with its records removes, one line per kind present."""
    lines = []
    if records.quotes:
        lines.append(
            _count(records.quotes, "quote", "quotes")
            + f" (with {_count(records.quote_lines, 'line', 'lines')})"
        )
    if records.orders:
        lines.append(_count(records.orders, "order", "orders"))
    if records.invoices:
        lines.append(_count(records.invoices, "invoice", "invoices") + ", paid ones included")
    if records.files:
        lines.append(_count(records.files, "file", "files") + " and their stored contents")
    if records.contacts:
        lines.append(_count(records.contacts, "contact", "contacts"))
    if records.people:
        lines.append(
            _count(records.people, "person", "people")
            + " of this company lose access to the workspace"
        )
    if records.invitations:
        lines.append(
            _count(records.invitations, "open invitation", "open invitations") + " withdrawn"
        )
    return lines


@require_capability(COMPANIES_DELETE)
@require_http_methods(GET_POST)
def company_delete_all(request, pk: int):
    """Delete a company with all its records, confirmed with an emailed code."""
    company = selectors.company_get(viewer=request.membership, pk=pk)
    records = selectors.company_records(viewer=request.membership, company=company)
    name = company.name

    def perform(confirmation):
        services.company_delete_with_records(
            **_actor(request), company=company, confirmation=confirmation
        )
        messages.success(request, f"Company “{name}” and all its records deleted.")
        return redirect("shop:company-list")

    return action_confirmation_step(
        request,
        action=Action.COMPANY_DELETE_WITH_RECORDS,
        target=company,
        title=f"Delete {name} and all its records",
        consequences=[
            f"The company “{name}” is deleted.",
            *_company_record_lines(records),
            "Each deleted record is recorded in the audit log.",
        ],
        confirm_label="Delete company and all its records",
        cancel_url=_company_url(company.pk),
        perform=perform,
    )


# --- Contacts ------------------------------------------------------------------------------


@require_capability(COMPANIES_EDIT)
@require_http_methods(GET_POST)
def contact_create(request, pk: int):
    company = selectors.company_get(viewer=request.membership, pk=pk)
    return _form_page(
        request,
        form=ContactForm(request.POST or None),
        save=lambda data: services.contact_create(**_actor(request), company=company, **data),
        done="Contact added.",
        success_url=_company_url(company.pk),
        template="shop/contact_form.html",
        context={"company": company},
    )


@require_capability(COMPANIES_EDIT)
@require_http_methods(GET_POST)
def contact_edit(request, pk: int):
    contact = selectors.contact_get(viewer=request.membership, pk=pk)
    return _form_page(
        request,
        form=ContactForm(request.POST or None, instance=contact),
        save=lambda data: services.contact_update(**_actor(request), contact=contact, **data),
        done="Contact saved.",
        success_url=_company_url(contact.company_id),
        template="shop/contact_form.html",
        context={"company": contact.company, "contact": contact},
    )


@require_capability(COMPANIES_EDIT)
@require_http_methods(GET_POST)
def contact_delete(request, pk: int):
    contact = selectors.contact_get(viewer=request.membership, pk=pk)
    company_url = _company_url(contact.company_id)
    return _delete_page(
        request,
        obj=contact,
        kind="contact",
        delete=lambda: services.contact_delete(**_actor(request), contact=contact),
        cancel_url=company_url,
        done_url=company_url,
        done=f"Contact “{contact.name}” removed.",
    )


# --- Quotes --------------------------------------------------------------------------------


@require_capability(QUOTES_VIEW)
@require_GET
def quote_list(request):
    statuses = Quote.Status.choices
    if request.membership.is_customer:
        statuses = [c for c in statuses if c[0] in selectors.CUSTOMER_VISIBLE_QUOTE_STATUSES]
    return _list_page(
        request,
        select=selectors.quote_list,
        template="shop/quote_list.html",
        sorts=selectors.QUOTE_SORTS,
        filters=statuses,
    )


def _quote_form_page(request, *, quote: Quote | None) -> HttpResponse:
    viewer = request.membership
    if request.method == "POST":
        form = QuoteForm(request.POST, viewer=viewer)
        data = request.POST
        if "add_line" in request.POST:
            # No JavaScript needed: "Add a line" re-renders the form with one more blank row.
            data = request.POST.copy()
            try:
                total = int(data.get("lines-TOTAL_FORMS", "0"))
            except ValueError:
                total = 0
            data["lines-TOTAL_FORMS"] = str(min(max(total, 0) + 1, services.MAX_QUOTE_LINES))
            formset = QuoteLineFormSet(data, prefix="lines")
            return render(
                request, "shop/quote_form.html", {"form": form, "formset": formset, "quote": quote}
            )
        formset = QuoteLineFormSet(data, prefix="lines")
        if form.is_valid() and formset.is_valid():
            fields = form.cleaned_data
            try:
                if quote is None:
                    quote = services.quote_create(
                        **_actor(request), **fields, lines=formset.line_inputs()
                    )
                    messages.success(request, f"Quote {quote.number} created as a draft.")
                else:
                    services.quote_update(
                        **_actor(request), quote=quote, **fields, lines=formset.line_inputs()
                    )
                    messages.success(request, f"Quote {quote.number} saved.")
            except ValidationError as error:
                _add_service_error(form, error)
            else:
                return redirect("shop:quote-detail", pk=quote.pk)
        return render(
            request,
            "shop/quote_form.html",
            {"form": form, "formset": formset, "quote": quote},
            status=400,
        )
    if quote is None:
        initial = {"company": request.GET.get("company")} if request.GET.get("company") else {}
        form = QuoteForm(viewer=viewer, initial=initial)
        formset = QuoteLineFormSet(prefix="lines", initial=[])
        formset.extra = 3
    else:
        form = QuoteForm(viewer=viewer, initial=QuoteForm.initial_for(quote))
        formset = QuoteLineFormSet(prefix="lines", initial=quote_line_initial(quote))
    return render(
        request, "shop/quote_form.html", {"form": form, "formset": formset, "quote": quote}
    )


@require_capability(QUOTES_CREATE)
@require_http_methods(GET_POST)
def quote_create(request):
    return _quote_form_page(request, quote=None)


@require_capability(QUOTES_VIEW)
@require_GET
def quote_detail(request, pk: int):
    viewer = request.membership
    quote = selectors.quote_get(viewer=viewer, pk=pk)
    order = selectors.order_list(viewer=viewer).filter(quote=quote).first()
    return render(
        request,
        "shop/quote_detail.html",
        {
            "quote": quote,
            "lines": quote.lines.all(),
            "order": order,
            "files": selectors.file_list(viewer=viewer).filter(quote=quote),
        },
    )


@require_capability(QUOTES_EDIT)
@require_http_methods(GET_POST)
def quote_edit(request, pk: int):
    quote = selectors.quote_get(viewer=request.membership, pk=pk)
    if quote.status != Quote.Status.DRAFT:
        messages.error(request, services.QUOTE_NOT_EDITABLE)
        return redirect("shop:quote-detail", pk=quote.pk)
    return _quote_form_page(request, quote=quote)


@require_capability(QUOTES_DELETE)
@require_http_methods(GET_POST)
def quote_delete(request, pk: int):
    quote = selectors.quote_get(viewer=request.membership, pk=pk)
    return _delete_page(
        request,
        obj=quote,
        kind="quote",
        delete=lambda: services.quote_delete(**_actor(request), quote=quote),
        cancel_url=reverse("shop:quote-detail", args=[quote.pk]),
        done_url=reverse("shop:quote-list"),
        done=f"Quote {quote.number} deleted.",
    )


def _quote_action(request, pk: int, action, done: str) -> HttpResponse:
    quote = selectors.quote_get(viewer=request.membership, pk=pk)
    try:
        action(**_actor(request), quote=quote)
    except ValidationError as error:
        _flash_error(request, error)
    else:
        messages.success(request, done.format(number=quote.number))
    return redirect("shop:quote-detail", pk=quote.pk)


@require_capability(QUOTES_SEND)
@require_POST
def quote_send(request, pk: int):
    return _quote_action(request, pk, services.quote_send, "Quote {number} sent.")


@require_capability(QUOTES_RESPOND)
@require_POST
def quote_accept(request, pk: int):
    """The customer accepts a quote sent to their company."""
    return _quote_action(
        request, pk, services.quote_accept, "Thank you. You accepted quote {number}."
    )


@require_capability(QUOTES_RESPOND)
@require_POST
def quote_decline(request, pk: int):
    return _quote_action(request, pk, services.quote_decline, "You declined quote {number}.")


@require_capability(QUOTES_SEND)
@require_POST
def quote_mark_accepted(request, pk: int):
    """Staff record that the customer accepted (by phone, email, in person)."""
    return _quote_action(request, pk, services.quote_accept, "Quote {number} recorded as accepted.")


@require_capability(QUOTES_SEND)
@require_POST
def quote_mark_declined(request, pk: int):
    return _quote_action(
        request, pk, services.quote_decline, "Quote {number} recorded as declined."
    )


# --- Orders --------------------------------------------------------------------------------


@require_capability(ORDERS_VIEW)
@require_GET
def order_list(request):
    return _list_page(
        request,
        select=selectors.order_list,
        template="shop/order_list.html",
        sorts=selectors.ORDER_SORTS,
        filters=Order.Status.choices,
    )


@require_capability(ORDERS_CREATE)
@require_http_methods(GET_POST)
def order_create(request, pk: int):
    """Create the order for accepted quote ``pk``."""
    quote = selectors.quote_get(viewer=request.membership, pk=pk)
    existing = selectors.order_list(viewer=request.membership).filter(quote=quote).first()
    if existing is not None and request.method == "GET":
        messages.info(request, services.ORDER_ALREADY_EXISTS)
        return redirect("shop:order-detail", pk=existing.pk)
    if quote.status != Quote.Status.ACCEPTED and request.method == "GET":
        messages.error(request, services.ORDER_QUOTE_NOT_ACCEPTED)
        return redirect("shop:quote-detail", pk=quote.pk)
    return _form_page(
        request,
        form=OrderForm(
            request.POST or None,
            tenant=request.tenant,
            initial={"site_address": quote.company.site_address},
        ),
        save=lambda data: services.order_create_from_quote(**_actor(request), quote=quote, **data),
        done=lambda order: f"Order {order.number} created.",
        success_url=lambda order: reverse("shop:order-detail", args=[order.pk]),
        template="shop/order_form.html",
        context={"quote": quote},
    )


@require_capability(ORDERS_VIEW)
@require_GET
def order_detail(request, pk: int):
    viewer = request.membership
    order = selectors.order_get(viewer=viewer, pk=pk)
    next_statuses = [
        (value, label)
        for value, label in Order.Status.choices
        if value in services.ORDER_STATUS_TRANSITIONS[order.status]
    ]
    return render(
        request,
        "shop/order_detail.html",
        {
            "order": order,
            "lines": order.quote.lines.all(),
            "next_statuses": next_statuses,
            "invoices": selectors.invoice_list(viewer=viewer).filter(order=order),
            "has_live_invoice": order.invoices.exclude(status=Invoice.Status.VOID).exists(),
            "files": selectors.file_list(viewer=viewer).filter(order=order),
        },
    )


@require_capability(ORDERS_EDIT)
@require_http_methods(GET_POST)
def order_edit(request, pk: int):
    order = selectors.order_get(viewer=request.membership, pk=pk)
    if not order.is_open:
        messages.error(request, services.ORDER_CLOSED)
        return redirect("shop:order-detail", pk=order.pk)
    return _form_page(
        request,
        form=OrderForm(
            request.POST or None, tenant=request.tenant, initial=OrderForm.initial_for(order)
        ),
        save=lambda data: services.order_update(**_actor(request), order=order, **data),
        done=f"Order {order.number} saved.",
        success_url=reverse("shop:order-detail", args=[order.pk]),
        template="shop/order_form.html",
        context={"order": order, "quote": order.quote},
    )


@require_capability(ORDERS_EDIT)
@require_POST
def order_status(request, pk: int):
    order = selectors.order_get(viewer=request.membership, pk=pk)
    form = OrderStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, services.ORDER_STATUS_UNKNOWN)
        return redirect("shop:order-detail", pk=order.pk)
    try:
        order = services.order_change_status(
            **_actor(request), order=order, status=form.cleaned_data["status"]
        )
    except ValidationError as error:
        _flash_error(request, error)
    else:
        messages.success(request, f"Order {order.number} is now {order.get_status_display()}.")
    return redirect("shop:order-detail", pk=order.pk)


@require_capability(ORDERS_DELETE)
@require_http_methods(GET_POST)
def order_delete(request, pk: int):
    order = selectors.order_get(viewer=request.membership, pk=pk)
    return _delete_page(
        request,
        obj=order,
        kind="order",
        delete=lambda: services.order_delete(**_actor(request), order=order),
        cancel_url=reverse("shop:order-detail", args=[order.pk]),
        done_url=reverse("shop:order-list"),
        done=f"Order {order.number} deleted.",
    )


# --- Invoices ------------------------------------------------------------------------------


@require_capability(INVOICES_VIEW)
@require_GET
def invoice_list(request):
    return _list_page(
        request,
        select=selectors.invoice_list,
        template="shop/invoice_list.html",
        sorts=selectors.INVOICE_SORTS,
        filters=[*Invoice.Status.choices, (selectors.INVOICE_FILTER_OVERDUE, "Overdue")],
    )


@require_capability(INVOICES_CREATE)
@require_http_methods(GET_POST)
def invoice_create(request, pk: int):
    """Create an invoice for order ``pk``."""
    order = selectors.order_get(viewer=request.membership, pk=pk)
    return _form_page(
        request,
        form=InvoiceForm(request.POST or None, initial=InvoiceForm.initial_new()),
        save=lambda data: services.invoice_create_from_order(
            **_actor(request), order=order, **data
        ),
        done=lambda invoice: f"Invoice {invoice.number} created.",
        success_url=lambda invoice: reverse("shop:invoice-detail", args=[invoice.pk]),
        template="shop/invoice_form.html",
        context={"order": order},
    )


@require_capability(INVOICES_VIEW)
@require_GET
def invoice_detail(request, pk: int):
    viewer = request.membership
    invoice = selectors.invoice_get(viewer=viewer, pk=pk)
    return render(
        request,
        "shop/invoice_detail.html",
        {
            "invoice": invoice,
            "lines": invoice.order.quote.lines.all(),
            "order_visible": selectors.order_list(viewer=viewer)
            .filter(pk=invoice.order_id)
            .exists(),
        },
    )


@require_capability(INVOICES_EDIT)
@require_http_methods(GET_POST)
def invoice_edit(request, pk: int):
    invoice = selectors.invoice_get(viewer=request.membership, pk=pk)
    if invoice.status != Invoice.Status.OPEN:
        messages.error(request, services.INVOICE_NOT_OPEN)
        return redirect("shop:invoice-detail", pk=invoice.pk)
    return _form_page(
        request,
        form=InvoiceForm(request.POST or None, initial=InvoiceForm.initial_for(invoice)),
        save=lambda data: services.invoice_update(**_actor(request), invoice=invoice, **data),
        done=f"Invoice {invoice.number} saved.",
        success_url=reverse("shop:invoice-detail", args=[invoice.pk]),
        template="shop/invoice_form.html",
        context={"invoice": invoice, "order": invoice.order},
    )


def _invoice_action(request, pk: int, action, done: str) -> HttpResponse:
    invoice = selectors.invoice_get(viewer=request.membership, pk=pk)
    try:
        action(**_actor(request), invoice=invoice)
    except ValidationError as error:
        _flash_error(request, error)
    else:
        messages.success(request, done.format(number=invoice.number))
    return redirect("shop:invoice-detail", pk=invoice.pk)


@require_capability(INVOICES_EDIT)
@require_POST
def invoice_pay(request, pk: int):
    return _invoice_action(request, pk, services.invoice_mark_paid, "Invoice {number} marked paid.")


@require_capability(INVOICES_VOID)
@require_POST
def invoice_void(request, pk: int):
    return _invoice_action(request, pk, services.invoice_void, "Invoice {number} voided.")


@require_capability(INVOICES_DELETE)
@require_http_methods(GET_POST)
def invoice_delete(request, pk: int):
    invoice = selectors.invoice_get(viewer=request.membership, pk=pk)
    return _delete_page(
        request,
        obj=invoice,
        kind="invoice",
        delete=lambda: services.invoice_delete(**_actor(request), invoice=invoice),
        cancel_url=reverse("shop:invoice-detail", args=[invoice.pk]),
        done_url=reverse("shop:invoice-list"),
        done=f"Invoice {invoice.number} deleted.",
    )


# --- Files ---------------------------------------------------------------------------------


@require_capability(FILES_VIEW)
@require_GET
def file_list(request):
    return _list_page(
        request,
        select=selectors.file_list,
        template="shop/file_list.html",
        sorts=selectors.FILE_SORTS,
        filters=StoredFile.Kind.choices,
        filter_param="kind",
    )


@require_capability(FILES_UPLOAD)
@require_http_methods(GET_POST)
def file_upload(request):
    viewer = request.membership
    if request.method == "POST":
        form = FileUploadForm(request.POST, request.FILES, viewer=viewer)
    else:
        initial = {
            key: request.GET[key] for key in ("company", "quote", "order") if request.GET.get(key)
        }
        form = FileUploadForm(viewer=viewer, initial=initial)
        companies = form.fields["company"].queryset
        if "company" not in initial and len(companies[:2]) == 1:
            form.initial["company"] = companies.first().pk

    def save(data):
        return services.file_upload(
            **_actor(request),
            company=data["company"],
            upload=data["upload"],
            filename=data["upload"].name,
            kind=data["kind"],
            quote=data["quote"],
            order=data["order"],
        )

    return _form_page(
        request,
        form=form,
        save=save,
        done=lambda stored: f"“{stored.original_filename}” uploaded.",
        success_url=lambda stored: reverse("shop:file-detail", args=[stored.pk]),
        template="shop/file_form.html",
    )


@require_capability(FILES_VIEW)
@require_GET
def file_detail(request, pk: int):
    stored = selectors.file_get(viewer=request.membership, pk=pk)
    return render(request, "shop/file_detail.html", {"file": stored})


@require_capability(FILES_VIEW)
@require_GET
def file_download(request, pk: int):
    stored = selectors.file_get(viewer=request.membership, pk=pk)
    services.file_record_download(**_actor(request), stored_file=stored)
    return storage.download_response(stored)


@require_capability(FILES_DELETE)
@require_http_methods(GET_POST)
def file_delete(request, pk: int):
    stored = selectors.file_get(viewer=request.membership, pk=pk)
    return _delete_page(
        request,
        obj=stored,
        kind="file",
        delete=lambda: services.file_delete(**_actor(request), stored_file=stored),
        cancel_url=reverse("shop:file-detail", args=[stored.pk]),
        done_url=reverse("shop:file-list"),
        done=f"“{stored.original_filename}” deleted.",
    )
