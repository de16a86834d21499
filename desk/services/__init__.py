"""Every write to the desk's data, one module per entity; this package is the one public door.

Invariants (the shop's, ``shop.services``): each function is ``<entity>_<action>``, takes
keyword-only arguments including ``tenant`` and ``actor``, and writes inside
:func:`_common._write` (capability re-checked on the member as stored now, one transaction,
a workspace that takes writes), re-checks visibility through the selectors, validates with
the message constants next to it, writes, records its audit events in the same transaction
and schedules email with on_commit (``desk.notify``). Ticket, Asset and SlaPolicy row
changes are also recorded by django-auditlog (``audit/registry.py``); the desk's own actions
(status changed, assigned, reply or note posted, attachment added or downloaded, SLA
overridden, merged) are written visibly in the services' bodies.
"""

from __future__ import annotations

import inspect

from ._common import NOT_VISIBLE
from .assets import (
    ASSET_COMPANY_UNKNOWN,
    ASSET_NAME_REQUIRED,
    ASSET_STATUS_UNKNOWN,
    ASSET_TYPE_REQUIRED,
    asset_create,
    asset_delete,
    asset_update,
)
from .attachments import (
    ATTACHMENT_EMPTY,
    ATTACHMENT_TOO_LARGE,
    ATTACHMENT_TYPE_NOT_ALLOWED,
    MAX_ATTACHMENTS,
    TOO_MANY_ATTACHMENTS,
    Upload,
    attachment_record_download,
)
from .portal_export import (
    PORTAL_EXPORT,
    PORTAL_EXPORT_CUSTOMERS_ONLY,
    PORTAL_EXPORT_THROTTLED,
    PortalExport,
    portal_export,
)
from .sla_policies import (
    SLA_CATEGORY_INVALID,
    SLA_CUSTOMER_PRIORITIES_REQUIRED,
    SLA_DAY_END_BEFORE_START,
    SLA_HOLIDAY_INVALID,
    SLA_NO_BUSINESS_DAYS,
    SLA_OVERRIDE_KIND_UNKNOWN,
    SLA_OVERRIDE_NEW_DUE_REQUIRED,
    SLA_OVERRIDE_NOT_LATER,
    SLA_OVERRIDE_NOTHING_TO_CHANGE,
    SLA_OVERRIDE_REASON_REQUIRED,
    SLA_OVERRIDE_TARGET_UNKNOWN,
    SLA_TARGET_NOT_POSITIVE,
    SLA_TIME_ZONE_UNKNOWN,
    sla_override,
    sla_policy_update,
)
from .tickets import (
    MAX_TAGS,
    TICKET_ASSET_OTHER_COMPANY,
    TICKET_ASSIGNEE_NOT_STAFF,
    TICKET_CATEGORY_UNKNOWN,
    TICKET_CLOSED,
    TICKET_COMPANY_UNKNOWN,
    TICKET_DESCRIPTION_REQUIRED,
    TICKET_MERGE_OTHER_COMPANY,
    TICKET_MERGE_SAME,
    TICKET_MERGE_TARGET_CLOSED,
    TICKET_MESSAGE_REQUIRED,
    TICKET_NOT_RESOLVED,
    TICKET_PRIORITY_NOT_ALLOWED,
    TICKET_REOPEN_WINDOW_PASSED,
    TICKET_REQUESTER_OTHER_COMPANY,
    TICKET_REQUESTER_REQUIRED,
    TICKET_STATUS_CHANGE_NOT_ALLOWED,
    TICKET_STATUS_TRANSITIONS,
    TICKET_STATUS_UNKNOWN,
    TICKET_SUBJECT_REQUIRED,
    TICKET_TAG_INVALID,
    TICKET_WATCHER_NOT_STAFF,
    assignable_users,
    request_confirm_solved,
    request_reopen,
    request_reply,
    requester_choices,
    ticket_assign,
    ticket_bulk_assign,
    ticket_bulk_close,
    ticket_change_status,
    ticket_create,
    ticket_delete,
    ticket_merge,
    ticket_reply,
    ticket_update,
)

__all__ = [
    "ASSET_COMPANY_UNKNOWN",
    "ASSET_NAME_REQUIRED",
    "ASSET_STATUS_UNKNOWN",
    "ASSET_TYPE_REQUIRED",
    "ATTACHMENT_EMPTY",
    "ATTACHMENT_TOO_LARGE",
    "ATTACHMENT_TYPE_NOT_ALLOWED",
    "MAX_ATTACHMENTS",
    "MAX_TAGS",
    "NOT_VISIBLE",
    "PORTAL_EXPORT",
    "PORTAL_EXPORT_CUSTOMERS_ONLY",
    "PORTAL_EXPORT_THROTTLED",
    "SLA_CATEGORY_INVALID",
    "SLA_CUSTOMER_PRIORITIES_REQUIRED",
    "SLA_DAY_END_BEFORE_START",
    "SLA_HOLIDAY_INVALID",
    "SLA_NO_BUSINESS_DAYS",
    "SLA_OVERRIDE_KIND_UNKNOWN",
    "SLA_OVERRIDE_NEW_DUE_REQUIRED",
    "SLA_OVERRIDE_NOTHING_TO_CHANGE",
    "SLA_OVERRIDE_NOT_LATER",
    "SLA_OVERRIDE_REASON_REQUIRED",
    "SLA_OVERRIDE_TARGET_UNKNOWN",
    "SLA_TARGET_NOT_POSITIVE",
    "SLA_TIME_ZONE_UNKNOWN",
    "TICKET_ASSET_OTHER_COMPANY",
    "TICKET_ASSIGNEE_NOT_STAFF",
    "TICKET_CATEGORY_UNKNOWN",
    "TICKET_CLOSED",
    "TICKET_COMPANY_UNKNOWN",
    "TICKET_DESCRIPTION_REQUIRED",
    "TICKET_MERGE_OTHER_COMPANY",
    "TICKET_MERGE_SAME",
    "TICKET_MERGE_TARGET_CLOSED",
    "TICKET_MESSAGE_REQUIRED",
    "TICKET_NOT_RESOLVED",
    "TICKET_PRIORITY_NOT_ALLOWED",
    "TICKET_REOPEN_WINDOW_PASSED",
    "TICKET_REQUESTER_OTHER_COMPANY",
    "TICKET_REQUESTER_REQUIRED",
    "TICKET_STATUS_CHANGE_NOT_ALLOWED",
    "TICKET_STATUS_TRANSITIONS",
    "TICKET_STATUS_UNKNOWN",
    "TICKET_SUBJECT_REQUIRED",
    "TICKET_TAG_INVALID",
    "TICKET_WATCHER_NOT_STAFF",
    "TOO_MANY_ATTACHMENTS",
    "PortalExport",
    "Upload",
    "asset_create",
    "asset_delete",
    "asset_update",
    "assignable_users",
    "attachment_record_download",
    "portal_export",
    "request_confirm_solved",
    "request_reopen",
    "request_reply",
    "requester_choices",
    "sla_override",
    "sla_policy_update",
    "ticket_assign",
    "ticket_bulk_assign",
    "ticket_bulk_close",
    "ticket_change_status",
    "ticket_create",
    "ticket_delete",
    "ticket_merge",
    "ticket_reply",
    "ticket_update",
]

for _public in __all__:
    if inspect.isfunction(globals()[_public]):
        globals()[_public].__module__ = __name__
del _public
