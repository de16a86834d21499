"""The whole audit event vocabulary: one number per kind of event, in numbered blocks per area.

Invariant: a number, once released, means the same thing forever. The number is what is
stored (``AuditEvent.event_type``) and what the hash chain covers, so renaming an event's
dotted name or label is harmless, but re-using or renumbering a code would silently change
the meaning of every stored event with it. Retired codes move to ``RETIRED_CODES`` and are
never handed out again. Nothing else in the code base invents an event type.

Blocks (hundreds per area; shop records get ten codes per model):
  100 sign-in and sessions          400 members and roles        1000-1999 shop records
  200 platform accounts             500 the audit log itself
  300 workspace lifecycle           600 support access (reserved for the support app)
                                    700 workspace exports and imports
                                    800 personal API tokens (api)
                                    900 trust center (sub-processors, incidents, verify page)
                                    2000-2999 service desk records and actions
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Event(IntEnum):
    # --- 100: sign-in and sessions (workspace stream; platform stream on the public host)
    SIGN_IN_SUCCEEDED = 101
    SIGN_IN_FAILED = 102
    SIGNED_OUT = 103
    SIGN_IN_THROTTLED = 104
    SESSION_REVOKED = 105
    SESSIONS_ENDED = 106
    SESSION_EXPIRED = 107
    # A public request refused by a rate limit other than sign-in's and password reset's
    # (accounts.throttle: sign-up, find my workspaces, links); data names the limit.
    REQUEST_THROTTLED = 108
    # 120-129: the second factor at sign-in (accounts.twofactor)
    SIGN_IN_SECOND_FACTOR_REQUIRED = 121
    SIGN_IN_SECOND_FACTOR_FAILED = 122
    # 130-139: emailed one-time codes confirming irreversible actions (signed-in sessions)
    ACTION_CODE_REQUESTED = 131
    ACTION_CODE_CONFIRMED = 132
    ACTION_CODE_FAILED = 133

    # --- 200: platform accounts (platform stream; account security events also land in the
    # stream of the workspace host they happened on)
    USER_SIGNED_UP = 201
    ACCOUNT_LOCKED = 202
    PASSWORD_CHANGED = 203
    PASSWORD_RESET_REQUESTED = 204
    PASSWORD_RESET_COMPLETED = 205
    PASSWORD_TEMPORARY_SET = 206
    PASSWORD_RESET_THROTTLED = 207
    # Sign-up asked for on the public host: a confirmation link emailed to a new address, or
    # a notice to the holder of an existing account (workspace.signup).
    SIGN_UP_REQUESTED = 208
    # 220-229: two-factor authentication of the account (accounts.twofactor)
    TWO_FACTOR_ENABLED = 221
    TWO_FACTOR_DISABLED = 222
    RECOVERY_CODE_USED = 223
    RECOVERY_CODES_REGENERATED = 224
    TWO_FACTOR_CHANGE_REFUSED = 225  # wrong password or code when changing 2FA

    # --- 300: workspace lifecycle (platform stream, and the workspace's own stream)
    WORKSPACE_CREATED = 301
    WORKSPACE_SECURITY_SETTINGS_CHANGED = 302
    # 320-329: the workspace's two-factor requirement (accounts.twofactor)
    WORKSPACE_TWO_FACTOR_REQUIRED = 321
    WORKSPACE_TWO_FACTOR_NOT_REQUIRED = 322
    # 330-349: the cancellation lifecycle (workspace.lifecycle): active -> cancelled ->
    # archived -> purged, restore by support, immediate deletion on the owner's request
    WORKSPACE_CANCELLED = 331
    WORKSPACE_ARCHIVED = 332
    WORKSPACE_RESTORED = 333
    WORKSPACE_DELETION_REQUESTED = 334
    WORKSPACE_PURGE_STARTED = 335
    WORKSPACE_PURGED = 336  # platform stream only: the receipt, with counts and schema
    WORKSPACE_PURGE_FAILED = 337
    WORKSPACE_LIFECYCLE_NOTICE_SENT = 338  # the 7-day / 1-day emails to the owners
    # platform stream only: the owner side dropped a purged workspace's schema and role, on
    # the proof of its receipt (workspace.lifecycle.schema_drop)
    WORKSPACE_SCHEMA_DROPPED = 339

    # --- 400: members and roles (workspace stream)
    MEMBER_ADDED = 401
    MEMBER_REMOVED = 402
    MEMBER_ROLE_CHANGED = 403
    MEMBER_INVITED = 404
    MEMBER_INVITATION_REVOKED = 405
    MEMBER_INVITATION_REFUSED = 406  # a wrong password or an unusable link on the accept page
    OWNERSHIP_TRANSFERRED = 407

    # --- 500: the audit log itself (workspace stream)
    AUDIT_LOG_VIEWED = 501
    AUDIT_EVENT_VIEWED = 502
    AUDIT_LOG_EXPORTED = 503
    AUDIT_DIGESTS_DOWNLOADED = 504

    # --- 600: support access and impersonation (workspace stream; start/end also platform)
    SUPPORT_ACCESS_GRANTED = 601
    SUPPORT_ACCESS_REVOKED = 602
    SUPPORT_ACCESS_EXPIRED = 603
    SUPPORT_ACCESS_DISABLED = 604
    SUPPORT_ACCESS_ENABLED = 605
    IMPERSONATION_STARTED = 611
    IMPERSONATION_ENDED = 612
    IMPERSONATION_REQUEST = 613  # one per request made during a session
    IMPERSONATION_REFUSED = 614  # a forbidden or read-only action was tried
    SUPPORT_CONSOLE_SIGNED_IN = 621  # platform stream

    # --- 700: workspace exports and imports (workspace stream; imports also in the platform's)
    EXPORT_STARTED = 701
    EXPORT_FINISHED = 702
    EXPORT_FAILED = 703
    EXPORT_DOWNLOADED = 704
    EXPORT_EXPIRED = 705
    EXPORT_RETRIED = 706

    # --- 800: personal API tokens (api; workspace stream). Requests made with a token are
    # audited by the events their writes record (actor kind API token, data.api_token).
    API_TOKEN_CREATED = 801
    API_TOKEN_REVOKED = 802
    # A live token refused because the member lacks the endpoint's capability now, or
    # because the token's scopes do not cover it (data names the capability).
    API_TOKEN_REFUSED = 803
    WORKSPACE_IMPORTED = 711

    # --- 900: trust center (platform stream, except where said)
    # 901-909: the sub-processor list (subprocessors.services, subprocessors.tasks)
    SUBPROCESSOR_CHANGE_PUBLISHED = 901
    SUBPROCESSOR_CHANGE_REFUSED = 902  # bad input or too little notice for annual plans
    SUBPROCESSOR_NOTICES_SENT = 903  # one beat run's emails to owners: how many, which changes
    # 911-929: incidents (incidents.services; platform stream and each affected workspace's)
    INCIDENT_OPENED = 911
    INCIDENT_UPDATED = 912
    INCIDENT_RESOLVED = 913
    INCIDENT_CAPABILITY_GRANTED = 914  # platform stream
    INCIDENT_CAPABILITY_REVOKED = 915  # platform stream
    INCIDENT_EMAIL_PREFERENCE_CHANGED = 916  # the workspace's stream where it was changed
    # 931-939: the "Verify it yourself" page (workspace.verify; workspace stream): the checks
    # it ran and what the audit chain check found (data).
    SECURITY_CHECKS_RUN = 931

    # --- 1000: shop records, ten codes per model: +1 created, +2 updated, +3 deleted, +4.. extra
    COMPANY_CREATED = 1001
    COMPANY_UPDATED = 1002
    COMPANY_DELETED = 1003
    COMPANY_DELETED_WITH_RECORDS = 1004  # one summary event; each record also has its own
    CONTACT_CREATED = 1011
    CONTACT_UPDATED = 1012
    CONTACT_DELETED = 1013
    QUOTE_CREATED = 1021
    QUOTE_UPDATED = 1022
    QUOTE_DELETED = 1023
    QUOTE_LINE_CREATED = 1031
    QUOTE_LINE_UPDATED = 1032
    QUOTE_LINE_DELETED = 1033
    ORDER_CREATED = 1041
    ORDER_UPDATED = 1042
    ORDER_DELETED = 1043
    INVOICE_CREATED = 1051
    INVOICE_UPDATED = 1052
    INVOICE_DELETED = 1053
    FILE_CREATED = 1061
    FILE_UPDATED = 1062
    FILE_DELETED = 1063
    FILE_DOWNLOADED = 1064
    ORDER_LINE_CREATED = 1071
    ORDER_LINE_UPDATED = 1072
    ORDER_LINE_DELETED = 1073
    INVOICE_LINE_CREATED = 1081
    INVOICE_LINE_UPDATED = 1082
    INVOICE_LINE_DELETED = 1083
    # Any other shop model (target_type names it) until it is given its own block above.
    SHOP_RECORD_CREATED = 1991
    SHOP_RECORD_UPDATED = 1992
    SHOP_RECORD_DELETED = 1993

    # --- 2000: the service desk (desk), ten codes per model: +1 created, +2 updated,
    # +3 deleted, +4.. the desk's own actions, written by desk.services in their transaction
    TICKET_CREATED = 2001
    TICKET_UPDATED = 2002  # field changes with before -> after (django-auditlog)
    TICKET_DELETED = 2003
    TICKET_STATUS_CHANGED = 2004
    TICKET_ASSIGNED = 2005
    TICKET_REPLY_POSTED = 2006
    TICKET_NOTE_POSTED = 2007
    TICKET_MERGED = 2008
    TICKET_SLA_RECOMPUTED = 2009  # due times moved to a changed policy, before -> after
    TICKET_ATTACHMENT_ADDED = 2011
    TICKET_ATTACHMENT_DOWNLOADED = 2014
    SLA_POLICY_CREATED = 2021
    SLA_POLICY_CHANGED = 2022
    SLA_POLICY_DELETED = 2023
    SLA_OVERRIDDEN = 2024
    SLA_POLICY_APPLIED = 2025  # a saved policy recomputed open tickets: how many changed
    ASSET_CREATED = 2031
    ASSET_UPDATED = 2032
    ASSET_DELETED = 2033
    # A customer (or company administrator) downloaded their company's desk data.
    PORTAL_DATA_EXPORTED = 2041

    # --- 2100: document requests (docrequests), written by docrequests.services in their
    # transaction; a client's events have actor kind "document request link".
    DOCUMENT_REQUEST_CREATED = 2101
    DOCUMENT_REQUEST_SENT = 2102
    DOCUMENT_REQUEST_EXTENDED = 2103
    DOCUMENT_REQUEST_REVOKED = 2104
    DOCUMENT_REQUEST_DELETED = 2105
    DOCUMENT_REQUEST_REMINDED = 2106
    DOCUMENT_REQUEST_OPENED = 2107
    DOCUMENT_REQUEST_CODE_REQUESTED = 2111
    DOCUMENT_REQUEST_CODE_CONFIRMED = 2112
    DOCUMENT_REQUEST_CODE_FAILED = 2113
    DOCUMENT_REQUEST_ITEM_UPLOADED = 2121
    DOCUMENT_REQUEST_ITEM_ACCEPTED = 2122
    DOCUMENT_REQUEST_ITEM_REJECTED = 2123
    DOCUMENT_REQUEST_UPLOAD_DOWNLOADED = 2124


# Codes that were once released and then withdrawn; never reuse them.
RETIRED_CODES: frozenset[int] = frozenset()


@dataclass(frozen=True)
class EventInfo:
    name: str  # dotted, stable enough for exports and filters: "shop.company.created"
    label: str  # what a person reads on the Audit page


EVENT_INFO: dict[Event, EventInfo] = {
    Event.SIGN_IN_SUCCEEDED: EventInfo("auth.sign_in.succeeded", "Signed in"),
    Event.SIGN_IN_FAILED: EventInfo("auth.sign_in.failed", "Sign-in failed"),
    Event.SIGNED_OUT: EventInfo("auth.signed_out", "Signed out"),
    Event.SIGN_IN_THROTTLED: EventInfo(
        "auth.sign_in.throttled", "Sign-in refused: too many attempts"
    ),
    Event.SESSION_REVOKED: EventInfo("auth.session.revoked", "Session revoked"),
    Event.SESSIONS_ENDED: EventInfo("auth.sessions.ended", "Sessions ended"),
    Event.SESSION_EXPIRED: EventInfo("auth.session.expired", "Session expired"),
    Event.REQUEST_THROTTLED: EventInfo(
        "auth.request.throttled", "Request refused: too many requests"
    ),
    Event.SIGN_IN_SECOND_FACTOR_REQUIRED: EventInfo(
        "auth.sign_in.second_factor_required", "Password accepted; second factor asked for"
    ),
    Event.SIGN_IN_SECOND_FACTOR_FAILED: EventInfo(
        "auth.sign_in.second_factor_failed", "Sign-in failed at the second factor"
    ),
    Event.ACTION_CODE_REQUESTED: EventInfo(
        "auth.action_code.requested", "Confirmation code emailed for an irreversible action"
    ),
    Event.ACTION_CODE_CONFIRMED: EventInfo(
        "auth.action_code.confirmed", "Irreversible action confirmed with an emailed code"
    ),
    Event.ACTION_CODE_FAILED: EventInfo(
        "auth.action_code.failed", "Wrong or expired confirmation code"
    ),
    Event.USER_SIGNED_UP: EventInfo("platform.user.signed_up", "Account created"),
    Event.ACCOUNT_LOCKED: EventInfo("account.locked", "Account locked after failed sign-ins"),
    Event.PASSWORD_CHANGED: EventInfo("account.password.changed", "Password changed"),
    Event.PASSWORD_RESET_REQUESTED: EventInfo(
        "account.password_reset.requested", "Password reset requested"
    ),
    Event.PASSWORD_RESET_COMPLETED: EventInfo("account.password_reset.completed", "Password reset"),
    Event.PASSWORD_TEMPORARY_SET: EventInfo(
        "account.password.temporary_set", "Temporary password set"
    ),
    Event.PASSWORD_RESET_THROTTLED: EventInfo(
        "account.password_reset.throttled", "Password reset refused: too many requests"
    ),
    Event.SIGN_UP_REQUESTED: EventInfo(
        "platform.sign_up.requested", "Sign-up requested; an email was sent to the address"
    ),
    Event.TWO_FACTOR_ENABLED: EventInfo(
        "account.two_factor.enabled", "Two-factor authentication on"
    ),
    Event.TWO_FACTOR_DISABLED: EventInfo(
        "account.two_factor.disabled", "Two-factor authentication off"
    ),
    Event.RECOVERY_CODE_USED: EventInfo("account.recovery_code.used", "Recovery code used"),
    Event.RECOVERY_CODES_REGENERATED: EventInfo(
        "account.recovery_codes.regenerated", "New recovery codes generated"
    ),
    Event.TWO_FACTOR_CHANGE_REFUSED: EventInfo(
        "account.two_factor.change_refused", "Two-factor change refused: wrong password or code"
    ),
    Event.SUBPROCESSOR_CHANGE_PUBLISHED: EventInfo(
        "trust.subprocessor.change_published", "Sub-processor change published"
    ),
    Event.SUBPROCESSOR_CHANGE_REFUSED: EventInfo(
        "trust.subprocessor.change_refused", "Sub-processor change refused"
    ),
    Event.SUBPROCESSOR_NOTICES_SENT: EventInfo(
        "trust.subprocessor.notices_sent", "Owners emailed about sub-processor changes"
    ),
    Event.WORKSPACE_CREATED: EventInfo("workspace.created", "Workspace created"),
    Event.WORKSPACE_SECURITY_SETTINGS_CHANGED: EventInfo(
        "workspace.security_settings.changed", "Security settings changed"
    ),
    Event.WORKSPACE_TWO_FACTOR_REQUIRED: EventInfo(
        "workspace.two_factor.required", "Two-factor authentication required for all members"
    ),
    Event.WORKSPACE_TWO_FACTOR_NOT_REQUIRED: EventInfo(
        "workspace.two_factor.not_required", "Two-factor requirement switched off"
    ),
    Event.WORKSPACE_CANCELLED: EventInfo(
        "workspace.cancelled", "Workspace cancelled: read-only, export only"
    ),
    Event.WORKSPACE_ARCHIVED: EventInfo("workspace.archived", "Workspace archived: closed"),
    Event.WORKSPACE_RESTORED: EventInfo("workspace.restored", "Workspace restored to active"),
    Event.WORKSPACE_DELETION_REQUESTED: EventInfo(
        "workspace.deletion_requested", "Immediate deletion of the workspace requested"
    ),
    Event.WORKSPACE_PURGE_STARTED: EventInfo(
        "workspace.purge_started", "Permanent deletion of the workspace started"
    ),
    Event.WORKSPACE_PURGED: EventInfo(
        "workspace.purged", "Workspace permanently deleted (receipt); its schema goes next"
    ),
    Event.WORKSPACE_PURGE_FAILED: EventInfo(
        "workspace.purge_failed", "Permanent deletion of the workspace failed; will retry"
    ),
    Event.WORKSPACE_LIFECYCLE_NOTICE_SENT: EventInfo(
        "workspace.lifecycle_notice_sent", "Owners warned of an upcoming lifecycle step"
    ),
    Event.WORKSPACE_SCHEMA_DROPPED: EventInfo(
        "workspace.schema_dropped", "Purged workspace's schema and database role dropped"
    ),
    Event.MEMBER_ADDED: EventInfo("member.added", "Member added"),
    Event.MEMBER_REMOVED: EventInfo("member.removed", "Member removed"),
    Event.MEMBER_ROLE_CHANGED: EventInfo("member.role_changed", "Member role changed"),
    Event.MEMBER_INVITED: EventInfo("member.invited", "Member invited"),
    Event.MEMBER_INVITATION_REVOKED: EventInfo("member.invitation_revoked", "Invitation revoked"),
    Event.MEMBER_INVITATION_REFUSED: EventInfo(
        "member.invitation_refused", "Invitation acceptance refused"
    ),
    Event.OWNERSHIP_TRANSFERRED: EventInfo("member.ownership_transferred", "Ownership transferred"),
    Event.AUDIT_LOG_VIEWED: EventInfo("audit.log.viewed", "Audit log viewed"),
    Event.AUDIT_EVENT_VIEWED: EventInfo("audit.event.viewed", "Audit event viewed"),
    Event.AUDIT_LOG_EXPORTED: EventInfo("audit.log.exported", "Audit log exported"),
    Event.AUDIT_DIGESTS_DOWNLOADED: EventInfo(
        "audit.digests.downloaded", "Audit digests downloaded"
    ),
    Event.SUPPORT_ACCESS_GRANTED: EventInfo("support.access.granted", "Support access granted"),
    Event.SUPPORT_ACCESS_REVOKED: EventInfo("support.access.revoked", "Support access revoked"),
    Event.SUPPORT_ACCESS_EXPIRED: EventInfo("support.access.expired", "Support access expired"),
    Event.SUPPORT_ACCESS_DISABLED: EventInfo(
        "support.access.disabled", "Support access switched off"
    ),
    Event.SUPPORT_ACCESS_ENABLED: EventInfo("support.access.enabled", "Support access switched on"),
    Event.IMPERSONATION_STARTED: EventInfo(
        "support.impersonation.started", "Support impersonation session started"
    ),
    Event.IMPERSONATION_ENDED: EventInfo(
        "support.impersonation.ended", "Support impersonation session ended"
    ),
    Event.IMPERSONATION_REQUEST: EventInfo(
        "support.impersonation.request", "Page requested by support while impersonating"
    ),
    Event.IMPERSONATION_REFUSED: EventInfo(
        "support.impersonation.refused", "Action refused to support while impersonating"
    ),
    Event.SUPPORT_CONSOLE_SIGNED_IN: EventInfo(
        "support.console.signed_in", "Support agent signed in to the console"
    ),
    Event.INCIDENT_OPENED: EventInfo("incident.opened", "Incident opened"),
    Event.INCIDENT_UPDATED: EventInfo("incident.updated", "Incident update posted"),
    Event.INCIDENT_RESOLVED: EventInfo("incident.resolved", "Incident resolved"),
    Event.INCIDENT_CAPABILITY_GRANTED: EventInfo(
        "incident.capability.granted", "Platform capability to manage incidents granted"
    ),
    Event.INCIDENT_CAPABILITY_REVOKED: EventInfo(
        "incident.capability.revoked", "Platform capability to manage incidents revoked"
    ),
    Event.INCIDENT_EMAIL_PREFERENCE_CHANGED: EventInfo(
        "incident.email_preference.changed", "Incident update emails switched on or off"
    ),
    Event.EXPORT_STARTED: EventInfo("export.started", "Workspace export started"),
    Event.EXPORT_FINISHED: EventInfo("export.finished", "Workspace export ready"),
    Event.EXPORT_FAILED: EventInfo("export.failed", "Workspace export failed"),
    Event.EXPORT_DOWNLOADED: EventInfo("export.downloaded", "Workspace export downloaded"),
    Event.EXPORT_EXPIRED: EventInfo("export.expired", "Workspace export deleted (expired)"),
    Event.EXPORT_RETRIED: EventInfo("export.retried", "Workspace export retried"),
    Event.API_TOKEN_CREATED: EventInfo("api.token.created", "Personal API token created"),
    Event.API_TOKEN_REVOKED: EventInfo("api.token.revoked", "Personal API token revoked"),
    Event.API_TOKEN_REFUSED: EventInfo(
        "api.token.refused", "API request refused: the token does not allow it"
    ),
    Event.WORKSPACE_IMPORTED: EventInfo("workspace.imported", "Workspace imported from an export"),
    Event.SECURITY_CHECKS_RUN: EventInfo(
        "trust.security_checks.run", "Security checks run (Verify it yourself)"
    ),
    Event.COMPANY_CREATED: EventInfo("shop.company.created", "Company created"),
    Event.COMPANY_UPDATED: EventInfo("shop.company.updated", "Company updated"),
    Event.COMPANY_DELETED: EventInfo("shop.company.deleted", "Company deleted"),
    Event.COMPANY_DELETED_WITH_RECORDS: EventInfo(
        "shop.company.deleted_with_records", "Company deleted together with all its records"
    ),
    Event.CONTACT_CREATED: EventInfo("shop.contact.created", "Contact created"),
    Event.CONTACT_UPDATED: EventInfo("shop.contact.updated", "Contact updated"),
    Event.CONTACT_DELETED: EventInfo("shop.contact.deleted", "Contact deleted"),
    Event.QUOTE_CREATED: EventInfo("shop.quote.created", "Quote created"),
    Event.QUOTE_UPDATED: EventInfo("shop.quote.updated", "Quote updated"),
    Event.QUOTE_DELETED: EventInfo("shop.quote.deleted", "Quote deleted"),
    Event.QUOTE_LINE_CREATED: EventInfo("shop.quote_line.created", "Quote line created"),
    Event.QUOTE_LINE_UPDATED: EventInfo("shop.quote_line.updated", "Quote line updated"),
    Event.QUOTE_LINE_DELETED: EventInfo("shop.quote_line.deleted", "Quote line deleted"),
    Event.ORDER_CREATED: EventInfo("shop.order.created", "Order created"),
    Event.ORDER_UPDATED: EventInfo("shop.order.updated", "Order updated"),
    Event.ORDER_DELETED: EventInfo("shop.order.deleted", "Order deleted"),
    Event.INVOICE_CREATED: EventInfo("shop.invoice.created", "Invoice created"),
    Event.INVOICE_UPDATED: EventInfo("shop.invoice.updated", "Invoice updated"),
    Event.INVOICE_DELETED: EventInfo("shop.invoice.deleted", "Invoice deleted"),
    Event.FILE_CREATED: EventInfo("shop.file.created", "File uploaded"),
    Event.FILE_UPDATED: EventInfo("shop.file.updated", "File updated"),
    Event.FILE_DELETED: EventInfo("shop.file.deleted", "File deleted"),
    Event.FILE_DOWNLOADED: EventInfo("shop.file.downloaded", "File downloaded"),
    Event.ORDER_LINE_CREATED: EventInfo("shop.order_line.created", "Order line created"),
    Event.ORDER_LINE_UPDATED: EventInfo("shop.order_line.updated", "Order line updated"),
    Event.ORDER_LINE_DELETED: EventInfo("shop.order_line.deleted", "Order line deleted"),
    Event.INVOICE_LINE_CREATED: EventInfo("shop.invoice_line.created", "Invoice line created"),
    Event.INVOICE_LINE_UPDATED: EventInfo("shop.invoice_line.updated", "Invoice line updated"),
    Event.INVOICE_LINE_DELETED: EventInfo("shop.invoice_line.deleted", "Invoice line deleted"),
    Event.SHOP_RECORD_CREATED: EventInfo("shop.record.created", "Record created"),
    Event.SHOP_RECORD_UPDATED: EventInfo("shop.record.updated", "Record updated"),
    Event.SHOP_RECORD_DELETED: EventInfo("shop.record.deleted", "Record deleted"),
    Event.TICKET_CREATED: EventInfo("desk.ticket.created", "Ticket created"),
    Event.TICKET_UPDATED: EventInfo("desk.ticket.updated", "Ticket updated"),
    Event.TICKET_DELETED: EventInfo("desk.ticket.deleted", "Ticket deleted"),
    Event.TICKET_STATUS_CHANGED: EventInfo("desk.ticket.status_changed", "Ticket status changed"),
    Event.TICKET_ASSIGNED: EventInfo("desk.ticket.assigned", "Ticket assigned"),
    Event.TICKET_REPLY_POSTED: EventInfo("desk.ticket.reply_posted", "Public reply posted"),
    Event.TICKET_NOTE_POSTED: EventInfo("desk.ticket.note_posted", "Internal note posted"),
    Event.TICKET_MERGED: EventInfo("desk.ticket.merged", "Ticket merged into another"),
    Event.TICKET_SLA_RECOMPUTED: EventInfo(
        "desk.ticket.sla_recomputed", "Ticket due times recomputed for the changed SLA policy"
    ),
    Event.TICKET_ATTACHMENT_ADDED: EventInfo(
        "desk.ticket.attachment_added", "Attachment added to a ticket"
    ),
    Event.TICKET_ATTACHMENT_DOWNLOADED: EventInfo(
        "desk.ticket.attachment_downloaded", "Ticket attachment downloaded"
    ),
    Event.SLA_POLICY_CREATED: EventInfo("desk.sla_policy.created", "SLA policy created"),
    Event.SLA_POLICY_CHANGED: EventInfo("desk.sla_policy.changed", "SLA policy changed"),
    Event.SLA_POLICY_DELETED: EventInfo("desk.sla_policy.deleted", "SLA policy deleted"),
    Event.SLA_OVERRIDDEN: EventInfo("desk.sla.overridden", "SLA target extended or waived"),
    Event.SLA_POLICY_APPLIED: EventInfo(
        "desk.sla_policy.applied_to_open_tickets", "SLA policy applied to open tickets"
    ),
    Event.ASSET_CREATED: EventInfo("desk.asset.created", "Asset created"),
    Event.ASSET_UPDATED: EventInfo("desk.asset.updated", "Asset updated"),
    Event.ASSET_DELETED: EventInfo("desk.asset.deleted", "Asset deleted"),
    Event.PORTAL_DATA_EXPORTED: EventInfo(
        "desk.portal.data_exported", "Company's requests and assets exported from the portal"
    ),
    Event.DOCUMENT_REQUEST_CREATED: EventInfo(
        "docrequests.request.created", "Document request created"
    ),
    Event.DOCUMENT_REQUEST_SENT: EventInfo(
        "docrequests.request.sent", "Document request link emailed"
    ),
    Event.DOCUMENT_REQUEST_EXTENDED: EventInfo(
        "docrequests.request.extended", "Document request link extended"
    ),
    Event.DOCUMENT_REQUEST_REVOKED: EventInfo(
        "docrequests.request.revoked", "Document request link revoked"
    ),
    Event.DOCUMENT_REQUEST_DELETED: EventInfo(
        "docrequests.request.deleted", "Document request deleted"
    ),
    Event.DOCUMENT_REQUEST_REMINDED: EventInfo(
        "docrequests.request.reminded", "Document request reminder emailed"
    ),
    Event.DOCUMENT_REQUEST_OPENED: EventInfo(
        "docrequests.request.opened", "Document request opened by the client"
    ),
    Event.DOCUMENT_REQUEST_CODE_REQUESTED: EventInfo(
        "docrequests.code.requested", "Document request code emailed"
    ),
    Event.DOCUMENT_REQUEST_CODE_CONFIRMED: EventInfo(
        "docrequests.code.confirmed", "Document request code confirmed"
    ),
    Event.DOCUMENT_REQUEST_CODE_FAILED: EventInfo(
        "docrequests.code.failed", "Document request code refused"
    ),
    Event.DOCUMENT_REQUEST_ITEM_UPLOADED: EventInfo(
        "docrequests.item.uploaded", "Document uploaded by the client"
    ),
    Event.DOCUMENT_REQUEST_ITEM_ACCEPTED: EventInfo(
        "docrequests.item.accepted", "Requested document accepted"
    ),
    Event.DOCUMENT_REQUEST_ITEM_REJECTED: EventInfo(
        "docrequests.item.rejected", "Requested document rejected"
    ),
    Event.DOCUMENT_REQUEST_UPLOAD_DOWNLOADED: EventInfo(
        "docrequests.upload.downloaded", "Requested document downloaded"
    ),
}

# Model label (``app_label.modelname``) -> its created/updated/deleted codes. A shop model not
# listed here is still audited, under the SHOP_RECORD_* codes.
RECORD_EVENTS: dict[str, tuple[Event, Event, Event]] = {
    "shop.company": (Event.COMPANY_CREATED, Event.COMPANY_UPDATED, Event.COMPANY_DELETED),
    "shop.contact": (Event.CONTACT_CREATED, Event.CONTACT_UPDATED, Event.CONTACT_DELETED),
    "shop.quote": (Event.QUOTE_CREATED, Event.QUOTE_UPDATED, Event.QUOTE_DELETED),
    "shop.quoteline": (
        Event.QUOTE_LINE_CREATED,
        Event.QUOTE_LINE_UPDATED,
        Event.QUOTE_LINE_DELETED,
    ),
    "shop.order": (Event.ORDER_CREATED, Event.ORDER_UPDATED, Event.ORDER_DELETED),
    "shop.orderline": (
        Event.ORDER_LINE_CREATED,
        Event.ORDER_LINE_UPDATED,
        Event.ORDER_LINE_DELETED,
    ),
    "shop.invoice": (Event.INVOICE_CREATED, Event.INVOICE_UPDATED, Event.INVOICE_DELETED),
    "shop.invoiceline": (
        Event.INVOICE_LINE_CREATED,
        Event.INVOICE_LINE_UPDATED,
        Event.INVOICE_LINE_DELETED,
    ),
    "shop.storedfile": (Event.FILE_CREATED, Event.FILE_UPDATED, Event.FILE_DELETED),
    "desk.ticket": (Event.TICKET_CREATED, Event.TICKET_UPDATED, Event.TICKET_DELETED),
    "desk.slapolicy": (
        Event.SLA_POLICY_CREATED,
        Event.SLA_POLICY_CHANGED,
        Event.SLA_POLICY_DELETED,
    ),
    "desk.asset": (Event.ASSET_CREATED, Event.ASSET_UPDATED, Event.ASSET_DELETED),
}
_GENERIC_RECORD_EVENTS = (
    Event.SHOP_RECORD_CREATED,
    Event.SHOP_RECORD_UPDATED,
    Event.SHOP_RECORD_DELETED,
)


def record_event(model_label: str, action: int) -> Event:
    """The event type of a record change; ``action`` is django-auditlog's 0/1/2."""
    return RECORD_EVENTS.get(model_label.lower(), _GENERIC_RECORD_EVENTS)[action]


def event_name(code: int) -> str:
    """Dotted name of a stored code; codes unknown to this build still render."""
    try:
        return EVENT_INFO[Event(code)].name
    except ValueError:
        return f"unknown.{code}"


def event_label(code: int) -> str:
    try:
        return EVENT_INFO[Event(code)].label
    except ValueError:
        return f"Unknown event {code}"


def event_choices() -> list[tuple[int, str]]:
    """(code, label) pairs for filter forms, in vocabulary order."""
    return [(int(event), f"{info.label} ({info.name})") for event, info in EVENT_INFO.items()]
