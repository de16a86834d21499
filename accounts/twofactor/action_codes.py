"""Emailed one-time codes that confirm irreversible actions on an already signed-in session.

Invariant: a code is bound to one (user, workspace, action, target): its HMAC covers all of
them and confirmation looks the row up by them, so a code for "delete company 7" does nothing
for "delete company 8" or "delete the workspace". It is valid for ``ACTION_CODE_SECONDS``,
works once, dies after ``ACTION_CODE_MAX_ATTEMPTS`` wrong tries or when a newer code for the
same action and target is sent, and a user may ask for ``ACTION_CODE_REQUESTS_PER_HOUR`` per
hour. Wrong codes also count against the account's sign-in guessing defence
(``accounts.throttle``). It is never a sign-in factor: every function here needs a member
who is already signed in, and the view calling it has already passed the gate.

Usage (see ``stepup.action_confirmation_step`` for the page that wraps it)::

    from accounts.twofactor.action_codes import Action, action_code_request, action_code_confirm

    action_code_request(actor=request.membership, tenant=request.tenant,
                        action=Action.COMPANY_DELETE_WITH_RECORDS, target=company)
    confirmation = action_code_confirm(actor=request.membership, tenant=request.tenant,
                                       action=Action.COMPANY_DELETE_WITH_RECORDS,
                                       target=company, code=typed_code)
    services.company_delete_with_records(..., confirmation=confirmation)

and inside that service, before anything changes::

    action_confirmation_check(confirmation, actor=actor, tenant=tenant,
                              action=Action.COMPANY_DELETE_WITH_RECORDS, target=company)

Call ``action_code_confirm`` outside any transaction that may roll back: its failure count
must persist when it raises.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import throttle
from audit.events import Event
from audit.models import Outcome
from audit.services import Target, audit_event_record, target_of
from kernel.context import audit_context_get

from .models import ActionCode

ACTION_CODE_SECONDS = 10 * 60
ACTION_CODE_REQUESTS_PER_HOUR = 5
ACTION_CODE_MAX_ATTEMPTS = 5
ACTION_CODE_DIGITS = 6

# Messages users see.
ACTION_CODE_INVALID = (
    "That code is not right, has expired or was already used. Check the latest email we sent, "
    "or ask for a new code."
)
ACTION_CODE_TOO_MANY_REQUESTS = (
    "You have asked for too many confirmation codes. Please wait a while and try again."
)


class Action(models.TextChoices):
    """Irreversible actions that need an emailed code; the label completes "Confirm you want
    to ..." in the email and on the page."""

    WORKSPACE_DELETE = "workspace.delete", "delete the workspace"
    WORKSPACE_CANCEL = "workspace.cancel", "cancel the workspace"
    OWNERSHIP_TRANSFER = "ownership.transfer", "transfer ownership of the workspace"
    TWO_FACTOR_REQUIREMENT_OFF = (
        "two_factor_requirement.off",
        "stop requiring two-factor authentication for all members",
    )
    COMPANY_DELETE_WITH_RECORDS = (
        "company.delete_with_records",
        "delete a company together with all of its records",
    )
    DATA_DELETE_IMMEDIATELY = "data.delete_immediately", "delete the workspace's data now"


@dataclass(frozen=True)
class ActionCodeSent:
    """What the page tells the member after a code was emailed (never the code)."""

    email_hint: str
    expires_at: datetime
    minutes: int


@dataclass(frozen=True)
class ConfirmedAction:
    """Proof that a member confirmed one action on one target with a fresh emailed code.

    Services that perform the action take it and call :func:`action_confirmation_check`, so a
    task or another view cannot perform the action without a confirmation for exactly it.
    """

    user_id: int
    tenant_id: int
    action: str
    target_type: str
    target_id: str
    action_code_id: int


def _user_of(actor):
    """Services across the code base pass a Membership as ``actor``; accept a User too."""
    return getattr(actor, "user", actor)


def _about(target) -> Target:
    return target_of(target) if target is not None else Target("", "")


def _digest(*, user_id: int, tenant_id: int, action: str, about: Target, code: str) -> str:
    message = "|".join([str(user_id), str(tenant_id), str(action), about.type, about.id, code])
    return salted_hmac("accounts.twofactor.action_code", message, algorithm="sha256").hexdigest()


def email_hint(email: str) -> str:
    """ "p•••@acme.example": enough for the member to recognise the address."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "your email address"


def _requests_in_last_hour(user, now: datetime) -> list[datetime]:
    return list(
        ActionCode.objects.filter(user=user, created_at__gt=now - timedelta(hours=1))
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )


def action_code_request(*, actor, tenant, action: str, target=None) -> ActionCodeSent:
    """Email ``actor`` a fresh code for ``action`` on ``target`` in ``tenant``.

    Earlier unused codes for the same action and target stop working. Raises
    ``throttle.Throttled`` (429) past ``ACTION_CODE_REQUESTS_PER_HOUR``. Audited
    (ACTION_CODE_REQUESTED in the workspace's stream) and emailed after commit.
    """
    from .tasks import send_action_code_email

    user = _user_of(actor)
    action = Action(action)
    about = _about(target)
    now = timezone.now()
    with transaction.atomic():
        # Serialise this user's requests so the hourly limit cannot be raced past.
        type(user).objects.select_for_update().filter(pk=user.pk).first()
        recent = _requests_in_last_hour(user, now)
        if len(recent) >= ACTION_CODE_REQUESTS_PER_HOUR:
            retry_after = (recent[0] + timedelta(hours=1) - now).total_seconds()
            raise throttle.Throttled(int(retry_after) + 1, ACTION_CODE_TOO_MANY_REQUESTS)
        ActionCode.objects.filter(
            user=user,
            tenant=tenant,
            action=action,
            target_type=about.type,
            target_id=about.id,
            used_at__isnull=True,
            invalidated_at__isnull=True,
        ).update(invalidated_at=now)
        code = "".join(secrets.choice("0123456789") for _ in range(ACTION_CODE_DIGITS))
        row = ActionCode.objects.create(
            user=user,
            tenant=tenant,
            action=action,
            target_type=about.type,
            target_id=about.id,
            target_label=about.label[:200],
            code_digest=_digest(
                user_id=user.pk, tenant_id=tenant.pk, action=action, about=about, code=code
            ),
            created_at=now,
            expires_at=now + timedelta(seconds=ACTION_CODE_SECONDS),
        )
        audit_event_record(
            event_type=Event.ACTION_CODE_REQUESTED,
            stream=tenant,
            target=about_or_none(about),
            data={"action": action.value},
        )
        row_id = row.pk
        transaction.on_commit(
            lambda: send_action_code_email.delay(action_code_id=row_id, code=code)
        )
    return ActionCodeSent(
        email_hint=email_hint(user.email),
        expires_at=row.expires_at,
        minutes=ACTION_CODE_SECONDS // 60,
    )


def about_or_none(about: Target) -> Target | None:
    return about if about.type else None


def action_code_confirm(
    *, actor, tenant, action: str, target=None, code: str, ip: str | None = None
) -> ConfirmedAction:
    """Spend the live code for exactly this action and target; return the proof.

    Raises ``throttle.Throttled`` when the account must wait (checked before the code), and
    ``ValidationError({"code": ACTION_CODE_INVALID})`` for a wrong, expired, used, superseded
    or differently bound code, after counting the failure (audit ACTION_CODE_FAILED, the
    code's attempts, and the account's sign-in failures).
    """
    user = _user_of(actor)
    action = Action(action)
    about = _about(target)
    ip = audit_context_get().ip if ip is None else ip
    throttle.sign_in_attempt_check(email=user.email, ip=ip)
    typed = (code or "").strip()
    digest = _digest(user_id=user.pk, tenant_id=tenant.pk, action=action, about=about, code=typed)
    now = timezone.now()
    with transaction.atomic():
        live = (
            ActionCode.objects.select_for_update()
            .filter(
                user=user,
                tenant=tenant,
                action=action,
                target_type=about.type,
                target_id=about.id,
                used_at__isnull=True,
                invalidated_at__isnull=True,
                expires_at__gt=now,
            )
            .order_by("-created_at")
            .first()
        )
        if live is not None and constant_time_compare(live.code_digest, digest):
            live.used_at = now
            live.save(update_fields=["used_at"])
            audit_event_record(
                event_type=Event.ACTION_CODE_CONFIRMED,
                stream=tenant,
                target=about_or_none(about),
                data={"action": action.value},
            )
            return ConfirmedAction(
                user_id=user.pk,
                tenant_id=tenant.pk,
                action=action.value,
                target_type=about.type,
                target_id=about.id,
                action_code_id=live.pk,
            )
        reason = "no_live_code"
        if live is not None:
            live.attempts += 1
            reason = "wrong_code"
            if live.attempts >= ACTION_CODE_MAX_ATTEMPTS:
                live.invalidated_at = now
                reason = "wrong_code_limit"
            live.save(update_fields=["attempts", "invalidated_at"])
        audit_event_record(
            event_type=Event.ACTION_CODE_FAILED,
            stream=tenant,
            outcome=Outcome.FAILURE,
            target=about_or_none(about),
            data={"action": action.value, "reason": reason},
        )
    throttle.sign_in_failure_record(email=user.email, ip=ip, factor=throttle.Factor.EMAIL_CODE)
    raise ValidationError({"code": ACTION_CODE_INVALID})


def action_confirmation_check(
    confirmation: ConfirmedAction | None, *, actor, tenant, action: str, target=None
) -> None:
    """Services call this before performing a confirmed action: PermissionDenied unless
    ``confirmation`` was issued for exactly this member, workspace, action and target."""
    user = _user_of(actor)
    about = _about(target)
    expected = (user.pk, tenant.pk, Action(action).value, about.type, about.id)
    if (
        confirmation is None
        or (
            confirmation.user_id,
            confirmation.tenant_id,
            confirmation.action,
            confirmation.target_type,
            confirmation.target_id,
        )
        != expected
    ):
        raise PermissionDenied("This action needs a confirmation code emailed to you.")
    # The proof must come from a code that really was spent for it, just now.
    spent = ActionCode.objects.filter(
        pk=confirmation.action_code_id,
        user_id=user.pk,
        tenant_id=tenant.pk,
        action=expected[2],
        target_type=about.type,
        target_id=about.id,
        used_at__isnull=False,
        used_at__gt=timezone.now() - timedelta(seconds=ACTION_CODE_SECONDS),
    ).exists()
    if not spent:
        raise PermissionDenied("This action needs a confirmation code emailed to you.")
