"""Workspace export jobs.

Invariant: an ExportJob lives in the workspace's own schema (exports is a TENANT_APP), so a
job, its archive key and its download token can only ever be reached from that workspace.
At most one job per workspace is queued or running (a partial unique index, and a lock in
``services.export_start``). A job is ``ready`` only once its archive is completely stored
at ``archive_key`` (``<schema>/exports/<uuid>.zip`` in ``storages["private"]``); before that
no row points at the object, so a half-written archive is never reachable. Only the SHA-256
of the current download token is stored; a token is single-use (``download_used_at``) and
short-lived (``download_expires_at``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class ExportJob(models.Model):
    """One request to export the whole workspace into a ZIP archive."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(auto_now_add=True, help_text="When it was last (re)queued.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="When the archive is deleted."
    )

    archive_key = models.CharField(max_length=255, blank=True, default="")
    archive_size = models.PositiveBigIntegerField(null=True, blank=True)
    archive_sha256 = models.CharField(max_length=64, blank=True, default="")
    record_count = models.PositiveBigIntegerField(default=0)
    file_count = models.PositiveBigIntegerField(default=0)
    error_message = models.TextField(blank=True, default="")

    download_token_digest = models.CharField(max_length=64, blank=True, default="")
    download_expires_at = models.DateTimeField(null=True, blank=True)
    download_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "ready", "failed", "expired"]),
                name="exportjob_status_known",
            ),
            models.CheckConstraint(
                condition=~Q(status="ready") | (~Q(archive_key="") & ~Q(archive_sha256="")),
                name="exportjob_ready_has_archive",
            ),
            # One export at a time per workspace: at most one row may be queued or running.
            models.UniqueConstraint(
                models.Value(True),
                condition=Q(status__in=["queued", "running"]),
                name="exportjob_one_active_per_workspace",
            ),
        ]

    def __str__(self) -> str:
        return f"Export #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def status_badge(self) -> str:
        """The badge style (static/css/app.css) that reads as this status."""
        badges: dict[str, str] = {
            self.Status.QUEUED: "open",
            self.Status.RUNNING: "in_progress",
            self.Status.READY: "success",
            self.Status.FAILED: "failure",
            self.Status.EXPIRED: "void",
        }
        return badges[self.status]

    @property
    def archive_filename(self) -> str:
        stamp = (self.finished_at or self.created_at).strftime("%Y%m%dT%H%M%SZ")
        return f"export-{stamp}-{str(self.public_id)[:8]}.zip"
