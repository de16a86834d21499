"""Account writes: sign-in, sign-out, hand-off between hosts, and ending sessions (one, all
of a user's, or all but the current one). Sign-up, which also creates a workspace and its
ownership, is composed on the top floor (workspace.signup) from ``handoff_create`` here.

Invariant: every function here takes keyword-only arguments and runs in one transaction;
emails and other side effects are scheduled with ``transaction.on_commit``. Each records its
audit events in that transaction (a failed sign-in records its failure event, committed, and
then raises the one generic error).
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.sessions import SESSION_WORKSPACE_KEY
from audit.events import Event
from audit.models import Outcome
from audit.services import audit_event_record
from kernel.context import ActorKind, client_ip
from tenants.models import Tenant
from tenants.rls import platform_view
from tenants.writability import OPEN_STATES

from . import memberships, sessions, throttle
from .models import SignInHandoff, User, UserSession

HANDOFF_SECONDS = 60
SIGN_IN_FAILED = "The email or password is incorrect."
HANDOFF_INVALID = "This sign-in link is invalid or has expired. Please sign in."

# "Find my workspaces": one list per address an hour, whoever asks and from wherever.
FIND_WORKSPACES_THROTTLED = (
    "Too many requests from your network. Please wait a while and try again."
)
FIND_WORKSPACES_ALREADY_ASKED = (
    "A list for this address was asked for less than an hour ago. If the address belongs to "
    "any workspaces, the email is on its way: please check your inbox and spam folder."
)
FIND_WORKSPACES = throttle.Limit(
    name="find_workspaces",
    rules=(
        throttle.Rate(throttle.Per.IP, 10, 60 * 60),
        throttle.Rate(throttle.Per.EMAIL, 1, 60 * 60, message=FIND_WORKSPACES_ALREADY_ASKED),
    ),
    message=FIND_WORKSPACES_THROTTLED,
    event=Event.REQUEST_THROTTLED,
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def handoff_create(*, user: User, tenant: Tenant) -> str:
    """Issue a single-use token that signs ``user`` in on ``tenant``'s host; returns the token."""
    token = secrets.token_urlsafe(32)
    SignInHandoff.objects.create(
        token_digest=_digest(token),
        user=user,
        tenant=tenant,
        expires_at=timezone.now() + timedelta(seconds=HANDOFF_SECONDS),
    )
    return token


def handoff_redeem(*, request, token: str) -> User:
    """Consume a hand-off token on the workspace host it was issued for and sign in."""
    with transaction.atomic():
        handoff = (
            SignInHandoff.objects.select_for_update()
            .select_related("user")
            .filter(token_digest=_digest(token), tenant=request.tenant)
            .first()
        )
        if (
            handoff is None
            or handoff.used_at is not None
            or handoff.expires_at <= timezone.now()
            or not handoff.user.is_active
        ):
            raise ValidationError(HANDOFF_INVALID)
        handoff.used_at = timezone.now()
        handoff.save(update_fields=["used_at"])
        from .twofactor import services as two_factor

        if two_factor.user_has_2fa(handoff.user):
            # An existing account that added a workspace proved only its password: the
            # second factor is still asked for (the view sends the visitor to that step).
            two_factor.pending_sign_in_start(request=request, user=handoff.user)
            return handoff.user
        session_sign_in(request=request, user=handoff.user)
        audit_event_record(
            event_type=Event.SIGN_IN_SUCCEEDED,
            actor=handoff.user,
            target=handoff.user,
            data={"method": "handoff"},
        )
    return handoff.user


def session_sign_in(*, request, user: User) -> None:
    """The one place a session starts: a new session key, bound to this workspace's host,
    expiring with the workspace's absolute timeout, and tracked (``UserSession``) so the gate
    can enforce timeouts and the member can see and revoke it."""
    previous_key = request.session.session_key
    user.backend = settings.AUTHENTICATION_BACKENDS[0]
    login(request, user)
    # login() keeps the key when the same user signs in again; a sign-in always gets a new one.
    request.session.cycle_key()
    request.session[SESSION_WORKSPACE_KEY] = request.tenant.schema_name
    _idle, absolute = sessions.session_limits(request.tenant)
    request.session.set_expiry(
        int(absolute.total_seconds()) + sessions.SESSION_COOKIE_GRACE_SECONDS
    )
    sessions.session_track_forget(session_key=previous_key)
    sessions.session_track_start(request=request, user=user, tenant=request.tenant)


def password_sign_in(*, request, email: str, password: str) -> User:
    """Check credentials and membership of the current workspace; same error for every failure.

    authenticate() runs the password hasher even for unknown emails, so timing does not tell
    whether an account exists. Raises ``throttle.Throttled`` (before any hashing) when this
    email or address must wait or the account is locked.

    A user with two-factor authentication is not signed in here: the session only remembers,
    for five minutes, who is half signed in (``twofactor.services.pending_sign_in_start``),
    and the failure count is reset only once the second factor passes.
    """
    from .twofactor import services as two_factor

    email = email.strip().lower()
    ip = client_ip(request)
    two_factor.pending_sign_in_clear(request)
    throttle.sign_in_attempt_check(email=email, ip=ip)
    user = authenticate(request, username=email, password=password)
    tenant = request.tenant
    if user is None or (not tenant.is_public and not memberships.is_active_member(user, tenant)):
        # A right password without membership counts too: otherwise the missing delay would
        # tell a guesser the password was right.
        _sign_in_failure_audit(tenant=tenant, email=email)
        throttle.sign_in_failure_record(email=email, ip=ip, factor=throttle.Factor.PASSWORD)
        raise ValidationError(SIGN_IN_FAILED)
    if two_factor.user_has_2fa(user):
        two_factor.pending_sign_in_start(request=request, user=user)
        return user
    with transaction.atomic():
        throttle.sign_in_success_record(email=email, ip=ip)
        session_sign_in(request=request, user=user)
        audit_event_record(
            event_type=Event.SIGN_IN_SUCCEEDED,
            actor=user,
            target=user,
            data={"method": "password"},
        )
    return user


def _sign_in_failure_audit(*, tenant: Tenant, email: str) -> None:
    """Record a failed sign-in in the stream of the host it was tried on.

    The event never says why it failed: an owner reading it must not learn whether some email
    has an account elsewhere on the platform. It names the target only when the email belongs
    to a member of this workspace, which the owner knows anyway. The same query runs on every
    failure, so its timing tells the visitor nothing either.
    """
    member = None if tenant.is_public else memberships.member_by_email(email, tenant)
    with transaction.atomic():
        audit_event_record(
            event_type=Event.SIGN_IN_FAILED,
            outcome=Outcome.FAILURE,
            actor=None,
            actor_kind=ActorKind.ANONYMOUS,
            target=member,
            data={"email": email[:254]},
        )


def session_sign_out(*, request) -> None:
    """Record the sign-out (naming who leaves) and end the session."""
    with transaction.atomic():
        if request.user.is_authenticated:
            audit_event_record(event_type=Event.SIGNED_OUT, target=request.user)
        sessions.session_track_forget(session_key=request.session.session_key)
        logout(request)


def workspaces_for_email(*, email: str) -> list[Tenant]:
    workspaces = memberships.workspaces_of_email(email.strip().lower())
    return list(workspaces.filter(state__in=OPEN_STATES).order_by("name"))


def workspace_list_request(*, email: str, ip: str) -> None:
    """ "Find my workspaces": email ``email`` the list of its open workspaces, if it has any.

    Counted per address and per email typed, the same whether or not the email has an
    account (raises ``throttle.Throttled``), so an address gets at most one list an hour
    whoever asks; the caller shows one message either way.
    """
    from .tasks import send_workspace_list_email

    email = throttle.email_normalise(email)
    throttle.limit(FIND_WORKSPACES, ip=ip, email=email)
    workspaces = workspaces_for_email(email=email)
    if workspaces:
        ids = [tenant.pk for tenant in workspaces]
        transaction.on_commit(
            lambda: send_workspace_list_email.delay(email=email, workspace_ids=ids)
        )


# --- Ending sessions. Revoking is deleting the tracking row: the gate signs the cookie out on
# its next request (see accounts.sessions).


class SessionEndReason:
    """Why sessions were ended (the ``reason`` in the audit data). Callers may pass their own
    short snake_case string when none of these fits."""

    # Reason names, not secrets (S105 sees "password" in the names).
    PASSWORD_CHANGED = "password_changed"  # noqa: S105
    PASSWORD_RESET = "password_reset"  # noqa: S105
    TEMPORARY_PASSWORD_SET = "temporary_password_set"  # noqa: S105
    SIGNED_OUT_EVERYWHERE = "signed_out_everywhere"
    MEMBER_REMOVED = "member_removed"
    ROLE_CHANGED = "role_changed"


def user_sessions_end(
    *,
    user: User,
    tenant: Tenant | None = None,
    except_session_key: str | None = None,
    reason: str,
) -> int:
    """End ``user``'s sessions - in every workspace, or only ``tenant``'s - except the one whose
    Django session key is ``except_session_key`` (the caller's own, to stay signed in).

    Returns how many were ended. Each affected workspace's stream gets one SESSIONS_ENDED event
    (target: the user; data: reason and count); nothing is recorded when nothing was ended.
    Runs in the caller's transaction when there is one (so a rolled-back removal ends
    nothing). The ended cookies are refused by the gate from their next request on.
    """
    with transaction.atomic():
        # "Every workspace" spans workspaces, so the rows are read in the platform's view;
        # the filters below are the whole rule (row-level security: tenants/rls.py).
        with platform_view():
            rows = UserSession.objects.filter(user=user)
            if tenant is not None:
                rows = rows.filter(tenant=tenant)
            if except_session_key:
                rows = rows.exclude(key_digest=sessions.session_key_digest(except_session_key))
            ended = list(rows.select_for_update().values_list("pk", "tenant_id"))
            UserSession.objects.filter(pk__in=[pk for pk, _ in ended]).delete()
        per_workspace = Counter(tenant_id for _, tenant_id in ended)
        workspaces = Tenant.objects.in_bulk(list(per_workspace))
        for tenant_id, count in sorted(per_workspace.items()):
            audit_event_record(
                event_type=Event.SESSIONS_ENDED,
                stream=workspaces[tenant_id],
                target=user,
                data={"reason": reason, "count": count},
            )
    return len(ended)


def user_session_revoke(*, request, user_session: UserSession) -> None:
    """The member ends one of their own sessions in this workspace (``user_session`` comes
    from ``selectors.user_session_get``, which already narrowed it to them). Revoking the
    current session signs this request out too."""
    current = request.session.session_key
    is_current = bool(current) and (user_session.key_digest == sessions.session_key_digest(current))
    with transaction.atomic():
        audit_event_record(
            event_type=Event.SESSION_REVOKED,
            target=request.user,
            data={
                "device": sessions.device_label(user_session.user_agent),
                "ip": user_session.ip or "",
                "current": is_current,
            },
        )
        user_session.delete()
        if is_current:
            logout(request)


def user_sign_out_everywhere(*, request) -> int:
    """End every session of the signed-in user, in every workspace, this one included."""
    with transaction.atomic():
        count = user_sessions_end(user=request.user, reason=SessionEndReason.SIGNED_OUT_EVERYWHERE)
        logout(request)
    return count
