"""Two-factor writes: enrollment, the second sign-in step, recovery codes and removal. The
workspace's "require 2FA for all members" switch is workspace.two_factor; what it means for a
session (``two_factor_enrollment_required``) is here.

Invariant: keyword-only arguments; one transaction per change with its audit events
(account events in the platform stream and in the stream of the workspace host they happened
on; workspace events in the workspace's stream and the platform's); emails after commit.
Every proof of identity (password, TOTP code, recovery code) first passes
``throttle.sign_in_attempt_check`` and counts its failures with ``sign_in_failure_record``,
the same guessing defence and lockout as the password. Failures are recorded (committed)
before the error is raised.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts import memberships, throttle
from accounts.models import User
from audit.events import Event
from audit.models import Outcome
from audit.services import PLATFORM_STREAM, audit_event_record
from kernel.context import ActorKind, client_ip

from . import crypto, recovery
from .models import EncryptedTOTPDevice, RecoveryCode
from .selectors import totp_device_confirmed, user_has_2fa

# The half-signed-in state between the password and the second factor.
PENDING_SESSION_KEY = "two_factor_pending"
PENDING_SECONDS = 5 * 60
PENDING_MAX_ATTEMPTS = 5
# A session this young counts as having just proved the password (enrolling needs no retype).
RECENT_SIGN_IN_SECONDS = 10 * 60
# An enrollment left unconfirmed this long gets a new seed when the page is opened again.
ENROLLMENT_SEED_SECONDS = 60 * 60

# Messages users see (S105 sees "PASSWORD" in some names; these are not secrets).
CODE_INVALID = "That code is not right. Enter the 6-digit code your authenticator app shows now."
RECOVERY_CODE_INVALID = "That recovery code is not valid. Each recovery code works only once."
PENDING_EXPIRED = "Your sign-in took too long or was interrupted. Please sign in again."
PENDING_TOO_MANY_ATTEMPTS = "Too many wrong codes. Please sign in again."
CURRENT_PASSWORD_WRONG = "Your current password is not correct."  # noqa: S105
ALREADY_ENABLED = "Two-factor authentication is already on for your account."
NOT_ENABLED = "Two-factor authentication is not on for your account."
SETUP_MISSING = "This setup has expired. Scan the new QR code and try again."


class Method:
    """How the second factor was proved (audit data, the sign-in step's choice)."""

    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"


def _workspace_member(user: User) -> bool:
    return memberships.is_active_member_of_schema(user, connection.schema_name)


def _account_event(
    *, event_type: Event, user: User, outcome: str = Outcome.SUCCESS, data: dict | None = None
) -> None:
    """Platform stream always; this workspace's stream when the user is a member here."""
    audit_event_record(
        event_type=event_type, stream=PLATFORM_STREAM, target=user, outcome=outcome, data=data
    )
    if _workspace_member(user):
        audit_event_record(event_type=event_type, target=user, outcome=outcome, data=data)


def _workspace_id() -> int | None:
    from tenants.selectors import current_workspace_id

    return current_workspace_id()


def _notice(user: User, notice: str) -> None:
    from .tasks import send_two_factor_notice

    user_id, workspace_id = user.pk, _workspace_id()
    transaction.on_commit(
        lambda: send_two_factor_notice.delay(
            user_id=user_id, workspace_id=workspace_id, notice=notice
        )
    )


# --- Recovery codes


def _recovery_codes_replace(user: User) -> list[str]:
    """A fresh set of codes for ``user``; every earlier code (used or not) stops working."""
    RecoveryCode.objects.filter(user=user).delete()
    codes = [recovery.recovery_code_generate() for _ in range(recovery.RECOVERY_CODE_COUNT)]
    now = timezone.now()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=recovery.recovery_code_hash(code), created_at=now)
        for code in codes
    )
    return codes


def _recovery_code_spend(user: User, typed: str) -> bool:
    """Mark the unused code matching ``typed`` as used; False when none matches.
    Runs in the caller's transaction (the rows are locked until it ends)."""
    normalised = recovery.recovery_code_normalise(typed)
    if normalised is None:
        return False
    candidates = list(
        RecoveryCode.objects.select_for_update().filter(user=user, used_at__isnull=True)
    )
    for candidate in candidates:
        if recovery.recovery_code_matches(normalised, candidate.code_hash):
            candidate.used_at = timezone.now()
            candidate.save(update_fields=["used_at"])
            return True
    return False


# --- Enrollment


def session_is_recent(request) -> bool:
    """Whether this session proved the password within RECENT_SIGN_IN_SECONDS."""
    tracked = getattr(request, "user_session", None)
    if tracked is None:
        return False
    return timezone.now() - tracked.created_at <= timedelta(seconds=RECENT_SIGN_IN_SECONDS)


@dataclass(frozen=True)
class Enrollment:
    """What the setup page shows: the QR code's URI and the same key for typing in."""

    device: EncryptedTOTPDevice
    provisioning_uri: str
    manual_key: str


def _seed_readable(device: EncryptedTOTPDevice) -> bool:
    try:
        _ = device.seed
    except crypto.SeedUnreadable:
        return False
    return True


def totp_enrollment_start(*, user: User) -> Enrollment:
    """The enrollment in progress (unconfirmed device) for ``user``, made if needed.

    Re-opening the page shows the same key for an hour, so an app that already scanned it
    keeps working; after that a new seed is made. Nothing counts until confirmed.
    """
    if user_has_2fa(user):
        raise ValidationError(ALREADY_ENABLED)
    with transaction.atomic():
        fresh_after = timezone.now() - timedelta(seconds=ENROLLMENT_SEED_SECONDS)
        device = (
            EncryptedTOTPDevice.objects.filter(
                user=user, confirmed=False, created_at__gt=fresh_after
            )
            .select_related("user")
            .order_by("-created_at")
            .first()
        )
        if device is not None and not _seed_readable(device):
            device = None  # encrypted with a key that is gone: start over
        if device is None:
            EncryptedTOTPDevice.objects.filter(user=user, confirmed=False).delete()
            device = EncryptedTOTPDevice.objects.create(
                user=user,
                name="Authenticator app",
                confirmed=False,
                encrypted_seed=crypto.seed_encrypt(crypto.seed_generate()),
            )
    return Enrollment(
        device=device,
        provisioning_uri=device.config_url,
        manual_key=crypto.seed_base32_grouped(device.bin_key),
    )


def totp_enrollment_confirm(
    *, request, code: str, current_password: str | None = None
) -> list[str]:
    """Confirm the enrollment with a code from the app; returns the new recovery codes
    (shown once). Needs the current password unless the session is recent; a wrong password
    counts against the sign-in guessing defence."""
    user: User = request.user
    ip = client_ip(request)
    if user_has_2fa(user):
        raise ValidationError(ALREADY_ENABLED)
    if not session_is_recent(request):
        throttle.sign_in_attempt_check(email=user.email, ip=ip)
        if not user.check_password(current_password or ""):
            throttle.sign_in_failure_record(
                email=user.email, ip=ip, factor=throttle.Factor.PASSWORD
            )
            _change_refused(user, "enable", "password")
            raise ValidationError({"current_password": CURRENT_PASSWORD_WRONG})
    device = (
        EncryptedTOTPDevice.objects.filter(user=user, confirmed=False)
        .order_by("-created_at")
        .first()
    )
    if device is None:
        raise ValidationError({"code": SETUP_MISSING})
    # The person typing already holds the seed: a typo here guesses nobody's secret, so it is
    # not counted against the sign-in defence.
    if not device.verify_token(code):
        raise ValidationError({"code": CODE_INVALID})
    with transaction.atomic():
        now = timezone.now()
        EncryptedTOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.confirmed_at = now
        device.save(update_fields=["confirmed", "confirmed_at"])
        codes = _recovery_codes_replace(user)
        _account_event(event_type=Event.TWO_FACTOR_ENABLED, user=user)
        _notice(user, "two_factor_enabled")
    return codes


# --- Changing 2FA while signed in: re-authentication with password and a code


def _change_refused(user: User, change: str, factor: str) -> None:
    with transaction.atomic():
        _account_event(
            event_type=Event.TWO_FACTOR_CHANGE_REFUSED,
            user=user,
            outcome=Outcome.FAILURE,
            data={"change": change, "factor": factor},
        )


def _reauthenticate(*, request, current_password: str, code: str, change: str) -> str:
    """Prove the password and a second factor (TOTP or a recovery code) again, under the
    sign-in guessing defence; returns the method used. Call it outside any transaction: each
    failure is recorded (committed) before the error is raised."""
    user: User = request.user
    ip = client_ip(request)
    throttle.sign_in_attempt_check(email=user.email, ip=ip)
    if not user.check_password(current_password or ""):
        throttle.sign_in_failure_record(email=user.email, ip=ip, factor=throttle.Factor.PASSWORD)
        _change_refused(user, change, "password")
        raise ValidationError({"current_password": CURRENT_PASSWORD_WRONG})
    device = totp_device_confirmed(user)
    if device is None:
        raise ValidationError(NOT_ENABLED)
    typed = (code or "").strip()
    if typed.isdigit() and len(typed) == crypto.TOTP_DIGITS:
        method, proved = Method.TOTP, device.verify_token(typed)
    else:
        with transaction.atomic():
            method, proved = Method.RECOVERY_CODE, _recovery_code_spend(user, typed)
    if not proved:
        throttle.sign_in_failure_record(email=user.email, ip=ip, factor=method)
        _change_refused(user, change, method)
        raise ValidationError({"code": CODE_INVALID})
    throttle.sign_in_success_record(email=user.email, ip=ip)
    return method


def recovery_codes_regenerate(*, request, current_password: str, code: str) -> list[str]:
    """New recovery codes for the signed-in user (password and a code first); all earlier
    codes stop working. Returns the codes, to be shown once."""
    method = _reauthenticate(
        request=request, current_password=current_password, code=code, change="regenerate"
    )
    user: User = request.user
    with transaction.atomic():
        codes = _recovery_codes_replace(user)
        _account_event(
            event_type=Event.RECOVERY_CODES_REGENERATED, user=user, data={"proved_with": method}
        )
        _notice(user, "recovery_codes_regenerated")
    return codes


def two_factor_disable(*, request, current_password: str, code: str) -> None:
    """Remove 2FA from the signed-in user's account (password and a code first): the device
    and every recovery code are deleted. In a workspace that requires 2FA, a session started
    after the requirement is sent straight back to enrollment by the gate."""
    method = _reauthenticate(
        request=request, current_password=current_password, code=code, change="disable"
    )
    user: User = request.user
    with transaction.atomic():
        EncryptedTOTPDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        _account_event(
            event_type=Event.TWO_FACTOR_DISABLED, user=user, data={"proved_with": method}
        )
        _notice(user, "two_factor_disabled")


# --- The second step of sign-in


@dataclass(frozen=True)
class PendingSignIn:
    user: User
    expires_at: float
    attempts: int


def pending_sign_in_start(*, request, user: User) -> None:
    """The password was right and ``user`` has 2FA: remember who is half signed in, on this
    host, for PENDING_SECONDS. Nothing is granted: no login() happens until the second
    factor passes (``second_factor_sign_in``)."""
    request.session.cycle_key()
    request.session[PENDING_SESSION_KEY] = {
        "user_id": user.pk,
        "workspace": request.tenant.schema_name,
        "expires_at": time.time() + PENDING_SECONDS,
        "attempts": 0,
    }
    with transaction.atomic():
        audit_event_record(
            event_type=Event.SIGN_IN_SECOND_FACTOR_REQUIRED,
            actor=None,
            actor_kind=ActorKind.ANONYMOUS,
            target=user if _workspace_member(user) else None,
        )


def pending_sign_in_clear(request) -> None:
    request.session.pop(PENDING_SESSION_KEY, None)


def pending_sign_in_get(request) -> PendingSignIn | None:
    """The half-signed-in user of this session on this host, or None (expired ones are
    forgotten)."""
    state = request.session.get(PENDING_SESSION_KEY)
    if not isinstance(state, dict):
        return None
    if (
        state.get("workspace") != request.tenant.schema_name
        or float(state.get("expires_at", 0)) <= time.time()
    ):
        pending_sign_in_clear(request)
        return None
    user_id = state.get("user_id")
    user = (
        User.objects.filter(pk=user_id, is_active=True).first()
        if isinstance(user_id, int)
        else None
    )
    if user is None:
        pending_sign_in_clear(request)
        return None
    return PendingSignIn(
        user=user, expires_at=float(state["expires_at"]), attempts=int(state.get("attempts", 0))
    )


@dataclass(frozen=True)
class SecondFactorResult:
    user: User
    method: str
    # After a recovery code: the fresh set, shown once (all earlier codes are dead).
    new_recovery_codes: list[str] = field(default_factory=list)


def second_factor_sign_in(*, request, code: str, method: str) -> SecondFactorResult:
    """Finish a half-done sign-in with a TOTP code or a recovery code.

    Raises ``ValidationError`` with code "restart" (sign in again: expired, too many tries,
    no longer a member) or "invalid" (wrong code), and ``throttle.Throttled``. Signing in with
    a recovery code spends it and replaces the whole set at once.
    """
    from accounts.services import session_sign_in

    pending = pending_sign_in_get(request)
    if pending is None:
        raise ValidationError(PENDING_EXPIRED, code="restart")
    user = pending.user
    tenant = request.tenant
    ip = client_ip(request)
    throttle.sign_in_attempt_check(email=user.email, ip=ip)
    is_member = tenant.is_public or memberships.is_active_member(user, tenant)
    if not is_member:
        pending_sign_in_clear(request)
        raise ValidationError(PENDING_EXPIRED, code="restart")
    method = Method.RECOVERY_CODE if method == Method.RECOVERY_CODE else Method.TOTP
    with transaction.atomic():
        if method == Method.TOTP:
            device = totp_device_confirmed(user)
            proved = device is not None and device.verify_token(code)
            new_codes: list[str] = []
        else:
            proved = _recovery_code_spend(user, code)
            new_codes = _recovery_codes_replace(user) if proved else []
        if proved:
            pending_sign_in_clear(request)
            throttle.sign_in_success_record(email=user.email, ip=ip)
            session_sign_in(request=request, user=user)
            audit_event_record(
                event_type=Event.SIGN_IN_SUCCEEDED,
                actor=user,
                target=user,
                data={"method": f"password+{method}"},
            )
            if method == Method.RECOVERY_CODE:
                _account_event(
                    event_type=Event.RECOVERY_CODE_USED, user=user, data={"rotated": True}
                )
                _notice(user, "recovery_code_used")
            return SecondFactorResult(user=user, method=method, new_recovery_codes=new_codes)
    # Wrong code: count it everywhere, then tell the visitor.
    with transaction.atomic():
        audit_event_record(
            event_type=Event.SIGN_IN_SECOND_FACTOR_FAILED,
            outcome=Outcome.FAILURE,
            actor=None,
            actor_kind=ActorKind.ANONYMOUS,
            target=user if _workspace_member(user) else None,
            data={"factor": method},
        )
    throttle.sign_in_failure_record(email=user.email, ip=ip, factor=method)
    state = request.session.get(PENDING_SESSION_KEY) or {}
    attempts = int(state.get("attempts", 0)) + 1
    if attempts >= PENDING_MAX_ATTEMPTS:
        pending_sign_in_clear(request)
        raise ValidationError(PENDING_TOO_MANY_ATTEMPTS, code="restart")
    request.session[PENDING_SESSION_KEY] = {**state, "attempts": attempts}
    message = RECOVERY_CODE_INVALID if method == Method.RECOVERY_CODE else CODE_INVALID
    raise ValidationError(message, code="invalid")


# --- What the workspace's requirement (workspace.two_factor) means for a session


def two_factor_enrollment_required(request) -> bool:
    """The gate's question: must this signed-in member enroll before anything else here?

    Yes when the workspace requires 2FA, the member has none, and this session started at or
    after the requirement was switched on (earlier sessions run until they end).
    """
    tenant = request.tenant
    if not getattr(tenant, "require_2fa", False) or tenant.require_2fa_since is None:
        return False
    tracked = getattr(request, "user_session", None)
    started = tracked.created_at if tracked is not None else timezone.now()
    if started < tenant.require_2fa_since:
        return False
    return not user_has_2fa(request.user)


# --- Key rotation


@dataclass(frozen=True)
class SeedRotation:
    rotated: int
    unreadable: int


def totp_seeds_rotate() -> SeedRotation:
    """Re-encrypt every stored seed with the newest key (``manage.py totp_keys_rotate``).
    Row by row, each under a lock; a seed no configured key reads is left as it is."""
    rotated = unreadable = 0
    for device_id in EncryptedTOTPDevice.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            device = EncryptedTOTPDevice.objects.select_for_update().filter(pk=device_id).first()
            if device is None:
                continue
            try:
                token = crypto.seed_rotate(device.encrypted_seed)
            except crypto.SeedUnreadable:
                unreadable += 1
                continue
            if token != device.encrypted_seed:
                device.encrypted_seed = token
                device.save(update_fields=["encrypted_seed"])
            rotated += 1
    return SeedRotation(rotated=rotated, unreadable=unreadable)
