"""Order pages: created from an accepted quote, edited and moved through their statuses."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kernel.capabilities import ORDERS_CREATE, ORDERS_DELETE, ORDERS_EDIT, ORDERS_VIEW
from kernel.decorators import require_capability
from kernel.views import GET_POST, actor_of, delete_page, flash_error, form_page, list_page

from .. import selectors, services
from ..forms import OrderForm, OrderStatusForm
from ..models import Invoice, Order, Quote
from ._common import CONFIRM_DELETE_TEMPLATE, ShopRequest


@require_capability(ORDERS_VIEW)
@require_GET
def order_list(request: ShopRequest) -> HttpResponse:
    return list_page(
        request,
        select=selectors.order_list,
        template="shop/order_list.html",
        sorts=selectors.ORDER_SORTS,
        filters=Order.Status.choices,
    )


@require_capability(ORDERS_CREATE)
@require_http_methods(GET_POST)
def order_create(request: ShopRequest, pk: int) -> HttpResponse:
    """Create the order for accepted quote ``pk``."""
    quote = selectors.quote_get(viewer=request.membership, pk=pk)
    existing = selectors.order_list(viewer=request.membership).filter(quote=quote).first()
    if existing is not None and request.method == "GET":
        messages.info(request, services.ORDER_ALREADY_EXISTS)
        return redirect("shop:order-detail", pk=existing.pk)
    if quote.status != Quote.Status.ACCEPTED and request.method == "GET":
        messages.error(request, services.ORDER_QUOTE_NOT_ACCEPTED)
        return redirect("shop:quote-detail", pk=quote.pk)
    return form_page(
        request,
        form=OrderForm(
            request.POST or None,
            tenant=request.tenant,
            initial={"site_address": quote.company.site_address},
        ),
        save=lambda data: services.order_create_from_quote(
            **actor_of(request), quote=quote, **data
        ),
        done=lambda order: f"Order {order.number} created.",
        success_url=lambda order: reverse("shop:order-detail", args=[order.pk]),
        template="shop/order_form.html",
        context={"quote": quote},
    )


@require_capability(ORDERS_VIEW)
@require_GET
def order_detail(request: ShopRequest, pk: int) -> HttpResponse:
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
def order_edit(request: ShopRequest, pk: int) -> HttpResponse:
    order = selectors.order_get(viewer=request.membership, pk=pk)
    if not order.is_open:
        messages.error(request, services.ORDER_CLOSED)
        return redirect("shop:order-detail", pk=order.pk)
    return form_page(
        request,
        form=OrderForm(
            request.POST or None, tenant=request.tenant, initial=OrderForm.initial_for(order)
        ),
        save=lambda data: services.order_update(**actor_of(request), order=order, **data),
        done=f"Order {order.number} saved.",
        success_url=reverse("shop:order-detail", args=[order.pk]),
        template="shop/order_form.html",
        context={"order": order, "quote": order.quote},
    )


@require_capability(ORDERS_EDIT)
@require_POST
def order_status(request: ShopRequest, pk: int) -> HttpResponse:
    order = selectors.order_get(viewer=request.membership, pk=pk)
    form = OrderStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, services.ORDER_STATUS_UNKNOWN)
        return redirect("shop:order-detail", pk=order.pk)
    try:
        order = services.order_change_status(
            **actor_of(request), order=order, status=form.cleaned_data["status"]
        )
    except ValidationError as error:
        flash_error(request, error)
    else:
        messages.success(request, f"Order {order.number} is now {order.get_status_display()}.")
    return redirect("shop:order-detail", pk=order.pk)


@require_capability(ORDERS_DELETE)
@require_http_methods(GET_POST)
def order_delete(request: ShopRequest, pk: int) -> HttpResponse:
    order = selectors.order_get(viewer=request.membership, pk=pk)
    return delete_page(
        request,
        template=CONFIRM_DELETE_TEMPLATE,
        obj=order,
        kind="order",
        delete=lambda: services.order_delete(**actor_of(request), order=order),
        cancel_url=reverse("shop:order-detail", args=[order.pk]),
        done_url=reverse("shop:order-list"),
        done=f"Order {order.number} deleted.",
    )
