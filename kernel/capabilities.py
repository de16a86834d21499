"""The whole capability vocabulary and the role -> capability map.

Invariant: nothing else in the code base invents a capability string. Views declare one of
these constants; the gate decides with :func:`capabilities_for`; templates read the same set
(``caps``) from the context processor; sensitive services call :func:`require` again. The
"Roles & permissions" page and ``docs/roles.md`` show :data:`ROLE_CAPABILITIES` itself (a
test compares the document with it), so what people read is what is enforced.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from .roles import Role

# A view anyone may open on a workspace host, signed in or not (sign-in, accepting an invite).
PUBLIC = "public"

WORKSPACE_VIEW = "workspace:view"
PROFILE_MANAGE = "profile:manage"

COMPANIES_VIEW = "companies:view"
COMPANIES_CREATE = "companies:create"
COMPANIES_EDIT = "companies:edit"
COMPANIES_DELETE = "companies:delete"

QUOTES_VIEW = "quotes:view"
QUOTES_CREATE = "quotes:create"
QUOTES_EDIT = "quotes:edit"
QUOTES_SEND = "quotes:send"
QUOTES_RESPOND = "quotes:respond"
QUOTES_DELETE = "quotes:delete"

ORDERS_VIEW = "orders:view"
ORDERS_CREATE = "orders:create"
ORDERS_EDIT = "orders:edit"
ORDERS_DELETE = "orders:delete"

INVOICES_VIEW = "invoices:view"
INVOICES_CREATE = "invoices:create"
INVOICES_EDIT = "invoices:edit"
INVOICES_VOID = "invoices:void"
INVOICES_DELETE = "invoices:delete"

FILES_VIEW = "files:view"
FILES_UPLOAD = "files:upload"
FILES_DELETE = "files:delete"

MEMBERS_VIEW = "members:view"
MEMBERS_INVITE = "members:invite"
MEMBERS_MANAGE = "members:manage"
COMPANY_MEMBERS_MANAGE = "company_members:manage"
OWNERSHIP_TRANSFER = "ownership:transfer"

AUDIT_READ = "audit:read"
AUDIT_EXPORT = "audit:export"
EXPORTS_RUN = "exports:run"
SETTINGS_SECURITY = "settings:security"
SETTINGS_ROLES_VIEW = "settings:roles"
BILLING_MANAGE = "billing:manage"
SUPPORT_GRANT = "support:grant"
WORKSPACE_DELETE = "workspace:delete"

ALL_CAPABILITIES: frozenset[str] = frozenset(
    value
    for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, str) and ":" in value
)

# The capabilities whose views only show things: the vocabulary's "<area>:view" and
# "<area>:read", plus the roles matrix page (the one read capability named otherwise). Every
# other capability's views are forms or actions. A read-only support session holds only these
# (support.gate), and a cancelled workspace these plus CANCELLED_WORKSPACE_EXTRA.
READ_VERBS: frozenset[str] = frozenset({"view", "read"})
READ_CAPABILITIES: frozenset[str] = frozenset(
    capability for capability in ALL_CAPABILITIES if capability.rpartition(":")[2] in READ_VERBS
) | {SETTINGS_ROLES_VIEW}

# What a cancelled workspace still lets its members do besides reading, because the
# cancellation promises it: owners export the data and the audit log, or delete at once, and
# every member looks after their own account (password, 2FA, sessions).
CANCELLED_WORKSPACE_EXTRA: frozenset[str] = frozenset(
    {EXPORTS_RUN, AUDIT_EXPORT, WORKSPACE_DELETE, PROFILE_MANAGE}
)
CANCELLED_WORKSPACE_CAPABILITIES: frozenset[str] = READ_CAPABILITIES | CANCELLED_WORKSPACE_EXTRA


def capabilities_in_state(capabilities: frozenset[str], *, cancelled: bool) -> frozenset[str]:
    """``capabilities`` narrowed to what the workspace's lifecycle state allows: all of them
    while active, the read and export ones once cancelled. The gate decides with this set and
    templates read it as ``caps``, so a cancelled workspace shows no button it would refuse."""
    return capabilities & CANCELLED_WORKSPACE_CAPABILITIES if cancelled else capabilities


# What each capability lets a person do, in the order the roles page and docs list them.
CAPABILITY_LABELS: dict[str, str] = {
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
    WORKSPACE_DELETE: "Delete the workspace",
}
CAPABILITY_ORDER: tuple[str, ...] = tuple(CAPABILITY_LABELS)

_READ_BUSINESS = {COMPANIES_VIEW, QUOTES_VIEW, ORDERS_VIEW, INVOICES_VIEW, FILES_VIEW}
_BASE = {WORKSPACE_VIEW, PROFILE_MANAGE}
# The customer's own voice (accepting a quote) and the company admin's reach over their own
# company's people are portal capabilities: staff act through quotes:send and members:*.
_CUSTOMER_ONLY = {QUOTES_RESPOND, COMPANY_MEMBERS_MANAGE}
_PORTAL = _BASE | {QUOTES_VIEW, QUOTES_RESPOND, ORDERS_VIEW, INVOICES_VIEW, FILES_VIEW}

_OWNER = set(ALL_CAPABILITIES) - _CUSTOMER_ONLY
# Only owners delete the workspace, hand it over and pay for it.
_ADMIN = _OWNER - {WORKSPACE_DELETE, OWNERSHIP_TRANSFER, BILLING_MANAGE}

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(_OWNER),
    Role.ADMIN: frozenset(_ADMIN),
    # Runs the shop floor: all business work short of deleting records or voiding invoices;
    # sees the team and can invite people whose role is within their own.
    Role.MANAGER: frozenset(
        _BASE
        | _READ_BUSINESS
        | {
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
        }
    ),
    # Handles companies and quotes, and turns an accepted quote into an order.
    Role.SALES: frozenset(
        _BASE
        | {COMPANIES_VIEW, COMPANIES_CREATE, COMPANIES_EDIT}
        | {QUOTES_VIEW, QUOTES_CREATE, QUOTES_EDIT, QUOTES_SEND}
        | {ORDERS_VIEW, ORDERS_CREATE, FILES_VIEW, FILES_UPLOAD}
    ),
    # Handles proofs and artwork; reads the jobs they are for.
    Role.DESIGNER: frozenset(
        _BASE | {COMPANIES_VIEW, QUOTES_VIEW, ORDERS_VIEW, FILES_VIEW, FILES_UPLOAD, FILES_DELETE}
    ),
    # Installers see orders assigned to them (narrowed by the selectors), with the site
    # address, and those orders' files.
    Role.INSTALLER: frozenset(_BASE | {ORDERS_VIEW, FILES_VIEW}),
    # Handles invoices; reads quotes and orders to bill them.
    Role.ACCOUNTANT: frozenset(
        _BASE
        | {COMPANIES_VIEW, QUOTES_VIEW, ORDERS_VIEW}
        | {INVOICES_VIEW, INVOICES_CREATE, INVOICES_EDIT, INVOICES_VOID}
    ),
    # Reads what they work on.
    Role.EMPLOYEE: frozenset(_BASE | {COMPANIES_VIEW, QUOTES_VIEW, ORDERS_VIEW, FILES_VIEW}),
    # Customer roles: the same pages, narrowed by the selectors to their own company.
    Role.CUSTOMER: frozenset(_PORTAL),
    Role.COMPANY_ADMIN: frozenset(_PORTAL | {FILES_UPLOAD, COMPANY_MEMBERS_MANAGE}),
}

# Granting a role means holding every capability it carries. A portal capability counts as
# held by someone who holds the staff capability that covers it: a salesperson who records a
# customer's acceptance (quotes:send) may invite that customer; someone who manages every
# member (members:manage) may appoint a company administrator.
GRANT_COVERED_BY: dict[str, str] = {
    QUOTES_RESPOND: QUOTES_SEND,
    COMPANY_MEMBERS_MANAGE: MEMBERS_MANAGE,
}


def capabilities_for(membership) -> frozenset[str]:
    """The one decision: what a membership may do. No membership -> nothing."""
    if membership is None or not getattr(membership, "is_active", False):
        return frozenset()
    return ROLE_CAPABILITIES.get(membership.role, frozenset())


def has_capability(membership, capability: str) -> bool:
    return capability in capabilities_for(membership)


def require(membership, capability: str) -> None:
    """Services call this again so a task or command cannot bypass the view's check."""
    if capability not in ALL_CAPABILITIES:
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
