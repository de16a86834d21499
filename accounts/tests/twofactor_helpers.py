"""Helpers for the two-factor tests: enroll a user, compute their current code, sign in."""

from __future__ import annotations

import time

from django.test import Client
from django.utils import timezone

from accounts.twofactor import crypto, recovery
from accounts.twofactor.models import EncryptedTOTPDevice, RecoveryCode
from conftest import PASSWORD

IP = "203.0.113.9"


def enroll(user, *, seed: bytes | None = None, last_t: int = -1) -> tuple[bytes, list[str]]:
    """Give ``user`` a confirmed device and a set of recovery codes, as enrollment would."""
    seed = seed or crypto.seed_generate()
    EncryptedTOTPDevice.objects.filter(user=user).delete()
    EncryptedTOTPDevice.objects.create(
        user=user,
        name="Authenticator app",
        confirmed=True,
        confirmed_at=timezone.now(),
        encrypted_seed=crypto.seed_encrypt(seed),
        last_t=last_t,
    )
    RecoveryCode.objects.filter(user=user).delete()
    codes = [recovery.recovery_code_generate() for _ in range(recovery.RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=recovery.recovery_code_hash(code)) for code in codes
    )
    return seed, codes


def code_now(seed: bytes, offset_steps: int = 0) -> str:
    return crypto.totp_code(seed, time.time() + offset_steps * crypto.TOTP_STEP_SECONDS)


def workspace_client(tenant, ip: str = IP) -> Client:
    return Client(HTTP_HOST=f"{tenant.slug}.localhost", REMOTE_ADDR=ip)


def post_password(client: Client, user, password: str = PASSWORD, next_url: str = ""):
    data = {"email": user.email, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/sign-in/", data)


def recovery_codes_in(response) -> list[str]:
    """The codes a recovery-codes page shows, in order."""
    import re

    return re.findall(
        r"<li><code>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</code></li>", response.content.decode()
    )


def confirmed_action(*, actor, tenant, action, target):
    """A ConfirmedAction for tests of services that need one: a code issued and confirmed
    exactly as the emailed-code step would (without the email)."""
    from datetime import timedelta

    from accounts.twofactor.action_codes import (
        Action,
        _about,
        _digest,
        _user_of,
        action_code_confirm,
    )
    from accounts.twofactor.models import ActionCode

    user, about, code = _user_of(actor), _about(target), "246810"
    ActionCode.objects.create(
        user=user,
        tenant=tenant,
        action=Action(action),
        target_type=about.type,
        target_id=about.id,
        code_digest=_digest(
            user_id=user.pk, tenant_id=tenant.pk, action=Action(action), about=about, code=code
        ),
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    return action_code_confirm(
        actor=actor, tenant=tenant, action=action, target=target, code=code, ip="127.0.0.1"
    )
