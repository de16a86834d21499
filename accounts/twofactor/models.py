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
    """A member's authenticator app: django-otp's ``TOTPDevice`` over an encrypted seed.

    It carries TOTPDevice's fields and API (``step``, ``t0``, ``digits``, ``tolerance``,
    ``drift``, ``last_t``; ``key``, ``bin_key``, ``config_url``, ``verify_token``) and its
    verification (``django_otp.oath.TOTP``), with two differences worth keeping: the seed is
    stored only as a Fernet token (``encrypted_seed``; ``key`` decrypts it in memory), and a
    code is accepted by one conditional UPDATE, so two requests racing with the same code
    cannot both succeed. (TOTPDevice itself stores its key in clear and saves the whole row.)
    Wrong codes are counted by the sign-in guessing defence (accounts.throttle), not by
    django-otp's per-device throttling.

    Invariant: at most one confirmed device per user (the one that counts as "2FA on"); an
    unconfirmed one is an enrollment in progress and proves nothing. ``last_t`` is the time
    step of the last accepted code: only later steps verify, so every code works once.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_devices"
    )
    confirmed = models.BooleanField(default=False)
    encrypted_seed = models.TextField()
    # TOTPDevice's parameters, with its defaults.
    step = models.PositiveSmallIntegerField(default=crypto.TOTP_STEP_SECONDS)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=crypto.TOTP_DIGITS)
    tolerance = models.PositiveSmallIntegerField(default=crypto.TOTP_TOLERANCE_STEPS)
    drift = models.SmallIntegerField(default=0)
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
    def bin_key(self) -> bytes:
        """The seed, decrypted (raises ``crypto.SeedUnreadable`` when no key reads it)."""
        return crypto.seed_decrypt(self.encrypted_seed)

    @property
    def key(self) -> str:
        """TOTPDevice's hex-encoded key, decrypted in memory only."""
        return self.bin_key.hex()

    @property
    def seed(self) -> bytes:
        return self.bin_key

    @property
    def config_url(self) -> str:
        """TOTPDevice's provisioning URI (otpauth://) for this device's seed and parameters."""
        return crypto.provisioning_uri(
            seed=self.bin_key,
            account=self.user.email,
            issuer=crypto.TOTP_ISSUER,
            digits=self.digits,
            period=self.step,
        )

    def verify_token(self, token) -> bool:
        """TOTPDevice's verification: True once per code, consuming its time step.

        The conditional UPDATE makes acceptance atomic, so two requests racing with the same
        code cannot both succeed. With ``OTP_TOTP_SYNC`` (django-otp's setting; off here) the
        matched drift is kept as TOTPDevice keeps it.
        """
        verify_allowed, _ = self.verify_is_allowed()
        if not verify_allowed:
            return False
        try:
            seed = self.bin_key
        except crypto.SeedUnreadable:
            # A key was dropped too early: no code can be checked. Refuse (the member can
            # still use a recovery code) and make it loud for the operators.
            logger.error("TOTP seed of device %s cannot be decrypted with any key", self.pk)
            return False
        matched = crypto.totp_verify(
            seed,
            str(token).strip(),
            at=time.time(),
            after_step=self.last_t,
            step=self.step,
            t0=self.t0,
            digits=self.digits,
            tolerance=self.tolerance,
            drift=self.drift,
        )
        if matched is None:
            return False
        step, now = matched.t(), timezone.now()
        changes: dict = {"last_t": step, "last_used_at": now}
        if getattr(settings, "OTP_TOTP_SYNC", True):
            changes["drift"] = matched.drift
        accepted = EncryptedTOTPDevice.objects.filter(pk=self.pk, last_t__lt=step).update(**changes)
        if accepted:
            for name, value in changes.items():
                setattr(self, name, value)
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
