"""Incidents, their updates, who may manage them, and the worker heartbeat. All public schema.

Invariants:
- An incident affects every workspace (``affects_all``) or exactly the workspaces of its
  ``IncidentWorkspace`` rows. Those rows carry row-level security (tenants/rls.py), so in a
  workspace's context the database itself hides which other workspaces were affected; pages
  of a workspace only ever show an incident's public text (title, impact, updates).
- An incident is open while ``resolved_at`` is NULL; the update that resolves it sets it, in
  the same transaction (incidents.services).
- Only a platform support agent holding the ``incidents:manage`` ``StaffCapability`` (and
  signed in to the console with password and authenticator code) manages incidents.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Component(models.TextChoices):
    WEB = "web", "Web application"
    JOBS = "jobs", "Background jobs"
    EMAIL = "email", "Email"
    STORAGE = "storage", "File storage"
    DATABASE = "database", "Database"


class Impact(models.TextChoices):
    DEGRADED = "degraded", "Degraded performance"
    PARTIAL = "partial", "Partial outage"
    MAJOR = "major", "Major outage"


class UpdateStatus(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


class PlatformCapability(models.TextChoices):
    INCIDENTS_MANAGE = "incidents:manage", "Open and update incidents"


class StaffCapability(models.Model):
    """A platform capability held by one support agent, beyond reaching the console."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_capabilities"
    )
    capability = models.CharField(max_length=40, choices=PlatformCapability.choices)
    granted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "capability"], name="staff_capability_once")
        ]

    def __str__(self) -> str:
        return f"{self.capability} for {self.user_id}"


class Incident(models.Model):
    """Something wrong with the service, as announced to the affected workspaces."""

    title = models.CharField(max_length=200)
    impact = models.CharField(max_length=20, choices=Impact.choices)
    # Component values (Component); validated by the service, never free text.
    components = models.JSONField(default=list)
    affects_all = models.BooleanField(default=True)
    status = models.CharField(max_length=20, choices=UpdateStatus.choices)
    started_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["resolved_at"], name="incident_open_idx")]

    def __str__(self) -> str:
        return f"incident {self.pk}: {self.title}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class IncidentWorkspace(models.Model):
    """One workspace an incident affects (when it does not affect all of them)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="workspaces")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "tenant"], name="incident_workspace_once")
        ]

    def __str__(self) -> str:
        return f"incident {self.incident_id} affects {self.tenant_id}"


class IncidentUpdate(models.Model):
    """One public update of an incident, the first one posted with it."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=20, choices=UpdateStatus.choices)
    body = models.TextField(max_length=2000)
    posted_at = models.DateTimeField()
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-posted_at", "-pk"]

    def __str__(self) -> str:
        return f"update {self.pk} of incident {self.incident_id}"


class IncidentEmailPreference(models.Model):
    """A person's choice to be emailed every update of incidents affecting workspaces they own
    (they are always emailed when one opens and when it resolves)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="incident_preference"
    )
    updates = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"incident emails of {self.user_id}"


class WorkerHeartbeat(models.Model):
    """The last time a Celery worker ran the beat's heartbeat task (one row per name)."""

    name = models.CharField(max_length=40, unique=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"heartbeat {self.name} at {self.beat_at}"
