"""Invoice pages: created from an order, edited while open, paid, voided, deleted."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kernel.capabilities import (
    INVOICES_CREATE,
    INVOICES_DELETE,
    INVOICES_EDIT,
    INVOICES_VIEW,
    INVOICES_VOID,
)
from kernel.decorators import require_capability
from kernel.views import GET_POST, actor_of, delete_page, flash_error, form_page, list_page

from .. import selectors, services
from ..forms import InvoiceForm
from ..models import Invoice
from ._common import CONFIRM_DELETE_TEMPLATE, ShopRequest


@require_capability(INVOICES_VIEW)
@require_GET
def invoice_list(request: ShopRequest) -> HttpResponse:
    return list_page(
        request,
        select=selectors.invoice_list,
        template="shop/invoice_list.html",
        sorts=selectors.INVOICE_SORTS,
        filters=[*Invoice.Status.choices, (selectors.INVOICE_FILTER_OVERDUE, "Overdue")],
    )


@require_capability(INVOICES_CREATE)
@require_http_methods(GET_POST)
def invoice_create(request: ShopRequest, pk: int) -> HttpResponse:
    """Create an invoice for order ``pk``."""
    order = selectors.order_get(viewer=request.membership, pk=pk)
    return form_page(
        request,
        form=InvoiceForm(request.POST or None, initial=InvoiceForm.initial_new()),
        save=lambda data: services.invoice_create_from_order(
            **actor_of(request), order=order, **data
        ),
        done=lambda invoice: f"Invoice {invoice.number} created.",
        success_url=lambda invoice: reverse("shop:invoice-detail", args=[invoice.pk]),
        template="shop/invoice_form.html",
        context={"order": order},
    )


@require_capability(INVOICES_VIEW)
@require_GET
def invoice_detail(request: ShopRequest, pk: int) -> HttpResponse:
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
def invoice_edit(request: ShopRequest, pk: int) -> HttpResponse:
    invoice = selectors.invoice_get(viewer=request.membership, pk=pk)
    if invoice.status != Invoice.Status.OPEN:
        messages.error(request, services.INVOICE_NOT_OPEN)
        return redirect("shop:invoice-detail", pk=invoice.pk)
    return form_page(
        request,
        form=InvoiceForm(request.POST or None, initial=InvoiceForm.initial_for(invoice)),
        save=lambda data: services.invoice_update(**actor_of(request), invoice=invoice, **data),
        done=f"Invoice {invoice.number} saved.",
        success_url=reverse("shop:invoice-detail", args=[invoice.pk]),
        template="shop/invoice_form.html",
        context={"invoice": invoice, "order": invoice.order},
    )


def _invoice_action(
    request: ShopRequest, pk: int, action: Callable[..., Invoice], done: str
) -> HttpResponse:
    invoice = selectors.invoice_get(viewer=request.membership, pk=pk)
    try:
        action(**actor_of(request), invoice=invoice)
    except ValidationError as error:
        flash_error(request, error)
    else:
        messages.success(request, done.format(number=invoice.number))
    return redirect("shop:invoice-detail", pk=invoice.pk)


@require_capability(INVOICES_EDIT)
@require_POST
def invoice_pay(request: ShopRequest, pk: int) -> HttpResponse:
    return _invoice_action(request, pk, services.invoice_mark_paid, "Invoice {number} marked paid.")


@require_capability(INVOICES_VOID)
@require_POST
def invoice_void(request: ShopRequest, pk: int) -> HttpResponse:
    return _invoice_action(request, pk, services.invoice_void, "Invoice {number} voided.")


@require_capability(INVOICES_DELETE)
@require_http_methods(GET_POST)
def invoice_delete(request: ShopRequest, pk: int) -> HttpResponse:
    invoice = selectors.invoice_get(viewer=request.membership, pk=pk)
    return delete_page(
        request,
        template=CONFIRM_DELETE_TEMPLATE,
        obj=invoice,
        kind="invoice",
        delete=lambda: services.invoice_delete(**actor_of(request), invoice=invoice),
        cancel_url=reverse("shop:invoice-detail", args=[invoice.pk]),
        done_url=reverse("shop:invoice-list"),
        done=f"Invoice {invoice.number} deleted.",
    )
