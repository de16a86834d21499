"""Member management: invitations, role changes, removal, ownership transfer.

Invariant: every function takes keyword-only arguments including ``tenant`` and ``actor``
(the acting Membership, or the request for accepting an invitation), runs in one
transaction, checks the actor's capability again with :func:`kernel.capabilities.require` (so
a task or command cannot skip the page's check), enforces the rules below, records its
audit event in the same transaction with ``changes`` as ``{field: [before, after]}``, and
sends email only after commit.

Rules:
- a member grants only a role whose capabilities they hold themselves
  (:func:`kernel.capabilities.can_grant_role`), and changes or removes only members whose
  current role is within their own in the same sense;
- nobody changes their own role or removes themselves;
- the Owner role is handed over only by :func:`ownership_transfer` (owners only, confirmed
  on its page); the last owner can be neither removed nor demoted;
- a company administrator invites and removes only customer-role people of their own company;
- removing a member or changing their role ends their sessions in this workspace at once.

Where each lives: ``invitations`` (issue, withdraw, check, accept), ``members`` (who may
manage whom, role change, removal), ``ownership`` (the transfer), ``company_people`` (the
customer company a customer role is bound to) and ``_common`` (authorisation, grantable
roles, locking, the audit record). Callers import from this package, whose names are the
public API; a test that replaces one replaces it here (``rbac.services.<name>``).
"""

from __future__ import annotations

from ._common import (
    OWNER_ONLY_BY_TRANSFER,
    ROLE_NOT_GRANTABLE,
    ROLE_UNKNOWN,
    roles_grantable_by,
)
from .company_people import (
    COMPANY_ONLY_FOR_CUSTOMERS,
    COMPANY_REQUIRED,
    COMPANY_UNKNOWN,
    CUSTOMER_ROLES_ONLY,
    OWN_COMPANY_ONLY,
)
from .invitations import (
    ALREADY_MEMBER,
    EMAIL_INVALID,
    INVITATION_ACCEPT,
    INVITATION_ALREADY_MEMBER,
    INVITATION_DAYS,
    INVITATION_EXPIRED,
    INVITATION_INVALID,
    INVITATION_LOCKED,
    INVITATION_NAME_REQUIRED,
    INVITATION_NOT_OPEN,
    INVITATION_REVOKED,
    INVITATION_USED,
    INVITATION_WRONG_PASSWORD,
    MAX_ACCEPT_ATTEMPTS,
    WORKSPACE_NOT_ACTIVE,
    AcceptedInvitation,
    InvitationUnusable,
    IssuedInvitation,
    invitation_accept,
    invitation_check,
    invitation_revoke,
    invitation_url_path,
    membership_invite,
)
from .members import (
    CANNOT_CHANGE_OWN_ROLE,
    CANNOT_REMOVE_YOURSELF,
    LAST_OWNER,
    MEMBER_OUTRANKS_YOU,
    _ensure_not_last_owner,
    membership_change_role,
    membership_manage_refusal,
    membership_manageable_by,
    membership_remove,
)
from .ownership import (
    SESSIONS_END_OWNERSHIP,
    TRANSFER_TARGET_INVALID,
    ownership_transfer,
    ownership_transfer_candidates,
)

__all__ = [
    "ALREADY_MEMBER",
    "CANNOT_CHANGE_OWN_ROLE",
    "CANNOT_REMOVE_YOURSELF",
    "COMPANY_ONLY_FOR_CUSTOMERS",
    "COMPANY_REQUIRED",
    "COMPANY_UNKNOWN",
    "CUSTOMER_ROLES_ONLY",
    "EMAIL_INVALID",
    "INVITATION_ACCEPT",
    "INVITATION_ALREADY_MEMBER",
    "INVITATION_DAYS",
    "INVITATION_EXPIRED",
    "INVITATION_INVALID",
    "INVITATION_LOCKED",
    "INVITATION_NAME_REQUIRED",
    "INVITATION_NOT_OPEN",
    "INVITATION_REVOKED",
    "INVITATION_USED",
    "INVITATION_WRONG_PASSWORD",
    "LAST_OWNER",
    "MAX_ACCEPT_ATTEMPTS",
    "MEMBER_OUTRANKS_YOU",
    "OWNER_ONLY_BY_TRANSFER",
    "OWN_COMPANY_ONLY",
    "ROLE_NOT_GRANTABLE",
    "ROLE_UNKNOWN",
    "SESSIONS_END_OWNERSHIP",
    "TRANSFER_TARGET_INVALID",
    "WORKSPACE_NOT_ACTIVE",
    "AcceptedInvitation",
    "InvitationUnusable",
    "IssuedInvitation",
    "_ensure_not_last_owner",  # rbac/tests/test_services.py calls it directly
    "invitation_accept",
    "invitation_check",
    "invitation_revoke",
    "invitation_url_path",
    "membership_change_role",
    "membership_invite",
    "membership_manage_refusal",
    "membership_manageable_by",
    "membership_remove",
    "ownership_transfer",
    "ownership_transfer_candidates",
    "roles_grantable_by",
]
