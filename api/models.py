"""Personal API tokens, one table per workspace schema.

Invariant: a token belongs to one person's membership of this workspace (``membership_id``
and ``user_id``, plain ids: rbac deletes a removed member's row, and a token must then die
with it rather than come back if the person is invited again, which makes a new row). The
secret itself is never stored: ``secret_hash`` is the SHA-256 of the whole token (a 256-bit
random secret, so a fast hash is enough; nothing is guessable to brute-force). ``scopes`` are
capabilities; what the token may do at a request is ``scopes`` intersected with the member's
capabilities at that moment (``api.tokens.token_capabilities``).
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    name = models.CharField(max_length=100)
    # The first characters of the token ("shs_1a_AbCd"), shown in lists so a person can tell
    # which token a leak report is about; not enough of the secret to matter.
    display_prefix = models.CharField(max_length=24)
    secret_hash = models.CharField(max_length=64, unique=True)
    membership_id = models.BigIntegerField(db_index=True)
    user_id = models.BigIntegerField()
    scopes = ArrayField(models.CharField(max_length=40), default=list)
    created_at = models.DateTimeField(default=timezone.now)
    created_by_id = models.BigIntegerField(null=True)  # None: the system (manage.py)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by_id = models.BigIntegerField(null=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.display_prefix}…)"

    def is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


class IdempotentRequest(models.Model):
    """A POST sent with an ``Idempotency-Key``, per token (``api.idempotency``).

    Invariant: one row per (token, key). While the first request runs the row is claimed
    (``status`` 0): a concurrent retry gets 409. A success stores the response, which every
    retry with the same body gets back; a failure deletes the row, so a retry runs again.
    Rows are forgotten after ``api.idempotency.KEEP_HOURS``.
    """

    token_id = models.BigIntegerField()
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of method, path and body
    status = models.PositiveSmallIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token_id", "key"], name="one_request_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.token_id}:{self.key}"
