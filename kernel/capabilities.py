"""The whole capability vocabulary and the role -> capability map.

Invariant: nothing else in the code base invents a capability string. Views declare one of
these constants; the gate decides with :func:`capabilities_for`; templates read the same set
(``caps``) from the context processor; sensitive services call :func:`require` again. The
"Roles & permissions" page and ``docs/roles.md`` show :data:`ROLE_CAPABILITIES` itself (a
test compares the document with it), so what people read is what is enforced.

The vocabulary is a type, :data:`Capability`, so a misspelt capability is a mypy error
wherever one is taken (``require``, ``require_capability``, ``rbac.authz.authorize``...);
each constant below is ``Final`` and so typed as its own literal. The check at import time
(every constant is in the type and the type holds nothing else) and the run-time checks of
``require`` and the view declarations stay, for callers mypy does not see.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Final, Literal, TypeGuard, TypeVar, get_args

from django.core.exceptions import ImproperlyConfigured, PermissionDenied

from .roles import Role

Capability = Literal[
    "workspace:view",
    "profile:manage",
    "companies:view",
    "companies:create",
    "companies:edit",
    "companies:delete",
    "quotes:view",
    "quotes:create",
    "quotes:edit",
    "quotes:send",
    "quotes:respond",
    "quotes:delete",
    "orders:view",
    "orders:create",
    "orders:edit",
    "orders:delete",
    "invoices:view",
    "invoices:create",
    "invoices:edit",
    "invoices:void",
    "invoices:delete",
    "files:view",
    "files:upload",
    "files:delete",
    "tickets:view",
    "tickets:create",
    "tickets:work",
    "tickets:delete",
    "sla:override",
    "sla:manage",
    "assets:view",
    "assets:edit",
    "assets:delete",
    "dashboard:view",
    "requests:view",
    "requests:create",
    "requests:reply",
    "requests:export",
    "company_assets:view",
    "document_requests:view",
    "document_requests:manage",
    "members:view",
    "members:invite",
    "members:manage",
    "company_members:manage",
    "ownership:transfer",
    "audit:read",
    "audit:export",
    "exports:run",
    "settings:security",
    "settings:roles",
    "billing:manage",
    "support:grant",
    "security:verify",
    "workspace:delete",
]

# A view anyone may open on a workspace host, signed in or not (sign-in, accepting an invite).
# Not a capability anyone holds: only views declare it.
Public = Literal["public"]
PUBLIC: Final = "public"
# What a view declares: a capability, or PUBLIC.
ViewCapability = Capability | Public

WORKSPACE_VIEW: Final = "workspace:view"
PROFILE_MANAGE: Final = "profile:manage"

COMPANIES_VIEW: Final = "companies:view"
COMPANIES_CREATE: Final = "companies:create"
COMPANIES_EDIT: Final = "companies:edit"
COMPANIES_DELETE: Final = "companies:delete"

QUOTES_VIEW: Final = "quotes:view"
QUOTES_CREATE: Final = "quotes:create"
QUOTES_EDIT: Final = "quotes:edit"
QUOTES_SEND: Final = "quotes:send"
QUOTES_RESPOND: Final = "quotes:respond"
QUOTES_DELETE: Final = "quotes:delete"

ORDERS_VIEW: Final = "orders:view"
ORDERS_CREATE: Final = "orders:create"
ORDERS_EDIT: Final = "orders:edit"
ORDERS_DELETE: Final = "orders:delete"

INVOICES_VIEW: Final = "invoices:view"
INVOICES_CREATE: Final = "invoices:create"
INVOICES_EDIT: Final = "invoices:edit"
INVOICES_VOID: Final = "invoices:void"
INVOICES_DELETE: Final = "invoices:delete"

FILES_VIEW: Final = "files:view"
FILES_UPLOAD: Final = "files:upload"
FILES_DELETE: Final = "files:delete"

# The service desk (desk): staff work tickets; customers use the portal capabilities below.
TICKETS_VIEW: Final = "tickets:view"
TICKETS_CREATE: Final = "tickets:create"
TICKETS_WORK: Final = "tickets:work"
TICKETS_DELETE: Final = "tickets:delete"
SLA_OVERRIDE: Final = "sla:override"
SLA_MANAGE: Final = "sla:manage"
ASSETS_VIEW: Final = "assets:view"
ASSETS_EDIT: Final = "assets:edit"
ASSETS_DELETE: Final = "assets:delete"
DASHBOARD_VIEW: Final = "dashboard:view"
# The customer portal of the desk: always narrowed to the customer's own company.
REQUESTS_VIEW: Final = "requests:view"
REQUESTS_CREATE: Final = "requests:create"
REQUESTS_REPLY: Final = "requests:reply"
# The portal's own export: a customer takes their company's requests and their own actions.
REQUESTS_EXPORT: Final = "requests:export"
COMPANY_ASSETS_VIEW: Final = "company_assets:view"
# Document requests (docrequests): ask a company's contacts for files through a link.
DOCREQUESTS_VIEW: Final = "document_requests:view"
DOCREQUESTS_MANAGE: Final = "document_requests:manage"

MEMBERS_VIEW: Final = "members:view"
MEMBERS_INVITE: Final = "members:invite"
MEMBERS_MANAGE: Final = "members:manage"
COMPANY_MEMBERS_MANAGE: Final = "company_members:manage"
OWNERSHIP_TRANSFER: Final = "ownership:transfer"

AUDIT_READ: Final = "audit:read"
AUDIT_EXPORT: Final = "audit:export"
EXPORTS_RUN: Final = "exports:run"
SETTINGS_SECURITY: Final = "settings:security"
SETTINGS_ROLES_VIEW: Final = "settings:roles"
BILLING_MANAGE: Final = "billing:manage"
SUPPORT_GRANT: Final = "support:grant"
# The "Verify it yourself" page (workspace.verify): live checks of the workspace's security.
SECURITY_VERIFY: Final = "security:verify"
WORKSPACE_DELETE: Final = "workspace:delete"

ALL_CAPABILITIES: frozenset[Capability] = frozenset(get_args(Capability))


def _vocabulary_check() -> None:
    """The constants and the type name the same capabilities: a constant added without its
    literal (or the reverse) stops the import instead of being refused at run time."""
    constants = {
        value
        for name, value in globals().items()
        if name.isupper() and isinstance(value, str) and ":" in value
    }
    if constants != ALL_CAPABILITIES:
        missing = sorted(constants ^ ALL_CAPABILITIES)
        raise ImproperlyConfigured(f"Capability and the constants disagree on {missing}")


_vocabulary_check()


def is_capability(value: object) -> TypeGuard[Capability]:
    """Whether ``value`` (a string from somewhere mypy cannot see) is in the vocabulary."""
    return value in ALL_CAPABILITIES


# The capabilities whose views only show things: the vocabulary's "<area>:view" and
# "<area>:read", plus the roles matrix page and the "Verify it yourself" page (the read
# capabilities named otherwise: one shows the map, the other only runs checks). Every
# other capability's views are forms or actions. A read-only support session holds only these
# (support.gate), and a cancelled workspace these plus CANCELLED_WORKSPACE_EXTRA.
READ_VERBS: frozenset[str] = frozenset({"view", "read"})
READ_CAPABILITIES: frozenset[Capability] = frozenset(
    capability for capability in ALL_CAPABILITIES if capability.rpartition(":")[2] in READ_VERBS
) | {SETTINGS_ROLES_VIEW, SECURITY_VERIFY}

# What a cancelled workspace still lets its members do besides reading, because the
# cancellation promises it: owners export the data and the audit log, or delete at once, and
# every member looks after their own account (password, 2FA, sessions).
CANCELLED_WORKSPACE_EXTRA: frozenset[Capability] = frozenset(
    {EXPORTS_RUN, AUDIT_EXPORT, REQUESTS_EXPORT, WORKSPACE_DELETE, PROFILE_MANAGE}
)
CANCELLED_WORKSPACE_CAPABILITIES: frozenset[Capability] = (
    READ_CAPABILITIES | CANCELLED_WORKSPACE_EXTRA
)

# A set of capabilities, or of the strings a caller holds them as (the result keeps its type).
_Held = TypeVar("_Held", bound=str)


def capabilities_in_state(capabilities: AbstractSet[_Held], *, cancelled: bool) -> frozenset[_Held]:
    """``capabilities`` narrowed to what the workspace's lifecycle state allows: all of them
    while active, the read and export ones once cancelled. The gate decides with this set and
    templates read it as ``caps``, so a cancelled workspace shows no button it would refuse."""
    if cancelled:
        return frozenset(c for c in capabilities if c in CANCELLED_WORKSPACE_CAPABILITIES)
    return frozenset(capabilities)


# What each capability lets a person do, in the order the roles page and docs list them.
CAPABILITY_LABELS: dict[Capability, str] = {
    WORKSPACE_VIEW: "Open the workspace and its home page",
    PROFILE_MANAGE: "Manage their own profile and password",
    COMPANIES_VIEW: "See customer companies and their contacts",
    COMPANIES_CREATE: "Add customer companies",
    COMPANIES_EDIT: "Edit companies and their contacts",
    COMPANIES_DELETE: "Delete companies",
    QUOTES_VIEW: "See quotes",
    QUOTES_CREATE: "Write quotes",
    QUOTES_EDIT: "Edit draft quotes",
    QUOTES_SEND: "Send quotes and record the customer's answer",
    QUOTES_RESPOND: "Accept or decline a quote sent to their company",
    QUOTES_DELETE: "Delete quotes that are not accepted",
    ORDERS_VIEW: "See orders (installers: the ones assigned to them)",
    ORDERS_CREATE: "Turn an accepted quote into an order",
    ORDERS_EDIT: "Edit orders and move them through their statuses",
    ORDERS_DELETE: "Delete orders",
    INVOICES_VIEW: "See invoices",
    INVOICES_CREATE: "Issue invoices for orders",
    INVOICES_EDIT: "Edit open invoices and mark them paid",
    INVOICES_VOID: "Void invoices",
    INVOICES_DELETE: "Delete invoices",
    FILES_VIEW: "See and download files",
    FILES_UPLOAD: "Upload files",
    FILES_DELETE: "Delete files",
    TICKETS_VIEW: "See the service desk's ticket queue and tickets, internal notes included",
    TICKETS_CREATE: "Open tickets on behalf of a customer's contact",
    TICKETS_WORK: "Work tickets: reply, write internal notes, change status, assign, merge",
    TICKETS_DELETE: "Delete tickets",
    SLA_OVERRIDE: "Extend or waive a ticket's SLA target, with a reason",
    SLA_MANAGE: "Change the SLA policy: targets, business hours, holidays",
    ASSETS_VIEW: "See customer companies' assets",
    ASSETS_EDIT: "Add and edit customer companies' assets",
    ASSETS_DELETE: "Delete assets",
    DASHBOARD_VIEW: "See the service desk dashboard",
    REQUESTS_VIEW: "Follow their own company's requests (no internal notes)",
    REQUESTS_CREATE: "Submit requests for their own company",
    REQUESTS_REPLY: "Reply to, confirm or reopen their own company's requests",
    REQUESTS_EXPORT: (
        "Download their own company's requests, assets and their own actions as one JSON file"
    ),
    COMPANY_ASSETS_VIEW: "See their own company's assets",
    DOCREQUESTS_VIEW: "See document requests sent to clients and download what they uploaded",
    DOCREQUESTS_MANAGE: (
        "Create, send, extend and revoke document requests; accept or reject documents"
    ),
    MEMBERS_VIEW: "See the workspace's members and pending invitations",
    MEMBERS_INVITE: "Invite people with a role no stronger than their own",
    MEMBERS_MANAGE: "Change members' roles and remove members",
    COMPANY_MEMBERS_MANAGE: "Invite and remove the people of their own company",
    OWNERSHIP_TRANSFER: "Hand ownership of the workspace to another member",
    AUDIT_READ: "Read the audit log",
    AUDIT_EXPORT: "Export the audit log",
    EXPORTS_RUN: "Export all of the workspace's data",
    SETTINGS_SECURITY: "Change the workspace's security settings",
    SETTINGS_ROLES_VIEW: "See this roles and permissions matrix",
    BILLING_MANAGE: "Manage the subscription and billing",
    SUPPORT_GRANT: "Let platform support into the workspace",
    SECURITY_VERIFY: "Run the workspace's live security checks (Verify it yourself)",
    WORKSPACE_DELETE: "Delete the workspace",
}
CAPABILITY_ORDER: tuple[Capability, ...] = tuple(CAPABILITY_LABELS)

_READ_BUSINESS: set[Capability] = {
    COMPANIES_VIEW,
    QUOTES_VIEW,
    ORDERS_VIEW,
    INVOICES_VIEW,
    FILES_VIEW,
}
_BASE: set[Capability] = {WORKSPACE_VIEW, PROFILE_MANAGE}
# The customer's own voice (accepting a quote) and the company admin's reach over their own
# company's people are portal capabilities: staff act through quotes:send and members:*.
# The desk's portal capabilities are customer-only too: staff read tickets through
# tickets:view, whose pages show internal notes, and the portal's pages never do.
_CUSTOMER_ONLY: set[Capability] = {
    QUOTES_RESPOND,
    COMPANY_MEMBERS_MANAGE,
    REQUESTS_VIEW,
    REQUESTS_CREATE,
    REQUESTS_REPLY,
    REQUESTS_EXPORT,
    COMPANY_ASSETS_VIEW,
}
_PORTAL: set[Capability] = {
    WORKSPACE_VIEW,
    PROFILE_MANAGE,
    QUOTES_VIEW,
    QUOTES_RESPOND,
    ORDERS_VIEW,
    INVOICES_VIEW,
    FILES_VIEW,
    REQUESTS_VIEW,
    REQUESTS_CREATE,
    REQUESTS_REPLY,
    REQUESTS_EXPORT,
    COMPANY_ASSETS_VIEW,
}
# Working the service desk: what the expert role is for, and what a manager also does.
_DESK_WORK: set[Capability] = {TICKETS_VIEW, TICKETS_CREATE, TICKETS_WORK, DASHBOARD_VIEW}

_OWNER: set[Capability] = set(ALL_CAPABILITIES) - _CUSTOMER_ONLY
# Only owners delete the workspace, hand it over and pay for it.
_ADMIN: set[Capability] = _OWNER - {WORKSPACE_DELETE, OWNERSHIP_TRANSFER, BILLING_MANAGE}


def _held(*groups: AbstractSet[Capability]) -> frozenset[Capability]:
    """The union of ``groups``, each typed as capabilities (a chain of ``|`` on set literals
    would widen to ``str``)."""
    return frozenset(capability for group in groups for capability in group)


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.OWNER: frozenset(_OWNER),
    Role.ADMIN: frozenset(_ADMIN),
    # Runs the shop floor: all business work short of deleting records or voiding invoices;
    # sees the team and can invite people whose role is within their own.
    Role.MANAGER: _held(
        _BASE,
        _READ_BUSINESS,
        {
            COMPANIES_CREATE,
            COMPANIES_EDIT,
            QUOTES_CREATE,
            QUOTES_EDIT,
            QUOTES_SEND,
            ORDERS_CREATE,
            ORDERS_EDIT,
            INVOICES_CREATE,
            INVOICES_EDIT,
            FILES_UPLOAD,
            FILES_DELETE,
            MEMBERS_VIEW,
            MEMBERS_INVITE,
            SETTINGS_ROLES_VIEW,
        },
        _DESK_WORK,
        {SLA_OVERRIDE, ASSETS_VIEW, ASSETS_EDIT},
        {DOCREQUESTS_VIEW, DOCREQUESTS_MANAGE},
    ),
    # Handles companies and quotes, and turns an accepted quote into an order.
    Role.SALES: _held(
        _BASE,
        {COMPANIES_VIEW, COMPANIES_CREATE, COMPANIES_EDIT},
        {QUOTES_VIEW, QUOTES_CREATE, QUOTES_EDIT, QUOTES_SEND},
        {ORDERS_VIEW, ORDERS_CREATE, FILES_VIEW, FILES_UPLOAD},
        {TICKETS_VIEW, TICKETS_CREATE, ASSETS_VIEW},
        {DOCREQUESTS_VIEW, DOCREQUESTS_MANAGE},
    ),
    # Handles proofs and artwork; reads the jobs they are for.
    Role.DESIGNER: frozenset(
        _BASE | {COMPANIES_VIEW, QUOTES_VIEW, ORDERS_VIEW, FILES_VIEW, FILES_UPLOAD, FILES_DELETE}
    ),
    # Installers see orders assigned to them (narrowed by the selectors), with the site
    # address, and those orders' files.
    Role.INSTALLER: frozenset(_BASE | {ORDERS_VIEW, FILES_VIEW}),
    # Handles invoices; reads quotes and orders to bill them.
    Role.ACCOUNTANT: _held(
        _BASE,
        {COMPANIES_VIEW, QUOTES_VIEW, ORDERS_VIEW},
        {INVOICES_VIEW, INVOICES_CREATE, INVOICES_EDIT, INVOICES_VOID},
    ),
    # Reads what they work on.
    Role.EMPLOYEE: _held(
        _BASE, {COMPANIES_VIEW, QUOTES_VIEW, ORDERS_VIEW, FILES_VIEW, TICKETS_VIEW, ASSETS_VIEW}
    ),
    # Works the service desk: tickets, customer data and the dashboard. No configuration
    # (SLA policy, settings), no members, no billing, no SLA overrides, no deletions.
    Role.EXPERT: _held(_BASE, _DESK_WORK, {COMPANIES_VIEW, ASSETS_VIEW}),
    # Customer roles: the same pages, narrowed by the selectors to their own company.
    Role.CUSTOMER: frozenset(_PORTAL),
    Role.COMPANY_ADMIN: frozenset(_PORTAL | {FILES_UPLOAD, COMPANY_MEMBERS_MANAGE}),
}

# Granting a role means holding every capability it carries. A portal capability counts as
# held by someone who holds the staff capability that covers it: a salesperson who records a
# customer's acceptance (quotes:send) may invite that customer; someone who manages every
# member (members:manage) may appoint a company administrator.
GRANT_COVERED_BY: dict[Capability, Capability] = {
    QUOTES_RESPOND: QUOTES_SEND,
    COMPANY_MEMBERS_MANAGE: MEMBERS_MANAGE,
    REQUESTS_VIEW: TICKETS_VIEW,
    REQUESTS_CREATE: TICKETS_CREATE,
    REQUESTS_REPLY: TICKETS_WORK,
    REQUESTS_EXPORT: TICKETS_VIEW,
    COMPANY_ASSETS_VIEW: ASSETS_VIEW,
}


def capabilities_for(membership) -> frozenset[Capability]:
    """The one decision: what a membership may do. No membership -> nothing."""
    if membership is None or not getattr(membership, "is_active", False):
        return frozenset()
    return ROLE_CAPABILITIES.get(membership.role, frozenset())


def has_capability(membership, capability: Capability) -> bool:
    return capability in capabilities_for(membership)


def require(membership, capability: Capability) -> None:
    """Services call this again so a task or command cannot bypass the view's check."""
    if not is_capability(capability):
        raise ValueError(f"unknown capability {capability!r}")
    if not has_capability(membership, capability):
        raise PermissionDenied(f"This action needs {capability}.")


def can_grant_role(membership, role: str) -> bool:
    """Whether ``membership`` holds every capability of ``role`` (so granting it raises no one
    above the granter). Derived from the same map as everything else; who may be handed the
    Owner role and to whom a grant applies are rules of ``rbac.services``."""
    held = capabilities_for(membership)
    if not held or role not in ROLE_CAPABILITIES:
        return False
    return all(
        capability in held or GRANT_COVERED_BY.get(capability) in held
        for capability in ROLE_CAPABILITIES[role]
    )
