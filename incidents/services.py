"""Incidents: open, update, resolve; who may; the owners' email preference; the heartbeat.

Every service here runs in one transaction, writes its audit events inside it (the platform
stream and each affected workspace's own stream, workspaces first: audit.services
``audit_event_record_both`` explains the order), and emails after commit (kernel/email.py),
one message per owner and workspace, naming that workspace only.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.events import Event
from audit.services import PLATFORM_STREAM, audit_event_record
from kernel.context import ActorKind
from kernel.email import email_send_on_commit
from kernel.roles import Role
from kernel.text import text_fields_check
from rbac.models import Membership
from tenants.models import Tenant
from tenants.selectors import public_url

from .health import HEARTBEAT_NAME
from .models import (
    Component,
    Impact,
    Incident,
    IncidentEmailPreference,
    IncidentUpdate,
    IncidentWorkspace,
    PlatformCapability,
    StaffCapability,
    UpdateStatus,
    WorkerHeartbeat,
)

NOT_ALLOWED = "You do not have the platform capability to manage incidents."
TITLE_REQUIRED = "Give the incident a title."
BODY_REQUIRED = "Write what customers should know."
COMPONENTS_REQUIRED = "Choose at least one affected component."
COMPONENT_UNKNOWN = "Unknown component."
IMPACT_UNKNOWN = "Unknown impact."
STATUS_UNKNOWN = "Unknown status."
WORKSPACES_REQUIRED = "Choose the affected workspaces, or all of them."
WORKSPACE_UNKNOWN = "One of the chosen workspaces does not exist."
ALREADY_RESOLVED = "This incident is resolved; open a new one instead."
OPEN_AS_RESOLVED = "An incident cannot open as resolved."
NOT_SUPPORT_AGENT = "Only a platform support agent can hold a platform capability."

# Workspaces that can be told anything: their schema and owners exist.
ANNOUNCED_STATES = (Tenant.State.ACTIVE, Tenant.State.CANCELLED)


# --- Who may


def agent_can_manage_incidents(user) -> bool:
    """A support agent holding ``incidents:manage`` (the console checks 2FA before this)."""
    return bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "is_support_agent", False)
        and user.is_active
        and StaffCapability.objects.filter(
            user=user, capability=PlatformCapability.INCIDENTS_MANAGE
        ).exists()
    )


def _require_manager(actor: User) -> None:
    if not agent_can_manage_incidents(actor):
        raise PermissionDenied(NOT_ALLOWED)


@transaction.atomic(durable=True)
def incident_capability_set(*, user: User, granted: bool) -> bool:
    """Grant or revoke ``incidents:manage`` (the management command). Returns whether it
    changed anything; audited in the platform stream."""
    if granted and not user.is_support_agent:
        raise ValidationError(NOT_SUPPORT_AGENT)
    held = StaffCapability.objects.filter(user=user, capability=PlatformCapability.INCIDENTS_MANAGE)
    if granted == held.exists():
        return False
    if granted:
        StaffCapability.objects.create(
            user=user, capability=PlatformCapability.INCIDENTS_MANAGE, granted_at=timezone.now()
        )
    else:
        held.delete()
    audit_event_record(
        event_type=Event.INCIDENT_CAPABILITY_GRANTED
        if granted
        else Event.INCIDENT_CAPABILITY_REVOKED,
        stream=PLATFORM_STREAM,
        actor=None,
        actor_kind=ActorKind.SYSTEM,
        target=user,
        data={"capability": PlatformCapability.INCIDENTS_MANAGE.value},
    )
    return True


# --- Incidents


def _validate(*, impact: str | None, components: Iterable[str] | None, status: str) -> None:
    if impact is not None and impact not in Impact.values:
        raise ValidationError(IMPACT_UNKNOWN)
    if components is not None:
        components = list(components)
        if not components:
            raise ValidationError(COMPONENTS_REQUIRED)
        if any(component not in Component.values for component in components):
            raise ValidationError(COMPONENT_UNKNOWN)
    if status not in UpdateStatus.values:
        raise ValidationError(STATUS_UNKNOWN)


def affected_workspaces(incident: Incident) -> list[Tenant]:
    """The workspaces to tell (platform view: call from the public context only)."""
    tenants = Tenant.objects.exclude(schema_name="public").filter(state__in=ANNOUNCED_STATES)
    if not incident.affects_all:
        tenants = tenants.filter(pk__in=incident.workspaces.values("tenant_id"))
    return list(tenants.order_by("pk"))


def _incident_data(incident: Incident, update: IncidentUpdate) -> dict:
    # Public text only: a workspace's copy never names the other workspaces.
    return {
        "incident_id": incident.pk,
        "title": incident.title,
        "impact": incident.impact,
        "components": list(incident.components),
        "status": update.status,
        "update_id": update.pk,
    }


def _audit(*, event: Event, incident: Incident, update: IncidentUpdate, actor: User) -> None:
    data = _incident_data(incident, update)
    tenants = affected_workspaces(incident)
    for tenant in tenants:  # workspaces first, then the platform (one lock order everywhere)
        audit_event_record(
            event_type=event,
            stream=tenant,
            target=incident,
            data=data,
            actor=actor,
            actor_kind=ActorKind.SUPPORT_AGENT,
        )
    platform_data = {
        **data,
        "affects_all": incident.affects_all,
        "workspaces": [tenant.slug for tenant in tenants],
    }
    audit_event_record(
        event_type=event,
        stream=PLATFORM_STREAM,
        target=incident,
        data=platform_data,
        actor=actor,
        actor_kind=ActorKind.SUPPORT_AGENT,
    )


def _owners(tenants: list[Tenant], *, updates_only: bool) -> list[tuple[Tenant, str]]:
    """(workspace, owner email) pairs; with ``updates_only`` only owners who opted in."""
    memberships = Membership.objects.filter(
        tenant__in=tenants, role=Role.OWNER, is_active=True, user__is_active=True
    ).select_related("tenant", "user")
    if updates_only:
        opted_in = IncidentEmailPreference.objects.filter(updates=True).values("user_id")
        memberships = memberships.filter(user_id__in=opted_in)
    return [
        (membership.tenant, membership.user.email)
        for membership in memberships.order_by("tenant_id", "user__email")
    ]


def _notify(*, incident: Incident, update: IncidentUpdate, what: str, updates_only: bool) -> None:
    status_url = public_url(reverse("incidents:status", urlconf=settings.PUBLIC_SCHEMA_URLCONF))
    for tenant, email in _owners(affected_workspaces(incident), updates_only=updates_only):
        body = (
            f"{what}: {incident.title}\n"
            f"Workspace: {tenant.name}\n"
            f"Impact: {incident.get_impact_display()}\n"
            f"Status: {update.get_status_display()}\n\n"
            f"{update.body}\n\n"
            f"Follow it on {status_url}\n"
            "You receive this email because you own this workspace. Owners can choose to be "
            "emailed every update in their workspace's settings (Incident emails)."
        )
        # One message per owner and workspace: nobody sees another's address or workspace.
        email_send_on_commit(
            to=[email], subject=f"[{tenant.name}] {what}: {incident.title}", body=body
        )


@transaction.atomic(durable=True)
def incident_open(
    *,
    actor: User,
    title: str,
    impact: str,
    components: list[str],
    affects_all: bool,
    workspace_ids: list[int],
    status: str,
    body: str,
) -> Incident:
    """Open an incident with its first update; every affected owner is emailed."""
    _require_manager(actor)
    _validate(impact=impact, components=components, status=status)
    if status == UpdateStatus.RESOLVED:
        raise ValidationError(OPEN_AS_RESOLVED)
    title, body = title.strip(), body.strip()
    if not title:
        raise ValidationError(TITLE_REQUIRED)
    if not body:
        raise ValidationError(BODY_REQUIRED)
    tenants: list[Tenant] = []
    if not affects_all:
        ids = sorted(set(workspace_ids))
        if not ids:
            raise ValidationError(WORKSPACES_REQUIRED)
        tenants = list(Tenant.objects.exclude(schema_name="public").filter(pk__in=ids))
        if len(tenants) != len(ids):
            raise ValidationError(WORKSPACE_UNKNOWN)
    now = timezone.now()
    incident = Incident(
        title=title,
        impact=impact,
        components=sorted(set(components)),
        affects_all=affects_all,
        status=status,
        started_at=now,
        created_by=actor,
    )
    update = IncidentUpdate(status=status, body=body, posted_at=now, posted_by=actor)
    text_fields_check(incident)
    text_fields_check(update, ["body"])
    incident.save()
    update.incident = incident
    update.save()
    IncidentWorkspace.objects.bulk_create(
        [IncidentWorkspace(incident=incident, tenant=tenant) for tenant in tenants]
    )
    _audit(event=Event.INCIDENT_OPENED, incident=incident, update=update, actor=actor)
    _notify(incident=incident, update=update, what="Incident", updates_only=False)
    return incident


@transaction.atomic(durable=True)
def incident_update_post(
    *, actor: User, incident_id: int, status: str, body: str
) -> IncidentUpdate:
    """Post an update; ``resolved`` closes the incident (all owners emailed), any other is
    emailed to the owners who opted in."""
    _require_manager(actor)
    _validate(impact=None, components=None, status=status)
    body = body.strip()
    if not body:
        raise ValidationError(BODY_REQUIRED)
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    if not incident.is_open:
        raise ValidationError(ALREADY_RESOLVED)
    now = timezone.now()
    update = IncidentUpdate(
        incident=incident, status=status, body=body, posted_at=now, posted_by=actor
    )
    text_fields_check(update, ["body"])
    update.save()
    incident.status = status
    resolved = status == UpdateStatus.RESOLVED
    if resolved:
        incident.resolved_at = now
    incident.save(update_fields=["status", "resolved_at"])
    _audit(
        event=Event.INCIDENT_RESOLVED if resolved else Event.INCIDENT_UPDATED,
        incident=incident,
        update=update,
        actor=actor,
    )
    _notify(
        incident=incident,
        update=update,
        what="Resolved" if resolved else "Incident update",
        updates_only=not resolved,
    )
    return update


# --- The owner's preference


@transaction.atomic(durable=True)
def incident_email_preference_set(*, membership: Membership, updates: bool) -> bool:
    """Whether the member is emailed every update of incidents in workspaces they own;
    audited in the workspace where they changed it. Returns whether it changed."""
    preference, _created = IncidentEmailPreference.objects.select_for_update().get_or_create(
        user=membership.user
    )
    if preference.updates == updates:
        return False
    preference.updates = updates
    preference.save(update_fields=["updates"])
    audit_event_record(
        event_type=Event.INCIDENT_EMAIL_PREFERENCE_CHANGED,
        stream=membership.tenant,
        target=membership.user,
        changes={"updates": [not updates, updates]},
    )
    return True


# --- The worker heartbeat


def worker_heartbeat_record() -> None:
    """The beat's task (incidents.tasks) says a worker ran it: the status page's jobs check."""
    WorkerHeartbeat.objects.update_or_create(
        name=HEARTBEAT_NAME, defaults={"beat_at": timezone.now()}
    )
