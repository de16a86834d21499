"""Document requests: a member asks a customer company's contacts for files through a
time-limited, revocable link that needs no account.

Invariants for every model here: its table lives in the workspace's own schema (docrequests
is a TENANT_APP), so a link opened on another workspace's host finds nothing. ``company_id``
names a customer company of the workspace through rbac's declared provider
(``rbac.companies``); the app imports no other business app, and deleting a company removes
its requests through the ``company_records`` declaration (``docrequests.companies``). The
link's token is never stored: only its SHA-256 (``token_hash``). A request's link works while
``status`` is OPEN and ``expires_at`` is in the future, and ``expires_at`` is never more
than ``MAX_LIFETIME_DAYS`` after ``created_at``. Rows are written only by
``docrequests.services``.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.db import models
from django.utils import timezone

MESSAGE_MAX_LENGTH = 5_000
COMMENT_MAX_LENGTH = 2_000
MIN_LIFETIME_DAYS = 7
MAX_LIFETIME_DAYS = 90


class DocumentRequest(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        REVOKED = "revoked", "Revoked"

    company_id = models.PositiveBigIntegerField(db_index=True)
    recipients = models.JSONField(default=list)  # the contacts' email addresses
    title = models.CharField(max_length=200)
    message = models.TextField(max_length=MESSAGE_MAX_LENGTH, blank=True)
    require_code = models.BooleanField(default=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.title

    def is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return self.status == self.Status.OPEN and self.expires_at > now


class RequestItem(models.Model):
    """One line of the checklist. ``accepted_types`` are extensions from
    ``kernel.storage.ALLOWED_TYPES`` (empty: any allowed type)."""

    class Status(models.TextChoices):
        MISSING = "missing", "Missing"
        RECEIVED = "received", "Received"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    request = models.ForeignKey(DocumentRequest, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=0)
    description = models.CharField(max_length=300)
    required = models.BooleanField(default=True)
    accepted_types = models.JSONField(default=list, blank=True)
    max_size_bytes = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.MISSING)
    comment = models.TextField(max_length=COMMENT_MAX_LENGTH, blank=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.description


class Upload(models.Model):
    """The file a client sent for an item: one per item (a replacement removes the previous
    one). The bytes live in private storage under the workspace's prefix (``storage_key``).
    Once the item is accepted, a copy is among the company's files: ``stored_file_id`` names
    it (a plain id: the shop's file model is reached through the ``company_files``
    declaration, see ``docrequests.files``); rejecting the item removes that copy."""

    item = models.ForeignKey(RequestItem, on_delete=models.CASCADE, related_name="uploads")
    original_filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    extension = models.CharField(max_length=10)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_key = models.CharField(max_length=300, unique=True)
    uploaded_by_email = models.EmailField()
    uploaded_at = models.DateTimeField(default=timezone.now)
    stored_file_id = models.PositiveBigIntegerField(null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-uploaded_at", "-pk"]

    def __str__(self) -> str:
        return self.original_filename

    @property
    def download_filename(self) -> str:
        """The client's name, always ending in the extension of what the bytes are."""
        extension = os.path.splitext(self.original_filename)[1].lower().lstrip(".")
        aliases = {"jpg": ("jpg", "jpeg", "jpe"), "tif": ("tif", "tiff")}
        if extension in aliases.get(self.extension, (self.extension,)):
            return self.original_filename
        return f"{self.original_filename}.{self.extension}"


class LinkCode(models.Model):
    """An emailed 6-digit code that lets the holder of ``email`` into one request: only its
    HMAC is kept; valid until ``expires_at``, used once, dead after too many wrong tries or
    when a newer code for the same request and address is sent."""

    request = models.ForeignKey(DocumentRequest, on_delete=models.CASCADE, related_name="codes")
    email = models.EmailField()
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"code for request {self.request_id}"
