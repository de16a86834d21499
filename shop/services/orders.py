"""Orders, created from an accepted quote, and their status changes."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError

from accounts.models import User
from kernel import capabilities as caps
from kernel.roles import STAFF_ROLES
from rbac.models import Membership
from tenants.models import Tenant

from .. import selectors
from ..models import Order, Quote
from ._common import (
    _full_clean,
    _insert_unique,
    _locked_visible,
    _next_number,
    _set_trimmed,
    _write,
)

ORDER_QUOTE_NOT_ACCEPTED = "An order can only be created from an accepted quote."
ORDER_ALREADY_EXISTS = "This quote already has an order."
ORDER_ASSIGNEE_NOT_STAFF = "The assignee must be a staff member of this workspace."
ORDER_CLOSED = "Orders that are done or cancelled can no longer be edited."
ORDER_STATUS_UNKNOWN = "That is not a known order status."
ORDER_STATUS_CHANGE_NOT_ALLOWED = "This order cannot move to that status from its current one."
ORDER_HAS_INVOICES = "This order has invoices. Delete or void them first."

_S = Order.Status
# The only status changes an order can make. Anything not listed is refused.
ORDER_STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    _S.SCHEDULED: frozenset({_S.IN_PROGRESS, _S.CANCELLED}),
    _S.IN_PROGRESS: frozenset({_S.DONE, _S.SCHEDULED, _S.CANCELLED}),
    _S.DONE: frozenset(),
    _S.CANCELLED: frozenset(),
}


def order_assignable_users(*, tenant: Tenant):
    """Users an order may be assigned to: active staff members of this workspace."""
    return User.objects.filter(
        memberships__tenant=tenant,
        memberships__is_active=True,
        memberships__role__in=[role.value for role in STAFF_ROLES],
        is_active=True,
    ).order_by("full_name", "email")


def _validate_assignee(tenant: Tenant, assignee: User | None) -> None:
    if (
        assignee is not None
        and not order_assignable_users(tenant=tenant).filter(pk=assignee.pk).exists()
    ):
        raise ValidationError({"assignee": ORDER_ASSIGNEE_NOT_STAFF})


def order_create_from_quote(
    *,
    tenant: Tenant,
    actor: Membership,
    quote: Quote,
    assignee: User | None = None,
    due_date: date | None = None,
    site_address: str | None = None,
    notes: str = "",
) -> Order:
    with _write(tenant=tenant, actor=actor, capability=caps.ORDERS_CREATE):
        quote = _locked_visible(quote, selectors.quote_list(viewer=actor))
        if quote.status != Quote.Status.ACCEPTED:
            raise ValidationError(ORDER_QUOTE_NOT_ACCEPTED)
        if Order.objects.filter(quote=quote).exists():
            raise ValidationError(ORDER_ALREADY_EXISTS)
        order = _order_set(
            Order(quote=quote, company_id=quote.company_id),
            tenant=tenant,
            assignee=assignee,
            due_date=due_date,
            site_address=quote.company.site_address if site_address is None else site_address,
            notes=notes,
        )
        order.number = _next_number("order", "O")
        # A concurrent request may have won the one-to-one race since the check above.
        _insert_unique(order, taken=ORDER_ALREADY_EXISTS)
    return order


def order_update(
    *,
    tenant: Tenant,
    actor: Membership,
    order: Order,
    assignee: User | None,
    due_date: date | None,
    site_address: str,
    notes: str = "",
) -> Order:
    with _write(tenant=tenant, actor=actor, capability=caps.ORDERS_EDIT):
        order = _locked_visible(order, selectors.order_list(viewer=actor))
        if not order.is_open:
            raise ValidationError(ORDER_CLOSED)
        order = _order_set(
            order,
            tenant=tenant,
            assignee=assignee,
            due_date=due_date,
            site_address=site_address,
            notes=notes,
        )
        order.save()
    return order


def _order_set(
    order: Order,
    *,
    tenant: Tenant,
    assignee: User | None,
    due_date: date | None,
    site_address: str | None,
    notes: str | None,
) -> Order:
    """Set and validate what the order form edits; the caller saves."""
    _validate_assignee(tenant, assignee)
    order.assignee = assignee
    order.due_date = due_date
    _set_trimmed(order, site_address=site_address, notes=notes)
    _full_clean(order, exclude=["quote", "company", "number", "assignee"])
    return order


def order_change_status(*, tenant: Tenant, actor: Membership, order: Order, status: str) -> Order:
    with _write(tenant=tenant, actor=actor, capability=caps.ORDERS_EDIT):
        if status not in Order.Status.values:
            raise ValidationError(ORDER_STATUS_UNKNOWN)
        order = _locked_visible(order, selectors.order_list(viewer=actor))
        if status not in ORDER_STATUS_TRANSITIONS[order.status]:
            raise ValidationError(ORDER_STATUS_CHANGE_NOT_ALLOWED)
        order.status = status
        order.save(update_fields=["status", "updated_at"])
    return order


def order_delete(*, tenant: Tenant, actor: Membership, order: Order) -> None:
    with _write(tenant=tenant, actor=actor, capability=caps.ORDERS_DELETE):
        order = _locked_visible(order, selectors.order_list(viewer=actor))
        if order.invoices.exists():
            raise ValidationError(ORDER_HAS_INVOICES)
        order.delete()
