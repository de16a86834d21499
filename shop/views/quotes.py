"""Quote pages: the list, the draft form with its lines, and the send and answer buttons."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kernel.capabilities import (
    QUOTES_CREATE,
    QUOTES_DELETE,
    QUOTES_EDIT,
    QUOTES_RESPOND,
    QUOTES_SEND,
    QUOTES_VIEW,
)
from kernel.decorators import require_capability
from kernel.views import GET_POST, actor_of, add_service_error, delete_page, flash_error, list_page

from .. import selectors, services
from ..forms import QuoteForm, QuoteLineFormSet, quote_line_initial
from ..models import Quote
from ._common import CONFIRM_DELETE_TEMPLATE, ShopRequest


@require_capability(QUOTES_VIEW)
@require_GET
def quote_list(request: ShopRequest) -> HttpResponse:
    statuses = Quote.Status.choices
    if request.membership.is_customer:
        statuses = [c for c in statuses if c[0] in selectors.CUSTOMER_VISIBLE_QUOTE_STATUSES]
    return list_page(
        request,
        select=selectors.quote_list,
        template="shop/quote_list.html",
        sorts=selectors.QUOTE_SORTS,
        filters=statuses,
    )


def _quote_form_page(request: ShopRequest, *, quote: Quote | None) -> HttpResponse:
    viewer = request.membership
    if request.method == "POST":
        form = QuoteForm(request.POST, viewer=viewer)
        data: QueryDict = request.POST
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
                        **actor_of(request), **fields, lines=formset.line_inputs()
                    )
                    messages.success(request, f"Quote {quote.number} created as a draft.")
                else:
                    services.quote_update(
                        **actor_of(request), quote=quote, **fields, lines=formset.line_inputs()
                    )
                    messages.success(request, f"Quote {quote.number} saved.")
            except ValidationError as error:
                add_service_error(form, error)
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
def quote_create(request: ShopRequest) -> HttpResponse:
    return _quote_form_page(request, quote=None)


@require_capability(QUOTES_VIEW)
@require_GET
def quote_detail(request: ShopRequest, pk: int) -> HttpResponse:
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
def quote_edit(request: ShopRequest, pk: int) -> HttpResponse:
    quote = selectors.quote_get(viewer=request.membership, pk=pk)
    if quote.status != Quote.Status.DRAFT:
        messages.error(request, services.QUOTE_NOT_EDITABLE)
        return redirect("shop:quote-detail", pk=quote.pk)
    return _quote_form_page(request, quote=quote)


@require_capability(QUOTES_DELETE)
@require_http_methods(GET_POST)
def quote_delete(request: ShopRequest, pk: int) -> HttpResponse:
    quote = selectors.quote_get(viewer=request.membership, pk=pk)
    return delete_page(
        request,
        template=CONFIRM_DELETE_TEMPLATE,
        obj=quote,
        kind="quote",
        delete=lambda: services.quote_delete(**actor_of(request), quote=quote),
        cancel_url=reverse("shop:quote-detail", args=[quote.pk]),
        done_url=reverse("shop:quote-list"),
        done=f"Quote {quote.number} deleted.",
    )


def _quote_action(
    request: ShopRequest, pk: int, action: Callable[..., Quote], done: str
) -> HttpResponse:
    quote = selectors.quote_get(viewer=request.membership, pk=pk)
    try:
        action(**actor_of(request), quote=quote)
    except ValidationError as error:
        flash_error(request, error)
    else:
        messages.success(request, done.format(number=quote.number))
    return redirect("shop:quote-detail", pk=quote.pk)


@require_capability(QUOTES_SEND)
@require_POST
def quote_send(request: ShopRequest, pk: int) -> HttpResponse:
    return _quote_action(request, pk, services.quote_send, "Quote {number} sent.")


@require_capability(QUOTES_RESPOND)
@require_POST
def quote_accept(request: ShopRequest, pk: int) -> HttpResponse:
    """The customer accepts a quote sent to their company."""
    return _quote_action(
        request, pk, services.quote_accept, "Thank you. You accepted quote {number}."
    )


@require_capability(QUOTES_RESPOND)
@require_POST
def quote_decline(request: ShopRequest, pk: int) -> HttpResponse:
    return _quote_action(request, pk, services.quote_decline, "You declined quote {number}.")


@require_capability(QUOTES_SEND)
@require_POST
def quote_mark_accepted(request: ShopRequest, pk: int) -> HttpResponse:
    """Staff record that the customer accepted (by phone, email, in person)."""
    return _quote_action(request, pk, services.quote_accept, "Quote {number} recorded as accepted.")


@require_capability(QUOTES_SEND)
@require_POST
def quote_mark_declined(request: ShopRequest, pk: int) -> HttpResponse:
    return _quote_action(
        request, pk, services.quote_decline, "Quote {number} recorded as declined."
    )
