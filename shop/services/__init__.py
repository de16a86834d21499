"""Every write to the shop's data, one module per entity; this package is the one public door.

Invariants: each function is named ``<entity>_<action>``, takes keyword-only arguments
including ``tenant`` (the workspace whose schema must be active) and ``actor`` (the acting
rbac Membership of that workspace), and writes inside :func:`_common._write`: it re-checks the
actor's capability with ``kernel.capabilities.require``, opens one ``transaction.atomic`` block
and refuses a workspace that is not ACTIVE (a cancelled one is read-only) before anything is
written, so a task or command that skips the gate is refused too. Inside, the service locks
and re-checks the object's visibility with the selectors (:func:`_common._locked_visible`),
validates the business rules (raising ``ValidationError`` with the message constants defined
next to each function), writes, and schedules side effects with ``transaction.on_commit``. A
rule that fails leaves nothing written.

Audit events for these writes are recorded by the audit app as rows are saved and deleted
(django-auditlog's registry, ``audit/registry.py``, in the same transaction); the two events
that are not row changes are written in the service's body (``company_delete_with_records``
and ``file_record_download``).

Callers use this package, never the entity modules: ``from shop import services`` then
``services.quote_send(...)``. Every public name is re-exported here, and each public function
names this package as its ``__module__`` (as numpy's ``set_module`` does), so introspection
of ``shop.services`` (the workspace-state sweep in the shop's tests) sees the whole API.
"""

from __future__ import annotations

import inspect

from ._common import NOT_VISIBLE, WORKSPACE_READ_ONLY
from .companies import (
    COMPANY_HAS_CUSTOMER_MEMBERS,
    COMPANY_HAS_RECORDS,
    COMPANY_NAME_REQUIRED,
    CONTACT_NAME_REQUIRED,
    company_create,
    company_delete,
    company_delete_with_records,
    company_delete_with_records_capabilities,
    company_update,
    contact_create,
    contact_delete,
    contact_update,
)
from .files import (
    FILE_EMPTY,
    FILE_KIND_UNKNOWN,
    FILE_ORDER_OTHER_COMPANY,
    FILE_QUOTE_OTHER_COMPANY,
    FILE_REQUIRED,
    FILE_TOO_LARGE,
    FILE_TYPE_NOT_ALLOWED,
    file_delete,
    file_record_download,
    file_too_large_message,
    file_upload,
    human_size,
)
from .invoices import (
    INVOICE_ALREADY_EXISTS,
    INVOICE_DUE_BEFORE_ISSUE,
    INVOICE_NOT_OPEN,
    INVOICE_ORDER_CANCELLED,
    INVOICE_PAID_NOT_DELETABLE,
    invoice_create_from_order,
    invoice_delete,
    invoice_mark_paid,
    invoice_update,
    invoice_void,
)
from .orders import (
    ORDER_ALREADY_EXISTS,
    ORDER_ASSIGNEE_NOT_STAFF,
    ORDER_CLOSED,
    ORDER_HAS_INVOICES,
    ORDER_QUOTE_NOT_ACCEPTED,
    ORDER_STATUS_CHANGE_NOT_ALLOWED,
    ORDER_STATUS_TRANSITIONS,
    ORDER_STATUS_UNKNOWN,
    order_assignable_users,
    order_change_status,
    order_create_from_quote,
    order_delete,
    order_update,
)
from .quotes import (
    MAX_QUOTE_LINES,
    QUOTE_ACCEPTED_NOT_DELETABLE,
    QUOTE_COMPANY_NOT_YOURS,
    QUOTE_EXPIRED,
    QUOTE_HAS_NO_LINES,
    QUOTE_LINE_DESCRIPTION_REQUIRED,
    QUOTE_LINE_QUANTITY_NOT_POSITIVE,
    QUOTE_LINE_UNIT_PRICE_NEGATIVE,
    QUOTE_NOT_A_NUMBER,
    QUOTE_NOT_DRAFT,
    QUOTE_NOT_EDITABLE,
    QUOTE_NOT_SENT,
    QUOTE_TAX_RATE_OUT_OF_RANGE,
    QUOTE_TITLE_REQUIRED,
    QUOTE_TOO_MANY_LINES,
    QUOTE_VALID_UNTIL_PAST,
    LineInput,
    quote_accept,
    quote_create,
    quote_decline,
    quote_delete,
    quote_send,
    quote_update,
    validate_quantity,
    validate_tax_rate,
    validate_unit_price,
)

__all__ = [
    "COMPANY_HAS_CUSTOMER_MEMBERS",
    "COMPANY_HAS_RECORDS",
    "COMPANY_NAME_REQUIRED",
    "CONTACT_NAME_REQUIRED",
    "FILE_EMPTY",
    "FILE_KIND_UNKNOWN",
    "FILE_ORDER_OTHER_COMPANY",
    "FILE_QUOTE_OTHER_COMPANY",
    "FILE_REQUIRED",
    "FILE_TOO_LARGE",
    "FILE_TYPE_NOT_ALLOWED",
    "INVOICE_ALREADY_EXISTS",
    "INVOICE_DUE_BEFORE_ISSUE",
    "INVOICE_NOT_OPEN",
    "INVOICE_ORDER_CANCELLED",
    "INVOICE_PAID_NOT_DELETABLE",
    "MAX_QUOTE_LINES",
    "NOT_VISIBLE",
    "ORDER_ALREADY_EXISTS",
    "ORDER_ASSIGNEE_NOT_STAFF",
    "ORDER_CLOSED",
    "ORDER_HAS_INVOICES",
    "ORDER_QUOTE_NOT_ACCEPTED",
    "ORDER_STATUS_CHANGE_NOT_ALLOWED",
    "ORDER_STATUS_TRANSITIONS",
    "ORDER_STATUS_UNKNOWN",
    "QUOTE_ACCEPTED_NOT_DELETABLE",
    "QUOTE_COMPANY_NOT_YOURS",
    "QUOTE_EXPIRED",
    "QUOTE_HAS_NO_LINES",
    "QUOTE_LINE_DESCRIPTION_REQUIRED",
    "QUOTE_LINE_QUANTITY_NOT_POSITIVE",
    "QUOTE_LINE_UNIT_PRICE_NEGATIVE",
    "QUOTE_NOT_A_NUMBER",
    "QUOTE_NOT_DRAFT",
    "QUOTE_NOT_EDITABLE",
    "QUOTE_NOT_SENT",
    "QUOTE_TAX_RATE_OUT_OF_RANGE",
    "QUOTE_TITLE_REQUIRED",
    "QUOTE_TOO_MANY_LINES",
    "QUOTE_VALID_UNTIL_PAST",
    "WORKSPACE_READ_ONLY",
    "LineInput",
    "company_create",
    "company_delete",
    "company_delete_with_records",
    "company_delete_with_records_capabilities",
    "company_update",
    "contact_create",
    "contact_delete",
    "contact_update",
    "file_delete",
    "file_record_download",
    "file_too_large_message",
    "file_upload",
    "human_size",
    "invoice_create_from_order",
    "invoice_delete",
    "invoice_mark_paid",
    "invoice_update",
    "invoice_void",
    "order_assignable_users",
    "order_change_status",
    "order_create_from_quote",
    "order_delete",
    "order_update",
    "quote_accept",
    "quote_create",
    "quote_decline",
    "quote_delete",
    "quote_send",
    "quote_update",
    "validate_quantity",
    "validate_tax_rate",
    "validate_unit_price",
]

for _public in __all__:
    if inspect.isfunction(globals()[_public]):
        globals()[_public].__module__ = __name__
del _public
