"""What the workspace gate (workspace.middleware) does for an impersonation session.

Invariant: on a workspace host, a session whose ``SESSION_IMPERSONATION_KEY`` is set is an
agent's impersonation session. It is honoured only while that ImpersonationSession is live;
the request then runs as the impersonated member's membership (minus every forbidden
capability), read-only unless the session is a write session, with the audit context's actor
the agent (kind "support agent") and on-behalf-of the member; one audit event is written per
request. A support agent without such a session is refused on every workspace host.

What a session may do is one set, :func:`impersonation_capabilities`: the gate refuses every
view whose capability is outside it, and templates read the same set as ``caps``. A read-only
session therefore holds only read capabilities, and shows no button that leads to a write.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.sessions import session_track_forget
from audit.events import Event
from audit.models import Outcome
from audit.services import audit_event_record
from kernel import capabilities as caps
from kernel.logging import note_refusal
from rbac.models import Membership

from .models import ImpersonationSession
from .services import (
    impersonation_audit_fields,
    impersonation_end,
    impersonation_end_reason,
    impersonation_touch,
)

SESSION_IMPERSONATION_KEY = "support_impersonation_id"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Never allowed while impersonating, whatever the grant: passwords, 2FA and sessions
# (profile:manage, settings:security), roles and members, billing, exporting and deleting
# data, and granting support access.
FORBIDDEN_CAPABILITIES: frozenset[str] = frozenset(
    {
        caps.PROFILE_MANAGE,
        caps.SETTINGS_SECURITY,
        caps.MEMBERS_INVITE,
        caps.MEMBERS_MANAGE,
        caps.COMPANY_MEMBERS_MANAGE,
        caps.OWNERSHIP_TRANSFER,
        caps.BILLING_MANAGE,
        caps.EXPORTS_RUN,
        caps.AUDIT_EXPORT,
        caps.REQUESTS_EXPORT,
        caps.WORKSPACE_DELETE,
        caps.SUPPORT_GRANT,
        caps.COMPANIES_DELETE,
        caps.QUOTES_DELETE,
        caps.ORDERS_DELETE,
        caps.INVOICES_DELETE,
        caps.FILES_DELETE,
    }
)
# The same, by URL name, for pages whose capability might one day be widened.
FORBIDDEN_URL_NAMES: frozenset[str] = frozenset(
    {
        "accounts:password-change",
        "accounts:security",
        "accounts:session-revoke",
        "accounts:sign-out-everywhere",
        "accounts:two-factor",
        "accounts:two-factor-setup",
        "accounts:two-factor-recovery-codes",
        "accounts:two-factor-disable",
    }
)

# What a read-only session can use: the read capabilities (kernel.capabilities), whose views
# only show things. Every other capability's views are forms or actions, which a read-only
# session cannot submit, so their GET pages are refused too and their buttons hidden
# (support/tests/test_read_only_session.py sweeps every tenant URL to keep this true).
READ_CAPABILITIES = caps.READ_CAPABILITIES


def impersonation_capabilities(
    impersonation: ImpersonationSession, membership: Membership | None
) -> frozenset[str]:
    """The one answer to "what may this session do": the impersonated member's capabilities
    minus the forbidden ones, and only the read ones unless it is a write session. The gate
    enforces it and the ``caps`` templates read is it."""
    allowed = caps.capabilities_for(membership) - FORBIDDEN_CAPABILITIES
    if not impersonation.write:
        allowed &= READ_CAPABILITIES
    return allowed


IMPERSONATION_FORBIDDEN = "Not allowed while impersonating a member."
IMPERSONATION_READ_ONLY = "This support session is read-only."
SESSION_ENDED = "The support session has ended."


def impersonation_load(request) -> ImpersonationSession | None:
    """For a signed-in request on a workspace host: the live session, or None. A session
    that is over is ended (audited) and the cookie signed out."""
    session_id = request.session.get(SESSION_IMPERSONATION_KEY)
    if session_id is None:
        return None
    session = (
        ImpersonationSession.objects.select_related("acting_as__user", "agent", "grant", "tenant")
        .filter(pk=session_id, agent_id=request.user.pk, tenant=request.tenant)
        .first()
    )
    reason = impersonation_end_reason(session, timezone.now()) if session is not None else None
    if session is None or reason is not None:
        if session is not None and reason is not None:
            impersonation_end(session=session, reason=reason)
        session_track_forget(session_key=request.session.session_key)
        logout(request)
        messages.warning(request, SESSION_ENDED)
        return None
    impersonation_touch(session)
    return session


def impersonation_check_view(request, view_func, capability: str) -> None:
    """Refuse what no impersonation may do, and in a read-only session every write and every
    page of a capability it does not hold (a form it could not submit)."""
    session: ImpersonationSession = request.impersonation
    url_name = getattr(request.resolver_match, "view_name", "") or ""
    allowed_anyway = getattr(view_func, "allowed_during_impersonation", False)
    if not allowed_anyway and (
        capability == caps.PUBLIC
        or capability in FORBIDDEN_CAPABILITIES
        or url_name in FORBIDDEN_URL_NAMES
    ):
        _refused(request, url_name, "forbidden")
        raise PermissionDenied(IMPERSONATION_FORBIDDEN)
    if (
        not session.write
        and not allowed_anyway
        and (request.method not in _SAFE_METHODS or capability not in READ_CAPABILITIES)
    ):
        _refused(request, url_name, "read_only")
        raise PermissionDenied(IMPERSONATION_READ_ONLY)


def _refused(request, url_name: str, why: str) -> None:
    note_refusal(request, f"impersonation {request.impersonation.pk} refused {why} {url_name}")
    with transaction.atomic():
        audit_event_record(
            event_type=Event.IMPERSONATION_REFUSED,
            outcome=Outcome.FAILURE,
            stream=request.tenant,
            data={"why": why, "url_name": url_name, "method": request.method},
        )


def impersonation_context(session: ImpersonationSession) -> dict:
    """Audit-context fields for every event written during the session's requests, the
    request that ends it (and signs the agent out) included."""
    return impersonation_audit_fields(session)


def impersonation_request_record(request, response) -> None:
    session: ImpersonationSession = request.impersonation
    match = getattr(request, "resolver_match", None)
    with transaction.atomic():
        audit_event_record(
            event_type=Event.IMPERSONATION_REQUEST,
            stream=request.tenant,
            outcome=Outcome.SUCCESS if response.status_code < 400 else Outcome.FAILURE,
            data={
                "session_id": session.pk,
                "method": request.method,
                "path": request.path[:300],
                "url_name": getattr(match, "view_name", "") if match else "",
                "status": response.status_code,
                "write": session.write,
            },
        )
