"""Support access writes: grants, the off switch, impersonation sessions and their hand-off.

Actors: grants and the switch are made by a workspace member holding ``support:grant``
(checked again here); sessions are started by a platform support agent with 2FA. Every change
records its audit event in the same transaction; emails to owners go out after commit.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import session_sign_in
from accounts.twofactor.selectors import user_has_2fa
from audit.events import Event
from audit.services import PLATFORM_STREAM, audit_event_record, audit_event_record_both
from kernel.capabilities import SUPPORT_GRANT, require
from kernel.context import ActorKind, audit_context
from kernel.email import email_send_on_commit
from kernel.roles import Role
from kernel.text import text_fields_check
from rbac.models import Membership
from tenants.models import Tenant

from .models import (
    ImpersonationHandoff,
    ImpersonationSession,
    SupportAccessGrant,
    SupportAccessPolicy,
)

GRANT_HOURS_MIN = 1
GRANT_HOURS_MAX = 7 * 24
SESSION_ABSOLUTE = timedelta(minutes=60)
SESSION_IDLE = timedelta(minutes=15)
HANDOFF_SECONDS = 60

GRANT_HOURS_INVALID = "Choose a window between 1 hour and 7 days."
ACCESS_DISABLED = "Support access is switched off for this workspace."
NO_LIVE_GRANT = "This workspace has not granted support access right now."
WRITE_NOT_GRANTED = "This workspace granted read-only access only."
REASON_REQUIRED = "Give a reason and a ticket reference."
NOT_AN_AGENT = "Only platform support agents with two-factor authentication may do this."
SESSION_ALREADY_LIVE = "End your current impersonation session before starting another."
MEMBER_NOT_ALLOWED = "Choose an active member of this workspace who is not platform staff."
WORKSPACE_CLOSED = "This workspace is closed. Restore it before starting a support session."
HANDOFF_INVALID = "This support link is invalid or has expired. Start again from the console."


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _owner_emails(tenant: Tenant) -> list[str]:
    return list(
        Membership.objects.filter(tenant=tenant, role=Role.OWNER, is_active=True)
        .values_list("user__email", flat=True)
        .order_by("user__email")
    )


def _notify_owners(*, tenant: Tenant, subject: str, body: str) -> None:
    recipients = _owner_emails(tenant)
    if recipients:
        email_send_on_commit(to=recipients, subject=f"[{tenant.name}] {subject}", body=body)


def _grant_data(grant: SupportAccessGrant) -> dict:
    return {
        "grant_id": grant.pk,
        "starts_at": grant.starts_at.isoformat(),
        "ends_at": grant.ends_at.isoformat(),
        "allow_write": grant.allow_write,
        "ticket_ref": grant.ticket_ref,
    }


# --- The workspace side: the switch and grants


def support_access_disabled(tenant: Tenant) -> bool:
    return SupportAccessPolicy.objects.filter(tenant=tenant, disabled=True).exists()


def support_access_set(*, tenant: Tenant, actor: Membership, enabled: bool) -> None:
    """Switch support access on or off; switching off revokes live grants (ending sessions)."""
    require(actor, SUPPORT_GRANT)
    now = timezone.now()
    with transaction.atomic():
        policy, _created = SupportAccessPolicy.objects.select_for_update().get_or_create(
            tenant=tenant
        )
        if policy.disabled == (not enabled):
            return
        policy.disabled = not enabled
        policy.changed_at = now
        policy.save(update_fields=["disabled", "changed_at"])
        if not enabled:
            for grant in SupportAccessGrant.objects.filter(
                tenant=tenant, revoked_at__isnull=True, ends_at__gt=now
            ):
                _grant_revoke(grant=grant, actor=actor, now=now)
        audit_event_record(
            event_type=Event.SUPPORT_ACCESS_ENABLED if enabled else Event.SUPPORT_ACCESS_DISABLED,
            stream=tenant,
            target=tenant,
        )
        state = "switched on" if enabled else "switched off"
        _notify_owners(
            tenant=tenant,
            subject=f"Support access {state}",
            body=f"{actor.user} {state} platform support access to {tenant.name}.",
        )


def grant_create(
    *, tenant: Tenant, actor: Membership, hours: int, allow_write: bool, ticket_ref: str = ""
) -> SupportAccessGrant:
    require(actor, SUPPORT_GRANT)
    if not GRANT_HOURS_MIN <= hours <= GRANT_HOURS_MAX:
        raise ValidationError(GRANT_HOURS_INVALID)
    if support_access_disabled(tenant):
        raise ValidationError(ACCESS_DISABLED)
    now = timezone.now()
    grant = SupportAccessGrant(
        tenant=tenant,
        granted_by=actor.user,
        starts_at=now,
        ends_at=now + timedelta(hours=hours),
        allow_write=allow_write,
        ticket_ref=ticket_ref.strip(),
    )
    text_fields_check(grant)  # a reference longer than its column is refused, not cut
    with transaction.atomic():
        grant.save()
        audit_event_record(
            event_type=Event.SUPPORT_ACCESS_GRANTED,
            stream=tenant,
            target=grant,
            data=_grant_data(grant),
        )
        mode = "read and write" if allow_write else "read-only"
        _notify_owners(
            tenant=tenant,
            subject="Support access granted",
            body=(
                f"{actor.user} granted platform support {mode} access to {tenant.name} until "
                f"{grant.ends_at:%Y-%m-%d %H:%M} UTC"
                + (f" (ticket {grant.ticket_ref})" if grant.ticket_ref else "")
                + ". You can revoke it at any time from the workspace's support settings."
            ),
        )
    return grant


def _grant_revoke(*, grant: SupportAccessGrant, actor: Membership, now: datetime) -> None:
    grant.revoked_at = now
    grant.revoked_by = actor.user
    grant.save(update_fields=["revoked_at", "revoked_by"])
    audit_event_record(
        event_type=Event.SUPPORT_ACCESS_REVOKED,
        stream=grant.tenant,
        target=grant,
        data=_grant_data(grant),
    )
    _notify_owners(
        tenant=grant.tenant,
        subject="Support access revoked",
        body=f"{actor.user} revoked platform support access to {grant.tenant.name}.",
    )


def grant_revoke(*, tenant: Tenant, actor: Membership, grant_id: int) -> SupportAccessGrant:
    """Revoke a grant; a live session under it ends at the agent's next request."""
    require(actor, SUPPORT_GRANT)
    with transaction.atomic():
        grant = (
            SupportAccessGrant.objects.select_for_update()
            .filter(pk=grant_id, tenant=tenant, revoked_at__isnull=True)
            .first()
        )
        if grant is None:
            from django.http import Http404

            raise Http404("no such grant")
        _grant_revoke(grant=grant, actor=actor, now=timezone.now())
    return grant


def grants_expire(*, now: datetime | None = None) -> int:
    """Audit and email each grant that ran out by itself, once. Returns how many."""
    now = now or timezone.now()
    done = 0
    for grant_id in SupportAccessGrant.objects.filter(
        ends_at__lte=now, revoked_at__isnull=True, expiry_recorded_at__isnull=True
    ).values_list("pk", flat=True):
        with transaction.atomic():
            grant = (
                SupportAccessGrant.objects.select_for_update()
                .select_related("tenant")
                .filter(pk=grant_id, expiry_recorded_at__isnull=True)
                .first()
            )
            if grant is None:
                continue
            grant.expiry_recorded_at = now
            grant.save(update_fields=["expiry_recorded_at"])
            audit_event_record(
                event_type=Event.SUPPORT_ACCESS_EXPIRED,
                stream=grant.tenant,
                target=grant,
                actor=None,
                actor_kind=ActorKind.SYSTEM,
                data=_grant_data(grant),
            )
            _notify_owners(
                tenant=grant.tenant,
                subject="Support access expired",
                body=f"Platform support access to {grant.tenant.name} has expired.",
            )
            done += 1
    return done


def grant_live(tenant: Tenant, now: datetime | None = None) -> SupportAccessGrant | None:
    now = now or timezone.now()
    if support_access_disabled(tenant):
        return None
    return (
        SupportAccessGrant.objects.filter(SupportAccessGrant.live_q(now), tenant=tenant)
        .order_by("-allow_write", "-ends_at")
        .first()
    )


# --- The platform side: impersonation sessions


def agent_is_verified(user) -> bool:
    """A support agent with a confirmed second factor (the console also asks for a code)."""
    return bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "is_support_agent", False)
        and user.is_active
        and user_has_2fa(user)
    )


def _session_data(session: ImpersonationSession) -> dict:
    return {
        "session_id": session.pk,
        "grant_id": session.grant_id,
        "reason": session.reason,
        "ticket_ref": session.ticket_ref,
        "write": session.write,
        "acting_as_membership_id": session.acting_as_id,
        "acting_as_user_id": session.acting_as.user_id,
        "tenant": session.tenant.slug,
    }


def impersonation_audit_fields(session: ImpersonationSession) -> dict:
    """Who every audit event of a support session names: the agent (kind "support agent"),
    acting on behalf of the impersonated member. The gate binds these around each request
    of the session (support.gate); the services below bind them around the session's own
    events, which are also written outside such a request: at the console, and when the
    gate finds the session over. The actor is given, not read from ``request.user``, so the
    request that ends the session and signs the agent out is still the agent's."""
    return {
        "actor": session.agent,
        "actor_kind": ActorKind.SUPPORT_AGENT,
        "on_behalf_of": session.acting_as.user,
    }


def impersonation_start(
    *, agent: User, tenant: Tenant, acting_as_id: int, reason: str, ticket_ref: str, write: bool
) -> tuple[ImpersonationSession, str]:
    """Start a session and return it with its single-use hand-off token."""
    if not agent_is_verified(agent):
        raise PermissionDenied(NOT_AN_AGENT)
    reason, ticket_ref = reason.strip(), ticket_ref.strip()
    if not reason or not ticket_ref:
        raise ValidationError(REASON_REQUIRED)
    if tenant.state in (Tenant.State.ARCHIVED, Tenant.State.PURGING):
        # The gate answers 404 to everyone on a closed workspace's host.
        raise ValidationError(WORKSPACE_CLOSED)
    now = timezone.now()
    with transaction.atomic():
        # Nesting: one live session per agent, anywhere.
        for live in ImpersonationSession.objects.select_for_update().filter(
            agent=agent, ended_at__isnull=True
        ):
            if impersonation_end_reason(live, now) is None:
                raise ValidationError(SESSION_ALREADY_LIVE)
        grant = grant_live(tenant, now)
        if grant is None:
            raise ValidationError(
                ACCESS_DISABLED if support_access_disabled(tenant) else NO_LIVE_GRANT
            )
        if write and not grant.allow_write:
            raise ValidationError(WRITE_NOT_GRANTED)
        membership = (
            Membership.objects.select_related("user")
            .filter(pk=acting_as_id, tenant=tenant, is_active=True, user__is_active=True)
            .exclude(user__is_support_agent=True)
            .first()
        )
        if membership is None or membership.user_id == agent.pk:
            raise ValidationError(MEMBER_NOT_ALLOWED)
        session = ImpersonationSession(
            agent=agent,
            tenant=tenant,
            acting_as=membership,
            grant=grant,
            reason=reason,
            ticket_ref=ticket_ref,
            write=write,
            started_at=now,
            last_seen_at=now,
        )
        text_fields_check(session)  # the reason is the record of why: refused, never cut
        session.save()
        with audit_context(**impersonation_audit_fields(session)):
            audit_event_record_both(
                workspace=tenant,
                event_type=Event.IMPERSONATION_STARTED,
                target=membership.user,
                data=_session_data(session),
            )
        token = secrets.token_urlsafe(32)
        ImpersonationHandoff.objects.create(
            token_digest=_digest(token),
            session=session,
            expires_at=now + timedelta(seconds=HANDOFF_SECONDS),
        )
    return session, token


def impersonation_handoff_redeem(*, request, token: str) -> ImpersonationSession:
    """On the workspace host: spend the token and sign the agent in there, marked as
    impersonating. The agent's console session (another host, another cookie) is untouched."""
    from .gate import SESSION_IMPERSONATION_KEY

    now = timezone.now()
    with transaction.atomic():
        handoff = (
            ImpersonationHandoff.objects.select_for_update()
            .select_related("session__agent", "session__tenant", "session__acting_as__user")
            .filter(token_digest=_digest(token), session__tenant=request.tenant)
            .first()
        )
        if (
            handoff is None
            or handoff.used_at is not None
            or handoff.expires_at <= now
            or impersonation_end_reason(handoff.session, now) is not None
            or not agent_is_verified_for_handoff(handoff.session.agent)
        ):
            raise ValidationError(HANDOFF_INVALID)
        handoff.used_at = now
        handoff.save(update_fields=["used_at"])
        session = handoff.session
        session_sign_in(request=request, user=session.agent)
        request.session[SESSION_IMPERSONATION_KEY] = session.pk
    return session


def agent_is_verified_for_handoff(agent: User) -> bool:
    return agent.is_active and agent.is_support_agent and user_has_2fa(agent)


def impersonation_end_reason(session: ImpersonationSession, now: datetime) -> str | None:
    """Why ``session`` is over, or None while it is live."""
    reasons = ImpersonationSession.EndReason
    if session.ended_at is not None:
        return session.end_reason or reasons.AGENT
    if now - session.started_at >= SESSION_ABSOLUTE:
        return reasons.ABSOLUTE
    if now - session.last_seen_at >= SESSION_IDLE:
        return reasons.IDLE
    grant = SupportAccessGrant.objects.get(pk=session.grant_id)
    if not grant.is_live(now):
        return reasons.GRANT_ENDED
    if support_access_disabled(session.tenant):
        return reasons.ACCESS_DISABLED
    if not Membership.objects.filter(pk=session.acting_as_id, is_active=True).exists():
        return reasons.MEMBER_GONE
    return None


def impersonation_ends_at(session: ImpersonationSession) -> datetime:
    """The latest moment the session can last (absolute limit or the grant's end)."""
    return min(session.started_at + SESSION_ABSOLUTE, session.grant.ends_at)


def impersonation_end(*, session: ImpersonationSession, reason: str) -> bool:
    """End a session once; audited in the workspace and platform streams as the agent's, on
    behalf of the member, whoever's request finds it over. True if it ended now."""
    now = timezone.now()
    with transaction.atomic():
        locked = ImpersonationSession.objects.select_for_update().get(pk=session.pk)
        if locked.ended_at is not None:
            return False
        locked.ended_at = now
        locked.end_reason = reason
        locked.save(update_fields=["ended_at", "end_reason"])
        session.ended_at, session.end_reason = locked.ended_at, locked.end_reason
        with audit_context(**impersonation_audit_fields(locked)):
            audit_event_record_both(
                workspace=locked.tenant,
                event_type=Event.IMPERSONATION_ENDED,
                target=locked.acting_as.user,
                data={**_session_data(locked), "end_reason": reason},
            )
    return True


def impersonation_touch(session: ImpersonationSession) -> None:
    now = timezone.now()
    ImpersonationSession.objects.filter(pk=session.pk).update(last_seen_at=now)
    session.last_seen_at = now


# --- Platform staff


def support_agent_create(*, email: str, full_name: str, password: str) -> User:
    """Create (or promote) a platform support agent. Only the management command calls this."""
    email = email.strip().lower()
    with transaction.atomic():
        if Membership.objects.filter(user__email=email, is_active=True).exists():
            raise ValidationError("Platform staff cannot be workspace members; use another email.")
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=password, full_name=full_name)
        else:
            user.set_password(password)
        user.is_support_agent = True
        user.save()
        audit_event_record(
            event_type=Event.USER_SIGNED_UP,
            stream=PLATFORM_STREAM,
            actor=None,
            actor_kind=ActorKind.SYSTEM,
            target=user,
            data={"support_agent": True},
        )
    return user
