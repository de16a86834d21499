"""Password writes: change and reset by email. (An admin's temporary password for a member is
rbac.passwords: it is a rule about memberships.)

Invariant: every function takes keyword-only arguments, runs in one transaction, records its
audit events in it (the workspace stream of the host it happened on and, for changes to the
account itself, the platform stream), and sends email only after commit. A password change
of any kind ends the user's other sessions and spends outstanding reset links. A reset never
signs anyone in: afterwards the user signs in normally, second factor and all.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from audit.events import Event
from audit.services import PLATFORM_STREAM, audit_event_record
from kernel.context import ActorKind, client_ip

from . import memberships, sessions, throttle
from .models import PasswordResetToken, User
from .services import SessionEndReason, user_sessions_end

PASSWORD_RESET_SECONDS = 60 * 60
# Reset requests: per typed email and per client address, in any hour.
PASSWORD_RESET_PER_EMAIL = 3
PASSWORD_RESET_PER_IP = 10
PASSWORD_RESET_WINDOW_SECONDS = 60 * 60

# Messages users see (S105 sees "PASSWORD" in the names; these are not secrets).
CURRENT_PASSWORD_WRONG = "Your current password is not correct."  # noqa: S105
PASSWORD_RESET_LINK_INVALID = (
    "This password reset link is invalid, has already been used or has expired. "  # noqa: S105
    "Please ask for a new one."
)
PASSWORD_RESET_THROTTLED_MESSAGE = (
    "Too many password reset requests. Please wait a while and try again."  # noqa: S105
)
PASSWORD_RESET_CONFIRM_THROTTLED_MESSAGE = (
    "Too many attempts with this password reset link. Please wait a while and try again."  # noqa: S105
)

PASSWORD_RESET = throttle.Limit(
    name="password_reset",
    rules=(
        throttle.Rate(throttle.Per.EMAIL, PASSWORD_RESET_PER_EMAIL, PASSWORD_RESET_WINDOW_SECONDS),
        throttle.Rate(throttle.Per.IP, PASSWORD_RESET_PER_IP, PASSWORD_RESET_WINDOW_SECONDS),
    ),
    message=PASSWORD_RESET_THROTTLED_MESSAGE,
    event=Event.PASSWORD_RESET_THROTTLED,
)
# Choosing the new password: per address, and per link (the link also expires in an hour).
PASSWORD_RESET_CONFIRM = throttle.Limit(
    name="password_reset_confirm",
    rules=(
        throttle.Rate(throttle.Per.IP, 30, 60 * 60),
        throttle.Rate(throttle.Per.LINK, 10, 60 * 60),
    ),
    message=PASSWORD_RESET_CONFIRM_THROTTLED_MESSAGE,
    event=Event.REQUEST_THROTTLED,
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_validate(password: str, user: User, field: str) -> None:
    """AUTH_PASSWORD_VALIDATORS for ``password``, errors attached to form field ``field``."""
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({field: error.error_list}) from error


def _account_event(*, event_type: Event, user: User, data: dict | None = None) -> None:
    """An account-level event: platform stream always; this workspace's stream when the user
    is one of its members (the owner may see what happens to their members' accounts)."""
    audit_event_record(event_type=event_type, stream=PLATFORM_STREAM, target=user, data=data)
    if memberships.is_active_member_of_schema(user, connection.schema_name):
        audit_event_record(event_type=event_type, target=user, data=data)


def reset_links_spend(*, user: User, now) -> None:
    """Every outstanding reset link of ``user`` stops working (a password was set)."""
    PasswordResetToken.objects.filter(user=user, used_at__isnull=True).update(used_at=now)


def _workspace_id() -> int | None:
    from tenants.selectors import current_workspace_id

    return current_workspace_id()


def _password_changed_email(user: User) -> None:
    from .tasks import send_password_changed_email

    user_id, workspace_id = user.pk, _workspace_id()
    transaction.on_commit(
        lambda: send_password_changed_email.delay(user_id=user_id, workspace_id=workspace_id)
    )


# --- Change (signed in)


def password_change(*, request, current_password: str, new_password: str) -> None:
    """The signed-in user changes their password.

    Proves the current password under the same guessing defence as sign-in (raises
    ``throttle.Throttled``), validates the new one, gives this session a new key, ends every
    other session of the user, clears ``must_change_password``, and emails a notice.
    """
    user: User = request.user
    ip = client_ip(request)
    throttle.sign_in_attempt_check(email=user.email, ip=ip)
    if not user.check_password(current_password):
        throttle.sign_in_failure_record(email=user.email, ip=ip, factor=throttle.Factor.PASSWORD)
        raise ValidationError({"current_password": CURRENT_PASSWORD_WRONG})
    password_validate(new_password, user, "new_password")
    with transaction.atomic():
        throttle.sign_in_success_record(email=user.email, ip=ip)
        was_required = user.must_change_password
        user.set_password(new_password)
        user.must_change_password = False
        user.save(update_fields=["password", "must_change_password"])
        reset_links_spend(user=user, now=timezone.now())
        old_key = request.session.session_key
        update_session_auth_hash(request, user)  # new session key, still signed in
        sessions.session_track_rekey(old_key=old_key, new_key=request.session.session_key)
        user_sessions_end(
            user=user,
            except_session_key=request.session.session_key,
            reason=SessionEndReason.PASSWORD_CHANGED,
        )
        _account_event(
            event_type=Event.PASSWORD_CHANGED,
            user=user,
            data={"required": was_required},
        )
        _password_changed_email(user)


# --- Reset by email (anonymous, on a workspace host)


def password_reset_request(*, request, email: str) -> None:
    """Email a single-use reset link if ``email`` belongs to an active member of this workspace.

    Answers the same way either way (the caller shows one message); the only difference is a
    row and an email after commit. Rate-limited per email and per address, also the same way
    for unknown emails (raises ``throttle.Throttled``). Earlier unused links are spent.
    """
    from .tasks import send_password_reset_email

    email = throttle.email_normalise(email)
    tenant = request.tenant
    throttle.limit(PASSWORD_RESET, ip=client_ip(request), email=email)
    user = memberships.member_by_email(email, tenant, active_account=True)
    with transaction.atomic():
        audit_event_record(
            event_type=Event.PASSWORD_RESET_REQUESTED,
            actor=None,
            actor_kind=ActorKind.ANONYMOUS,
            target=user,
            data={"email": email[:254]},
        )
        if user is None:
            return
        now = timezone.now()
        reset_links_spend(user=user, now=now)
        token = secrets.token_urlsafe(32)
        PasswordResetToken.objects.create(
            token_digest=_digest(token),
            user=user,
            tenant=tenant,
            created_at=now,
            expires_at=now + timedelta(seconds=PASSWORD_RESET_SECONDS),
        )
        user_id, tenant_schema = user.pk, tenant.schema_name
        transaction.on_commit(
            lambda: send_password_reset_email.delay(
                tenant_schema=tenant_schema, user_id=user_id, token=token
            )
        )


def password_reset_token_get(*, tenant, token: str, lock: bool = False) -> PasswordResetToken:
    """The live reset link ``token`` names on ``tenant``'s host, or ValidationError with the one
    message for missing, used, expired, or no longer a member."""
    tokens = PasswordResetToken.objects.select_related("user")
    if lock:
        tokens = tokens.select_for_update()
    found = tokens.filter(token_digest=_digest(token or ""), tenant=tenant).first()
    if (
        found is None
        or found.used_at is not None
        or found.expires_at <= timezone.now()
        or not found.user.is_active
        or not memberships.is_active_member(found.user, tenant)
    ):
        raise ValidationError(PASSWORD_RESET_LINK_INVALID, code="invalid_link")
    return found


def password_reset_complete(*, request, token: str, new_password: str) -> User:
    """Spend the link and set the new password; unlocks the account, ends every session of the
    user (and signs this request out), emails a notice. Does not sign in."""
    with transaction.atomic():
        link = password_reset_token_get(tenant=request.tenant, token=token, lock=True)
        user = User.objects.select_for_update().get(pk=link.user_id)
        password_validate(new_password, user, "new_password")
        now = timezone.now()
        was_locked = user.locked_at is not None
        user.set_password(new_password)
        user.must_change_password = False
        user.save(update_fields=["password", "must_change_password"])
        reset_links_spend(user=user, now=now)
        throttle.sign_in_lock_clear(user=user)
        user_sessions_end(user=user, reason=SessionEndReason.PASSWORD_RESET)
        if request.user.is_authenticated:
            logout(request)
        _account_event(
            event_type=Event.PASSWORD_RESET_COMPLETED, user=user, data={"unlocked": was_locked}
        )
        _password_changed_email(user)
    return user
