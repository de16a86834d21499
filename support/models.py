"""Support access: the owner's grants, the off switch, and audited impersonation sessions.

All in the public schema. Invariants:
- A platform support agent (``User.is_support_agent``) reaches a workspace's data only
  through an ``ImpersonationSession`` started under a live ``SupportAccessGrant`` of that
  workspace, while its ``SupportAccessPolicy`` does not switch support access off.
- The agent stays the actor of everything done in a session; the impersonated member is only
  "on behalf of" (see ``support.gate``).
- Hand-off tokens are stored as SHA-256 digests, single-use, bound to one session (so to one
  agent and one workspace), and live for seconds.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SupportAccessPolicy(models.Model):
    """The workspace's switch: when ``disabled`` no grant can be made and no session starts."""

    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="support_policy"
    )
    disabled = models.BooleanField(default=False)
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"support policy of {self.tenant_id}"


class SupportAccessGrant(models.Model):
    """A window during which support may impersonate members of ``tenant``.

    Live while ``starts_at <= now < ends_at`` and not revoked. ``allow_write`` lets an agent ask
    for a write session; without it every session is read-only.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    allow_write = models.BooleanField(default=False)
    ticket_ref = models.CharField(max_length=64, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Set once the expiry has been audited and emailed (support.tasks), so it happens once.
    expiry_recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "-pk"]

    def __str__(self) -> str:
        return f"support grant {self.pk} for {self.tenant_id}"

    def is_live(self, now) -> bool:
        return self.revoked_at is None and self.starts_at <= now < self.ends_at

    @staticmethod
    def live_q(now, through: str = "") -> models.Q:
        """``is_live`` as a query filter, on this model or through a relation (``"grant__"``)."""
        return models.Q(
            **{
                f"{through}revoked_at__isnull": True,
                f"{through}starts_at__lte": now,
                f"{through}ends_at__gt": now,
            }
        )


class ImpersonationSession(models.Model):
    """One agent acting as one member of one workspace, under one grant.

    Live while not ended, under 60 minutes old, used within the last 15 minutes, and its grant
    is live (``support.services.impersonation_end_reason``).
    """

    class EndReason(models.TextChoices):
        AGENT = "agent", "Ended by the agent"
        ABSOLUTE = "absolute", "Reached 60 minutes"
        IDLE = "idle", "Idle for 15 minutes"
        GRANT_ENDED = "grant_ended", "The grant expired or was revoked"
        ACCESS_DISABLED = "access_disabled", "Support access was switched off"
        MEMBER_GONE = "member_gone", "The member is no longer active"

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    acting_as = models.ForeignKey("rbac.Membership", on_delete=models.CASCADE, related_name="+")
    # RESTRICT, not PROTECT: a grant that sessions ran under cannot be deleted on its own, but
    # goes with its workspace, whose deletion cascades to both (workspace.lifecycle.purge).
    grant = models.ForeignKey(
        SupportAccessGrant, on_delete=models.RESTRICT, related_name="sessions"
    )
    reason = models.CharField(max_length=500)
    ticket_ref = models.CharField(max_length=64)
    write = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, choices=EndReason.choices, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"impersonation {self.pk} by {self.agent_id} in {self.tenant_id}"


class ImpersonationHandoff(models.Model):
    """Single-use token that opens ``session`` on its workspace host (SHA-256 stored only)."""

    token_digest = models.CharField(max_length=64, unique=True)
    session = models.ForeignKey(ImpersonationSession, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"impersonation hand-off for {self.session_id}"
