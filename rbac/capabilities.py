"""The whole capability vocabulary and the role -> capability map.

Invariant: nothing else in the code base invents a capability string. Views declare one of
these constants; the gate decides with :func:`capabilities_for`; templates read the same set
(``caps``) from the context processor; sensitive services call :func:`require` again.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from .roles import Role

# A view anyone may open on a workspace host, signed in or not (sign-in, password reset).
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

_READ_BUSINESS = {COMPANIES_VIEW, QUOTES_VIEW, ORDERS_VIEW, INVOICES_VIEW, FILES_VIEW}
_BASE = {WORKSPACE_VIEW, PROFILE_MANAGE}

_OWNER = set(ALL_CAPABILITIES) - {QUOTES_RESPOND, COMPANY_MEMBERS_MANAGE}
_ADMIN = _OWNER - {WORKSPACE_DELETE, OWNERSHIP_TRANSFER, BILLING_MANAGE}

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(_OWNER),
    Role.ADMIN: frozenset(_ADMIN),
    Role.MANAGER: frozenset(
        _BASE
        | _READ_BUSINESS
        | {
            COMPANIES_CREATE, COMPANIES_EDIT,
            QUOTES_CREATE, QUOTES_EDIT, QUOTES_SEND,
            ORDERS_CREATE, ORDERS_EDIT,
            INVOICES_CREATE, INVOICES_EDIT,
            FILES_UPLOAD, FILES_DELETE,
            MEMBERS_VIEW, SETTINGS_ROLES_VIEW,
        }
    ),
    Role.SALES: frozenset(
        _BASE
        | {COMPANIES_VIEW, COMPANIES_CREATE, COMPANIES_EDIT}
        | {QUOTES_VIEW, QUOTES_CREATE, QUOTES_EDIT, QUOTES_SEND}
        | {ORDERS_VIEW, ORDERS_CREATE, FILES_VIEW, FILES_UPLOAD}
    ),
    Role.DESIGNER: frozenset(
        _BASE | {COMPANIES_VIEW, QUOTES_VIEW, ORDERS_VIEW, FILES_VIEW, FILES_UPLOAD, FILES_DELETE}
    ),
    # Installers see orders assigned to them (narrowed by the selectors) and their files.
    Role.INSTALLER: frozenset(_BASE | {ORDERS_VIEW, FILES_VIEW}),
    Role.ACCOUNTANT: frozenset(
        _BASE
        | {COMPANIES_VIEW, QUOTES_VIEW, ORDERS_VIEW}
        | {INVOICES_VIEW, INVOICES_CREATE, INVOICES_EDIT, INVOICES_VOID}
    ),
    Role.EMPLOYEE: frozenset(_BASE | {COMPANIES_VIEW, QUOTES_VIEW, ORDERS_VIEW, FILES_VIEW}),
    # Customer roles: the same pages, narrowed by the selectors to their own company.
    Role.CUSTOMER: frozenset(
        _BASE | {QUOTES_VIEW, QUOTES_RESPOND, ORDERS_VIEW, INVOICES_VIEW, FILES_VIEW}
    ),
    Role.COMPANY_ADMIN: frozenset(
        _BASE
        | {QUOTES_VIEW, QUOTES_RESPOND, ORDERS_VIEW, INVOICES_VIEW, FILES_VIEW}
        | {FILES_UPLOAD, COMPANY_MEMBERS_MANAGE}
    ),
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
