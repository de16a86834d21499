"""Global user accounts (public schema).

Invariant: one User per email address, stored lower-cased; a user reaches a workspace only
through rbac.Membership. Passwords are argon2id hashes; nothing here stores a secret in
plain text (hand-off tokens, password-reset tokens and session keys are stored as SHA-256
digests).
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone

from kernel.text import text_fields_check


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        """The one door every account comes in by (sign-up, an invitation, a support agent,
        an import): a name or address PostgreSQL could not store, or longer than its column,
        is refused here with a ValidationError naming the field (kernel.text)."""
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        text_fields_check(user)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email=(username or "").strip().lower())


class User(AbstractBaseUser):  # type: ignore[django-manager-missing]  # 2FA device in a subpackage
    """A person who signs in with email and password."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # Guessing defence (accounts.throttle): consecutive failed proofs of identity, reset by a
    # successful sign-in; at the limit the account is locked until a password reset.
    failed_sign_in_count = models.PositiveIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)
    # Someone else chose the current password (an admin's temporary one): the gate sends the
    # user to the change page before anything else, in every workspace.
    must_change_password = models.BooleanField(default=False)
    # Platform support staff (support app): set only by ``manage.py create_support_agent``;
    # such a user is never a workspace member and reaches workspaces only by impersonation.
    is_support_agent = models.BooleanField(default=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class SignInHandoff(models.Model):
    """A single-use, short-lived token that signs a user in on one workspace host.

    Sessions are host-only, so after sign-up on the public host the new owner is handed to
    the workspace host with this token. Only the SHA-256 of the token is stored.
    """

    token_digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"hand-off for {self.user_id} to {self.tenant_id}"


class UserSession(models.Model):
    """One signed-in browser session on one workspace host, as its owner sees it.

    Invariant: created only by ``accounts.services.session_sign_in``; the gate refuses an
    authenticated session that has no row here (revoking = deleting the row). Only the SHA-256
    of Django's session key is stored, so this table never yields a usable cookie and the key
    is never displayed. ``tenant`` is the host the session is bound to.
    """

    key_digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "tenant"], name="usersession_user_tenant")]
        ordering = ["-last_seen_at", "-pk"]

    def __str__(self) -> str:
        return f"session of {self.user_id} on {self.tenant_id}"


class PasswordResetToken(models.Model):
    """A single-use, expiring password-reset link for one user on one workspace host.

    Only the SHA-256 of the token is stored. Redeeming it sets a new password and nothing
    else: it never signs anyone in. Issuing a new one, or any password change, spends the
    older ones.
    """

    token_digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"password reset for {self.user_id} on {self.tenant_id}"


class SignUpRequest(models.Model):
    """A sign-up waiting for its address to be proved (``workspace.signup``).

    Invariant: nothing is created until the link emailed to ``email`` is used, once, before
    ``expires_at``: then the workspace, and the account if the address has none (the password
    chosen at sign-up, kept here only as its argon2id hash). If the address already has an
    account, the link adds the workspace to it only with that account's password; the
    sign-up form answers the same either way, so it never tells whether an account exists.
    Only the SHA-256 of the link's token is stored; the password hash is blanked when the link
    is spent. Platform-level: no workspace exists yet, so no row-level security.
    """

    token_digest = models.CharField(max_length=64, unique=True)
    email = models.EmailField()
    full_name = models.CharField(max_length=150)
    workspace_name = models.CharField(max_length=100)
    slug = models.CharField(max_length=60)
    password_hash = models.CharField(max_length=256, blank=True)  # "" for an existing account
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["email"], name="signuprequest_email")]

    def __str__(self) -> str:
        return f"sign-up request for {self.slug}"


class RateLimitCounter(models.Model):
    """One rate-limit rule's count for one subject (``accounts.throttle``).

    Invariant: written only by ``accounts.throttle``, each row under a row lock (SELECT ... FOR
    UPDATE), so concurrent requests count exactly. ``key`` is an HMAC of the subject (an email,
    an address, a link's token) under the secret key, never the subject itself. Rows are
    platform-level: they name no workspace (a rule about one workspace keys on an HMAC of its
    id), hold nothing of any workspace's data, and so need no row-level security. A row whose
    ``expires_at`` has passed counts as empty, and the purge task deletes it.
    """

    rule = models.CharField(max_length=64)  # "<limit>.<per>", e.g. "sign_up.ip"
    key = models.CharField(max_length=64)
    # Rate rules: [[slot index, requests], ...], the sliding window (throttle/rules.py).
    slots = models.JSONField(default=list, blank=True)
    # Backoff rules: consecutive failures, and when the next attempt may be made.
    failures = models.PositiveIntegerField(default=0)
    blocked_until = models.DateTimeField(null=True, blank=True)
    # At most one "throttled" audit event per row in THROTTLED_AUDIT_EVERY_SECONDS.
    audited_until = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "key"], name="ratelimitcounter_rule_key")
        ]
        indexes = [models.Index(fields=["expires_at"], name="ratelimitcounter_expires")]

    def __str__(self) -> str:
        return f"{self.rule} {self.key[:8]}"


# Second-factor models live in their own module; importing them here registers them with the
# accounts app (and its migrations).
from .twofactor.models import ActionCode, EncryptedTOTPDevice, RecoveryCode  # noqa: E402, F401
