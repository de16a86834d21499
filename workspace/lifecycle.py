"""The workspace cancellation lifecycle: cancel, archive, restore, delete, purge.

    active --cancel (owner)--> cancelled --30 days--> archived --60 days--> purging --> gone
      ^                            |                      |
      +------restore (support)-----+----------------------+
    active / cancelled --delete now (owner)--> purging --> gone

Invariants:
- Every transition happens here, in one short transaction that locks the Tenant row, writes
  its audit event to the workspace's own stream (while that stream exists) and to the
  platform stream, and sends email / enqueues work only after commit.
- ``lifecycle_notices`` names the warning emails already sent for the current state
  ("archive-7", "purge-1", ...), so none is ever sent twice; cancel, archive and restore
  reset it.
- A purge first captures ``purge_counts`` (what is about to be deleted), then deletes the
  stored files, then - in one transaction - drops the schema, removes every public row of the
  workspace, writes the platform receipt (WORKSPACE_PURGED, carrying those counts) and deletes
  the Tenant row last. Each step is safe to repeat: a purge that died half-way is finished by
  the next :func:`lifecycle_run` with the counts captured before the first deletion.
- Concurrent runs never do the same step twice: a run takes each tenant's row with
  ``SELECT ... FOR UPDATE SKIP LOCKED`` and a purge holds a session advisory lock keyed by the
  tenant's id for its whole length.
- The deadlines are computed from the timestamps (``lifecycle_dates``), never stored, so what
  the pages show, what the emails promise and what the run does cannot disagree.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import Storage, storages
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_exists, tenant_context

from accounts.models import PasswordResetToken, SignInHandoff, User, UserSession
from accounts.twofactor.action_codes import Action, ConfirmedAction, action_confirmation_check
from accounts.twofactor.models import ActionCode
from audit.events import Event
from audit.models import AuditEvent, Outcome
from audit.services import PLATFORM_STREAM, Target, audit_event_record
from kernel.capabilities import WORKSPACE_DELETE
from kernel.context import ActorKind
from kernel.roles import Role
from rbac.authz import ACTOR_NOT_IN_WORKSPACE, authorize
from rbac.models import Invitation, Membership
from support.models import (
    ImpersonationHandoff,
    ImpersonationSession,
    SupportAccessGrant,
    SupportAccessPolicy,
)
from tenants.models import Domain, Tenant
from tenants.selectors import tenant_host_cache_forget, workspace_url

logger = logging.getLogger("workspace.lifecycle")

EXPORT_WINDOW_DAYS = 30  # cancelled -> archived
ARCHIVE_DAYS = 60  # archived -> purged
NOTICE_DAYS_BEFORE = (7, 1)

# pg_try_advisory_lock(int, int) namespace for purges; the second key is the tenant's id.
PURGE_LOCK_NAMESPACE = 0x50524745  # "PRGE"
# Tenant models counted for the receipt: every model of every app in TENANT_APPS except
# Django's content-type lookup table and the audit stream (counted as ``audit_events``).
_NOT_COUNTED_TENANT_APPS = frozenset({"contenttypes", "audit"})

# Messages users (owners, support agents) see.
CANCEL_NOT_ACTIVE = "Only an active workspace can be cancelled."
DELETE_NOT_ALLOWED = "This workspace is already being deleted or is closed."
TYPED_SLUG_MISMATCH = "Type the workspace address exactly as shown to confirm the deletion."
NOT_A_MEMBER = ACTOR_NOT_IN_WORKSPACE
RESTORE_NOT_AN_AGENT = "Only platform support agents can restore a workspace."
RESTORE_REASON_REQUIRED = "Give the reason for restoring this workspace."
RESTORE_NOT_RESTORABLE = "Only a cancelled or archived workspace can be restored."


@dataclass(frozen=True)
class LifecycleDates:
    """The deadlines of a workspace that is on its way out (None while active)."""

    archive_at: datetime | None  # when a cancelled workspace is archived
    purge_at: datetime | None  # when it is permanently deleted


@dataclass(frozen=True)
class LifecycleStep:
    """One thing the daily run does (or, in a dry run, would do)."""

    tenant_slug: str
    action: str  # "notify-archive-7", "archive", "notify-purge-1", "purge", "purge-failed"
    due_at: datetime


@dataclass(frozen=True)
class PurgeReceipt:
    """What a completed purge removed; the same counts are in the platform receipt event."""

    tenant_id: int
    slug: str
    schema_name: str
    counts: dict[str, Any] = field(default_factory=dict)
    audit_event_id: int | None = None


# --- Dates


def lifecycle_dates(tenant: Tenant) -> LifecycleDates:
    """When ``tenant`` will be archived and purged, from the timestamps of its state."""
    state = tenant.state
    if state == Tenant.State.CANCELLED and tenant.cancelled_at is not None:
        archive_at = tenant.cancelled_at + timedelta(days=EXPORT_WINDOW_DAYS)
        return LifecycleDates(archive_at, archive_at + timedelta(days=ARCHIVE_DAYS))
    if state == Tenant.State.ARCHIVED and tenant.archived_at is not None:
        return LifecycleDates(tenant.archived_at, tenant.archived_at + timedelta(days=ARCHIVE_DAYS))
    if state == Tenant.State.PURGING:
        return LifecycleDates(tenant.archived_at, tenant.purge_requested_at)
    return LifecycleDates(None, None)


# --- Helpers shared by the services


def _owner_emails(tenant: Tenant) -> list[str]:
    return list(
        Membership.objects.filter(tenant_id=tenant.pk, role=Role.OWNER, is_active=True)
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )


def _day(moment: datetime | None) -> str:
    if moment is None:
        return ""
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%B %Y}"


def _email_context(tenant: Tenant, **extra: Any) -> dict[str, Any]:
    # Plain strings only: the context travels to the worker as JSON.
    dates = lifecycle_dates(tenant)
    return {
        "workspace_name": tenant.name,
        "workspace_slug": tenant.slug,
        "workspace_url": workspace_url(tenant),
        "archive_date": _day(dates.archive_at),
        "purge_date": _day(dates.purge_at),
        "export_window_days": EXPORT_WINDOW_DAYS,
        "archive_days": ARCHIVE_DAYS,
        **extra,
    }


def _email_owners_on_commit(
    tenant: Tenant, template: str, recipients: list[str] | None = None, **extra: Any
) -> None:
    from .tasks import lifecycle_email_send

    to = _owner_emails(tenant) if recipients is None else recipients
    if not to:
        return
    context = _email_context(tenant, **extra)
    transaction.on_commit(
        lambda: lifecycle_email_send.delay(template=template, to=to, context=context)
    )


def _host_cache_forget_on_commit(tenant: Tenant) -> None:
    hostnames = list(Domain.objects.filter(tenant_id=tenant.pk).values_list("domain", flat=True))

    def forget() -> None:
        for hostname in hostnames:
            tenant_host_cache_forget(hostname)

    forget()
    transaction.on_commit(forget)


def _dates_data(tenant: Tenant) -> dict[str, str | None]:
    dates = lifecycle_dates(tenant)
    return {
        "archive_at": dates.archive_at.isoformat() if dates.archive_at else None,
        "purge_at": dates.purge_at.isoformat() if dates.purge_at else None,
    }


def _audit_both(
    tenant: Tenant,
    event_type: Event,
    *,
    changes: dict | None = None,
    data: dict | None = None,
    actor: Any = None,
    actor_kind: str | None = None,
    workspace_stream: bool = True,
    outcome: str = Outcome.SUCCESS,
) -> AuditEvent:
    """The event in the workspace's stream (while its schema exists) and the platform's."""
    kind = actor_kind or (ActorKind.USER if actor is not None else ActorKind.SYSTEM)
    streams: list[Any] = [PLATFORM_STREAM]
    if workspace_stream and schema_exists(tenant.schema_name):
        streams.insert(0, tenant)
    event = None
    for stream in streams:
        event = audit_event_record(
            event_type=event_type,
            target=Target("tenants.tenant", str(tenant.pk), tenant.slug),
            outcome=outcome,
            changes=changes,
            data=data,
            stream=stream,
            actor=actor,
            actor_kind=kind,
        )
    assert event is not None  # noqa: S101 - the platform stream is always written
    return event


def _to_public() -> None:
    # django-tenants adds this to the connection at run time; django-stubs cannot see it.
    connection.set_schema_to_public()  # type: ignore[attr-defined]


def _keeps_connection_tenant(service):
    """The owner and support services lock the Tenant row on the public schema; put the
    connection back on the caller's tenant afterwards, so the rest of the request (its page,
    its audit events) still runs in the workspace it came from."""

    @functools.wraps(service)
    def wrapper(*args, **kwargs):
        previous = getattr(connection, "tenant", None)
        try:
            return service(*args, **kwargs)
        finally:
            if previous is not None and not getattr(previous, "is_public", True):
                connection.set_tenant(previous)  # type: ignore[attr-defined]
            else:
                _to_public()

    return wrapper


def _locked(tenant_id: int) -> Tenant:
    _to_public()
    return Tenant.objects.select_for_update().get(pk=tenant_id)


_LIFECYCLE_FIELDS = [
    "state",
    "billing_status",
    "cancelled_at",
    "archived_at",
    "purge_requested_at",
    "lifecycle_notices",
]


def _sync(target: Tenant, source: Tenant) -> None:
    """Copy the lifecycle fields of the saved row onto the caller's instance."""
    for name in [*_LIFECYCLE_FIELDS, "purge_counts"]:
        setattr(target, name, getattr(source, name))


def _state_start(
    locked: Tenant, *, state: str, billing_status: str, cancelled_at: datetime | None
) -> dict[str, list[str]]:
    """Put the locked row at the start of ``state`` (cancelled, or active again): every later
    deadline and sent warning is cleared. Returns the audit changes."""
    changes = {
        "state": [locked.state, state],
        "billing_status": [locked.billing_status, billing_status],
    }
    locked.state = state
    locked.billing_status = billing_status
    locked.cancelled_at = cancelled_at
    locked.archived_at = None
    locked.purge_requested_at = None
    locked.lifecycle_notices = []
    locked.save(update_fields=_LIFECYCLE_FIELDS)
    return changes


def _check_owner(actor: Membership, tenant: Tenant) -> None:
    authorize(tenant, actor, WORKSPACE_DELETE)


# --- Owner: cancel


@_keeps_connection_tenant
def workspace_cancel(*, tenant: Tenant, actor: Membership, confirmation: ConfirmedAction) -> Tenant:
    """The owner cancels: the workspace becomes read-only for EXPORT_WINDOW_DAYS (owners can
    export), then archived, then purged. Owners are emailed the dates."""
    _check_owner(actor, tenant)
    with transaction.atomic():
        locked = _locked(tenant.pk)
        if locked.state != Tenant.State.ACTIVE:
            raise ValidationError(CANCEL_NOT_ACTIVE, code="not_active")
        action_confirmation_check(
            confirmation, actor=actor, tenant=locked, action=Action.WORKSPACE_CANCEL, target=locked
        )
        changes = _state_start(
            locked,
            state=Tenant.State.CANCELLED,
            billing_status=Tenant.BillingStatus.CANCELLED,
            cancelled_at=timezone.now(),
        )
        _audit_both(
            locked,
            Event.WORKSPACE_CANCELLED,
            changes=changes,
            data=_dates_data(locked),
            actor=actor.user,
        )
        _email_owners_on_commit(locked, "lifecycle_cancelled")
        _host_cache_forget_on_commit(locked)
    _sync(tenant, locked)
    return locked


# --- Owner: delete now


def _sessions_end(tenant: Tenant) -> int:
    """End every session of the workspace: members' (the gate refuses a session without its
    tracking row) and support's impersonation sessions."""
    from accounts.services import user_sessions_end
    from support.services import impersonation_end

    ended = 0
    user_ids = set(
        UserSession.objects.filter(tenant_id=tenant.pk).values_list("user_id", flat=True)
    )
    for user in User.objects.filter(pk__in=user_ids).order_by("pk"):
        ended += user_sessions_end(user=user, tenant=tenant, reason="workspace_deleted")
    for session in ImpersonationSession.objects.filter(tenant_id=tenant.pk, ended_at__isnull=True):
        if impersonation_end(
            session=session, reason=ImpersonationSession.EndReason.ACCESS_DISABLED
        ):
            ended += 1
    return ended


@_keeps_connection_tenant
def workspace_delete_now(
    *, tenant: Tenant, actor: Membership, confirmation: ConfirmedAction, typed_slug: str
) -> None:
    """The owner deletes the workspace at once: it closes now (PURGING), every session ends,
    and the purge task runs after commit."""
    from .tasks import workspace_purge_task

    _check_owner(actor, tenant)
    with transaction.atomic():
        locked = _locked(tenant.pk)
        if locked.state not in (Tenant.State.ACTIVE, Tenant.State.CANCELLED):
            raise ValidationError(DELETE_NOT_ALLOWED, code="not_deletable")
        if (typed_slug or "").strip() != locked.slug:
            raise ValidationError({"typed_slug": TYPED_SLUG_MISMATCH}, code="slug_mismatch")
        action_confirmation_check(
            confirmation, actor=actor, tenant=locked, action=Action.WORKSPACE_DELETE, target=locked
        )
        owners = _owner_emails(locked)
        before = (locked.state, locked.billing_status)
        locked.state = Tenant.State.PURGING
        locked.billing_status = Tenant.BillingStatus.CANCELLED
        locked.purge_requested_at = timezone.now()
        locked.save(update_fields=_LIFECYCLE_FIELDS)
        _audit_both(
            locked,
            Event.WORKSPACE_DELETION_REQUESTED,
            changes={
                "state": [before[0], locked.state],
                "billing_status": [before[1], locked.billing_status],
            },
            actor=actor.user,
        )
        _sessions_end(locked)
        _email_owners_on_commit(locked, "lifecycle_deletion_requested", recipients=owners)
        _host_cache_forget_on_commit(locked)
        tenant_id = locked.pk
        transaction.on_commit(lambda: workspace_purge_task.delay(tenant_id=tenant_id))
    _sync(tenant, locked)


# --- Support: restore


@_keeps_connection_tenant
def workspace_restore(*, tenant: Tenant, agent, reason: str) -> Tenant:
    """A support agent brings a cancelled or archived workspace back to active."""
    if not (getattr(agent, "is_support_agent", False) and getattr(agent, "is_active", False)):
        raise PermissionDenied(RESTORE_NOT_AN_AGENT)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": RESTORE_REASON_REQUIRED}, code="reason_required")
    with transaction.atomic():
        locked = _locked(tenant.pk)
        if locked.state not in (Tenant.State.CANCELLED, Tenant.State.ARCHIVED):
            raise ValidationError(RESTORE_NOT_RESTORABLE, code="not_restorable")
        changes = _state_start(
            locked,
            state=Tenant.State.ACTIVE,
            billing_status=Tenant.BillingStatus.ACTIVE,
            cancelled_at=None,
        )
        _audit_both(
            locked,
            Event.WORKSPACE_RESTORED,
            changes=changes,
            data={"reason": reason[:500]},
            actor=agent,
            actor_kind=ActorKind.SUPPORT_AGENT,
        )
        _email_owners_on_commit(locked, "lifecycle_restored")
        _host_cache_forget_on_commit(locked)
    _sync(tenant, locked)
    return locked


# --- Purge


def _storage() -> Storage:
    return storages["private"]


def _storage_prefix(schema_name: str) -> str:
    # Refuse anything that is not a workspace's own schema: an empty or shared prefix would
    # point the recursive delete at other workspaces' files.
    if not schema_name or schema_name in (
        settings.PUBLIC_SCHEMA_NAME,
        settings.TENANT_BASE_SCHEMA,
    ):
        raise ValueError(f"refusing to purge schema {schema_name!r}")
    if "/" in schema_name or schema_name.startswith("."):
        raise ValueError(f"refusing to purge schema {schema_name!r}")
    return schema_name


def storage_keys(prefix: str, storage: Storage | None = None) -> Iterator[str]:
    """Every key under ``prefix/``, recursively (FileSystemStorage and S3 alike)."""
    storage = storage or _storage()
    try:
        directories, files = storage.listdir(prefix)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{prefix}/{name}"
    for directory in sorted(directories):
        yield from storage_keys(f"{prefix}/{directory}", storage)


def _storage_remove_empty_folders(prefix: str, storage: Storage) -> None:
    # Filesystem storage leaves the folders behind; object stores have none.
    try:
        root = storage.path(prefix)
    except NotImplementedError:
        return
    if not os.path.isdir(root):
        return
    for folder, _, _ in sorted(os.walk(root), key=lambda entry: -len(entry[0])):
        try:
            os.rmdir(folder)
        except OSError:
            logger.warning("purge left a non-empty folder under %s", prefix)
            return


def _counted_app_configs():
    tenant_apps = set(settings.TENANT_APPS)
    return [
        config
        for config in apps.get_app_configs()
        if config.name in tenant_apps and config.label not in _NOT_COUNTED_TENANT_APPS
    ]


def _record_counts(tenant: Tenant) -> tuple[dict[str, int], int]:
    counts: dict[str, int] = {}
    audit_events = 0
    if not schema_exists(tenant.schema_name):
        return counts, audit_events
    with tenant_context(tenant):
        for config in _counted_app_configs():
            for model in config.get_models():
                counts[model._meta.label_lower] = model._base_manager.count()
        audit_events = AuditEvent.objects.count()
    return counts, audit_events


def purge_counts_capture(tenant: Tenant) -> dict[str, Any]:
    """What the purge of ``tenant`` is about to delete (the receipt's counts)."""
    prefix = _storage_prefix(tenant.schema_name)
    storage = _storage()
    files = 0
    size = 0
    for key in storage_keys(prefix, storage):
        files += 1
        size += storage.size(key)
    records, audit_events = _record_counts(tenant)
    _to_public()
    return {
        "records": records,
        "records_total": sum(records.values()),
        "files": files,
        "bytes": size,
        "members": Membership.objects.filter(tenant_id=tenant.pk).count(),
        "invitations": Invitation.objects.filter(tenant_id=tenant.pk).count(),
        "support_grants": SupportAccessGrant.objects.filter(tenant_id=tenant.pk).count(),
        "impersonation_sessions": ImpersonationSession.objects.filter(tenant_id=tenant.pk).count(),
        "domains": Domain.objects.filter(tenant_id=tenant.pk).count(),
        "audit_events": audit_events,
        "captured_at": timezone.now().isoformat(),
    }


def _advisory_lock(tenant_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [PURGE_LOCK_NAMESPACE, tenant_id])
        return bool(cursor.fetchone()[0])


def _advisory_unlock(tenant_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [PURGE_LOCK_NAMESPACE, tenant_id])


def workspace_purge(*, tenant_id: int) -> PurgeReceipt | None:
    """Permanently delete a workspace that is PURGING; None when there is nothing to do (no
    such workspace, not PURGING, or another process is purging it right now).

    Idempotent and crash-safe: counts are captured (and committed) before anything is
    deleted; files are deleted next (deleting what is left is harmless); the schema, the
    public rows, the receipt and the Tenant row go together in one transaction.
    """
    _to_public()
    if not _advisory_lock(tenant_id):
        return None
    try:
        return _purge_locked(tenant_id)
    except Exception as error:
        _purge_failure_record(tenant_id, error)
        raise
    finally:
        _to_public()
        _advisory_unlock(tenant_id)


def _purge_locked(tenant_id: int) -> PurgeReceipt | None:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None or tenant.state != Tenant.State.PURGING or tenant.is_public:
        return None
    prefix = _storage_prefix(tenant.schema_name)

    # 1. Capture what is about to go, once, before the first deletion.
    if tenant.purge_counts is None:
        with transaction.atomic():
            locked = _locked(tenant_id)
            if locked.purge_counts is None:
                locked.purge_counts = purge_counts_capture(locked)
                locked.save(update_fields=["purge_counts"])
                _audit_both(
                    locked,
                    Event.WORKSPACE_PURGE_STARTED,
                    data={"counts": locked.purge_counts},
                )
            tenant = locked

    # 2. Files and export archives: everything under the workspace's prefix.
    storage = _storage()
    for key in list(storage_keys(prefix, storage)):
        storage.delete(key)
    _storage_remove_empty_folders(prefix, storage)

    # 3. The schema and every public row, the receipt, and last the Tenant row.
    owners = _owner_emails(tenant)
    with transaction.atomic():
        locked = _locked(tenant_id)
        if locked.state != Tenant.State.PURGING:
            return None
        _host_cache_forget_on_commit(locked)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {connection.ops.quote_name(prefix)} CASCADE")
        ImpersonationHandoff.objects.filter(session__tenant_id=tenant_id).delete()
        ImpersonationSession.objects.filter(tenant_id=tenant_id).delete()
        SupportAccessGrant.objects.filter(tenant_id=tenant_id).delete()
        SupportAccessPolicy.objects.filter(tenant_id=tenant_id).delete()
        Invitation.objects.filter(tenant_id=tenant_id).delete()
        ActionCode.objects.filter(tenant_id=tenant_id).delete()
        PasswordResetToken.objects.filter(tenant_id=tenant_id).delete()
        SignInHandoff.objects.filter(tenant_id=tenant_id).delete()
        UserSession.objects.filter(tenant_id=tenant_id).delete()
        Membership.objects.filter(tenant_id=tenant_id).delete()
        Domain.objects.filter(tenant_id=tenant_id).delete()
        counts = locked.purge_counts or {}
        receipt_event = _audit_both(
            locked,
            Event.WORKSPACE_PURGED,
            data={
                "slug": locked.slug,
                "name": locked.name,
                "schema": locked.schema_name,
                "counts": counts,
                "cancelled_at": locked.cancelled_at.isoformat() if locked.cancelled_at else None,
                "archived_at": locked.archived_at.isoformat() if locked.archived_at else None,
                "purge_requested_at": (
                    locked.purge_requested_at.isoformat() if locked.purge_requested_at else None
                ),
            },
            workspace_stream=False,
        )
        # Anything a later app hangs off the tenant goes with it (Django's cascade).
        Tenant.objects.filter(pk=tenant_id).delete()
        _email_owners_on_commit(locked, "lifecycle_purged", recipients=owners)
    # A file written between step 2 and the drop (an upload or an export finishing) would be
    # orphaned: sweep the prefix once more. Best effort; nothing can reach those keys now.
    try:
        for key in list(storage_keys(prefix, storage)):
            storage.delete(key)
        _storage_remove_empty_folders(prefix, storage)
    except Exception:  # the receipt is written; a leftover object is logged, not fatal
        logger.exception("second storage sweep of purged workspace %s failed", locked.slug)
    logger.info("workspace %s purged", locked.slug)
    return PurgeReceipt(
        tenant_id=tenant_id,
        slug=locked.slug,
        schema_name=locked.schema_name,
        counts=counts,
        audit_event_id=receipt_event.pk,
    )


def _purge_failure_record(tenant_id: int, error: Exception) -> None:
    # The error's type only: a message may carry storage URLs or credentials.
    logger.error("purge of workspace %s failed: %s", tenant_id, type(error).__name__)
    try:
        with transaction.atomic():
            _to_public()
            tenant = Tenant.objects.filter(pk=tenant_id).first()
            target = Target("tenants.tenant", str(tenant_id), tenant.slug if tenant else "")
            audit_event_record(
                event_type=Event.WORKSPACE_PURGE_FAILED,
                target=target,
                outcome=Outcome.FAILURE,
                data={"error": type(error).__name__},
                stream=PLATFORM_STREAM,
                actor=None,
                actor_kind=ActorKind.SYSTEM,
            )
    except Exception:  # a broken database must not hide the original error
        logger.exception("could not record the failed purge of workspace %s", tenant_id)


# --- The daily run


@dataclass
class _Snapshot:
    """The lifecycle fields the planner reads; a dry run advances a copy of them."""

    slug: str
    state: str
    cancelled_at: datetime | None
    archived_at: datetime | None
    purge_requested_at: datetime | None
    notices: list[str]

    @classmethod
    def of(cls, tenant: Tenant) -> _Snapshot:
        return cls(
            slug=tenant.slug,
            state=tenant.state,
            cancelled_at=tenant.cancelled_at,
            archived_at=tenant.archived_at,
            purge_requested_at=tenant.purge_requested_at,
            notices=list(tenant.lifecycle_notices or []),
        )


@dataclass(frozen=True)
class _Planned:
    action: str
    due_at: datetime
    notice_keys: tuple[str, ...] = ()
    days: int = 0


def _due_notice(
    kind: str, deadline: datetime, notices: list[str], now: datetime
) -> _Planned | None:
    """The warning for ``deadline`` that is due now and unsent. When several are due (the run
    missed a day), only the closest to the deadline goes out; the earlier ones are marked
    sent too, so an owner never gets a stale "7 days" after the "1 day"."""
    due = [days for days in NOTICE_DAYS_BEFORE if now >= deadline - timedelta(days=days)]
    if not due:
        return None
    days = min(due)
    key = f"{kind}-{days}"
    if key in notices:
        return None
    keys = tuple(f"{kind}-{later}" for later in sorted(due) if f"{kind}-{later}" not in notices)
    return _Planned(f"notify-{kind}-{days}", deadline - timedelta(days=days), keys, days)


def _next_step(snapshot: _Snapshot, now: datetime) -> _Planned | None:
    if snapshot.state == Tenant.State.PURGING:
        return _Planned("purge", snapshot.purge_requested_at or now)
    if snapshot.state == Tenant.State.CANCELLED and snapshot.cancelled_at is not None:
        archive_at = snapshot.cancelled_at + timedelta(days=EXPORT_WINDOW_DAYS)
        if now >= archive_at:
            return _Planned("archive", archive_at)
        return _due_notice("archive", archive_at, snapshot.notices, now)
    if snapshot.state == Tenant.State.ARCHIVED and snapshot.archived_at is not None:
        purge_at = snapshot.archived_at + timedelta(days=ARCHIVE_DAYS)
        if now >= purge_at:
            return _Planned("purge", purge_at)
        return _due_notice("purge", purge_at, snapshot.notices, now)
    return None


def _advance(snapshot: _Snapshot, step: _Planned) -> None:
    """What a step does to the lifecycle fields (the dry run's simulation)."""
    if step.action == "archive":
        snapshot.state = Tenant.State.ARCHIVED
        snapshot.archived_at = step.due_at
        snapshot.notices = []
    elif step.notice_keys:
        snapshot.notices = [*snapshot.notices, *step.notice_keys]


# At most this many steps per workspace per run (notice, archive, notice, purge).
_MAX_STEPS_PER_RUN = 6


def _plan(tenant: Tenant, now: datetime) -> list[LifecycleStep]:
    snapshot = _Snapshot.of(tenant)
    steps = []
    for _ in range(_MAX_STEPS_PER_RUN):
        step = _next_step(snapshot, now)
        if step is None:
            break
        steps.append(LifecycleStep(snapshot.slug, step.action, step.due_at))
        if step.action == "purge":
            break
        _advance(snapshot, step)
    return steps


def _apply(tenant: Tenant, step: _Planned, now: datetime) -> None:
    """Perform one non-purge step on the locked row, inside the caller's transaction."""
    if step.action == "archive":
        before = tenant.state
        tenant.state = Tenant.State.ARCHIVED
        # The promised date, not the moment the run got to it: the purge date told to the
        # owners at cancellation stays exact.
        tenant.archived_at = step.due_at
        tenant.lifecycle_notices = []
        tenant.save(update_fields=_LIFECYCLE_FIELDS)
        _audit_both(
            tenant,
            Event.WORKSPACE_ARCHIVED,
            changes={"state": [before, tenant.state]},
            data=_dates_data(tenant),
        )
        _email_owners_on_commit(tenant, "lifecycle_archived")
        _host_cache_forget_on_commit(tenant)
        return
    kind = "archive" if step.action.startswith("notify-archive") else "purge"
    tenant.lifecycle_notices = [*(tenant.lifecycle_notices or []), *step.notice_keys]
    tenant.save(update_fields=["lifecycle_notices"])
    recipients = _owner_emails(tenant)
    _audit_both(
        tenant,
        Event.WORKSPACE_LIFECYCLE_NOTICE_SENT,
        data={
            "notice": f"{kind}-{step.days}",
            "recipients": len(recipients),
            **_dates_data(tenant),
        },
    )
    _email_owners_on_commit(
        tenant, f"lifecycle_{kind}_notice", recipients=recipients, days=step.days
    )


def _mark_purging(tenant: Tenant, now: datetime) -> None:
    """Archived past its date: close it for good and capture the receipt's counts, in the
    same transaction, before anything is deleted."""
    before = tenant.state
    tenant.state = Tenant.State.PURGING
    tenant.purge_requested_at = now
    tenant.purge_counts = purge_counts_capture(tenant)
    tenant.save(update_fields=[*_LIFECYCLE_FIELDS, "purge_counts"])
    _audit_both(
        tenant,
        Event.WORKSPACE_PURGE_STARTED,
        changes={"state": [before, tenant.state]},
        data={"counts": tenant.purge_counts},
    )
    _host_cache_forget_on_commit(tenant)


def _run_for(tenant_id: int, now: datetime) -> list[LifecycleStep]:
    done: list[LifecycleStep] = []
    for _ in range(_MAX_STEPS_PER_RUN):
        with transaction.atomic():
            _to_public()
            # Another run holding this row is doing the same work: leave it to that run.
            tenant = Tenant.objects.select_for_update(skip_locked=True).filter(pk=tenant_id).first()
            if tenant is None:
                return done
            step = _next_step(_Snapshot.of(tenant), now)
            if step is None:
                return done
            if step.action != "purge":
                _apply(tenant, step, now)
                done.append(LifecycleStep(tenant.slug, step.action, step.due_at))
                continue
            if tenant.state != Tenant.State.PURGING:
                _mark_purging(tenant, now)
            slug = tenant.slug
        try:
            receipt = workspace_purge(tenant_id=tenant_id)
        except Exception:
            done.append(LifecycleStep(slug, "purge-failed", step.due_at))
            return done
        if receipt is not None:
            done.append(LifecycleStep(slug, "purge", step.due_at))
        return done
    return done


def lifecycle_run(*, now: datetime | None = None, dry_run: bool = False) -> list[LifecycleStep]:
    """Do (or, with ``dry_run``, list) every lifecycle step that is due: warning emails,
    archiving, purging. Idempotent: a second run at the same moment finds nothing to do."""
    now = now or timezone.now()
    _to_public()
    tenant_ids = list(
        Tenant.objects.filter(
            state__in=[Tenant.State.CANCELLED, Tenant.State.ARCHIVED, Tenant.State.PURGING]
        )
        .exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    steps: list[LifecycleStep] = []
    for tenant_id in tenant_ids:
        if dry_run:
            tenant = Tenant.objects.filter(pk=tenant_id).first()
            if tenant is not None:
                steps.extend(_plan(tenant, now))
            continue
        try:
            steps.extend(_run_for(tenant_id, now))
        except Exception:
            # One broken workspace must not stop the others; the next run tries again.
            logger.exception("lifecycle step failed for workspace %s", tenant_id)
    _to_public()
    return steps
