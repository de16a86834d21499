"""Workspace pages for the shop's data, one module per entity; ``shop.urls`` routes to the
names re-exported here.

Invariant: every view declares its capability (the gate enforces it before the view runs),
fetches objects only through the selectors (so a record the viewer may not see is the same
404 as a missing one), and changes data only through the services (called as
``services.<name>`` on the ``shop.services`` package), with POST and CSRF. Views hold no
business rules; the list, form and delete frames they are built from are ``kernel.views``.
"""

from __future__ import annotations

from .companies import (
    company_create,
    company_delete,
    company_delete_all,
    company_detail,
    company_edit,
    company_list,
    contact_create,
    contact_delete,
    contact_edit,
)
from .files import file_delete, file_detail, file_download, file_list, file_upload
from .home import home
from .invoices import (
    invoice_create,
    invoice_delete,
    invoice_detail,
    invoice_edit,
    invoice_list,
    invoice_pay,
    invoice_void,
)
from .orders import (
    order_create,
    order_delete,
    order_detail,
    order_edit,
    order_list,
    order_status,
)
from .quotes import (
    quote_accept,
    quote_create,
    quote_decline,
    quote_delete,
    quote_detail,
    quote_edit,
    quote_list,
    quote_mark_accepted,
    quote_mark_declined,
    quote_send,
)

__all__ = [
    "company_create",
    "company_delete",
    "company_delete_all",
    "company_detail",
    "company_edit",
    "company_list",
    "contact_create",
    "contact_delete",
    "contact_edit",
    "file_delete",
    "file_detail",
    "file_download",
    "file_list",
    "file_upload",
    "home",
    "invoice_create",
    "invoice_delete",
    "invoice_detail",
    "invoice_edit",
    "invoice_list",
    "invoice_pay",
    "invoice_void",
    "order_create",
    "order_delete",
    "order_detail",
    "order_edit",
    "order_list",
    "order_status",
    "quote_accept",
    "quote_create",
    "quote_decline",
    "quote_delete",
    "quote_detail",
    "quote_edit",
    "quote_list",
    "quote_mark_accepted",
    "quote_mark_declined",
    "quote_send",
]
