"""Second-factor rows (public schema, app label ``accounts``).

Invariant: nothing here holds a usable secret. ``EncryptedTOTPDevice.encrypted_seed`` is a
Fernet token (``crypto``); ``RecoveryCode.code_hash`` is a salted argon2id hash;
``ActionCode.code_digest`` is an HMAC keyed with SECRET_KEY over the code *and* what it
confirms (user, workspace, action, target), so a code is worthless for anything else.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_otp.models import Device

from . import crypto

logger = logging.getLogger("accounts.twofactor")


class EncryptedTOTPDevice(Device):
    """A member's authenticator app: django-otp's Device API over an encrypted seed.

    Invariant: at most one confirmed device per user (the one that counts as "2FA on"); an
    unconfirmed one is an enrollment in progress and proves nothing. ``last_t`` is the time
    step of the last accepted code: only later steps verify, so every code works once.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_devices"
    )
    confirmed = models.BooleanField(default=False)
    encrypted_seed = models.TextField()
    last_t = models.BigIntegerField(default=-1)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(confirmed=True),
                name="one_confirmed_totp_device_per_user",
            )
        ]

    @property
    def seed(self) -> bytes:
        return crypto.seed_decrypt(self.encrypted_seed)

    def verify_token(self, token) -> bool:
        """django-otp's API: True once per code, consuming its time step.

        The conditional UPDATE makes acceptance atomic, so two requests racing with the same
        code cannot both succeed.
        """
        try:
            seed = self.seed
        except crypto.SeedUnreadable:
            # A key was dropped too early: no code can be checked. Refuse (the member can
            # still use a recovery code) and make it loud for the operators.
            logger.error("TOTP seed of device %s cannot be decrypted with any key", self.pk)
            return False
        step = crypto.totp_match(seed, str(token).strip(), at=time.time(), after_step=self.last_t)
        if step is None:
            return False
        now = timezone.now()
        accepted = EncryptedTOTPDevice.objects.filter(pk=self.pk, last_t__lt=step).update(
            last_t=step, last_used_at=now
        )
        if accepted:
            self.last_t, self.last_used_at = step, now
        return bool(accepted)


class RecoveryCode(models.Model):
    """One of a user's current one-time recovery codes; only its salted argon2id hash.

    Invariant: a user's codes form one set; generating a new set (enrollment, regeneration,
    or signing in with a code) deletes every earlier code, used or not.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "used_at"], name="recoverycode_user_used")]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"


class ActionCode(models.Model):
    """An emailed one-time code confirming one irreversible action by one signed-in member.

    Invariant: bound to (user, tenant, action, target): ``code_digest`` covers all of them, and
    confirmation also compares them. Valid until ``expires_at``, at most once (``used_at``),
    and dead after ``MAX_ATTEMPTS`` wrong tries or when a newer code for the same action and
    target is issued (``invalidated_at``). Never a sign-in factor.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    code_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    invalidated_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["user", "tenant", "action"], name="actioncode_lookup"),
            models.Index(fields=["user", "created_at"], name="actioncode_user_created"),
        ]

    def __str__(self) -> str:
        return f"{self.action} code for {self.user_id} on {self.tenant_id}"
