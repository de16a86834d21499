"""The purge: a workspace that is PURGING is permanently deleted, and the platform keeps its
receipt.

Invariant: a purge happens only when a genuine, keyed decision allows it
(``proof.purge_authorization``: the owner's "delete now", or the owner's cancellation whose
purge date has come), never on the word of the Tenant row, which SQL on a runtime connection
can rewrite. It then captures ``purge_counts`` (what is about to be deleted), deletes the
stored files, and - in one transaction - writes the platform receipt (WORKSPACE_PURGED,
carrying those counts, the schema's name and object id, and the decision it rests on) and
deletes the Tenant row, whose declared ``on_delete=CASCADE`` relations take every public row
of the workspace with it (members, invitations, sessions, support grants, domains, ...; nothing
here lists them). From then on the schema is unreachable (no row, no host) and waits for the
OWNER side, which alone may drop it: the owner-queue task ``purged_schemas_drop`` is queued
after commit, and the owner queue sweeps every five minutes, so a lost task loses nothing
(``schema_drop``). The runtime role can cause no DDL. The platform audit stream holds no
foreign key to the Tenant, so the receipt and the events before it stay.
Each step is safe to repeat: a purge that died half-way is finished by the next
``lifecycle_run`` with the counts captured before the first deletion. A purge holds a session
advisory lock keyed by the tenant's id for its whole length, so two never overlap.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_exists, tenant_context

from audit.events import Event
from audit.models import AuditEvent, Outcome
from audit.services import PLATFORM_STREAM, Target, audit_event_record
from kernel.context import ActorKind
from rbac.models import Invitation, Membership
from support.models import ImpersonationSession, SupportAccessGrant
from tenants.models import Domain, Tenant

from ..tasks import purged_schemas_drop_task
from ._common import audit_both, host_cache_forget_on_commit, locked, to_public
from .notices import email_owners_on_commit, owner_emails
from .proof import PurgeNotAuthorized, purge_authorization, schema_oid

logger = logging.getLogger("workspace.lifecycle")

# pg_try_advisory_lock(int, int) namespace for purges; the second key is the tenant's id.
PURGE_LOCK_NAMESPACE = 0x50524745  # "PRGE"
# Tenant models counted for the receipt: every model of every app in TENANT_APPS except
# Django's content-type lookup table and the audit stream (counted as ``audit_events``).
_NOT_COUNTED_TENANT_APPS = frozenset({"contenttypes", "audit"})


@dataclass(frozen=True)
class PurgeReceipt:
    """What a completed purge removed; the same counts are in the platform receipt event."""

    tenant_id: int
    slug: str
    schema_name: str
    counts: dict[str, Any] = field(default_factory=dict)
    audit_event_id: int | None = None
    schema_oid: int | None = None  # the schema the owner side drops on this receipt


# --- Stored files


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


# --- The receipt's counts


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
    to_public()
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


# --- The purge


def _advisory_lock(tenant_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [PURGE_LOCK_NAMESPACE, tenant_id])
        return bool(cursor.fetchone()[0])


def _advisory_unlock(tenant_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [PURGE_LOCK_NAMESPACE, tenant_id])


def workspace_purge(*, tenant_id: int) -> PurgeReceipt | None:
    """Permanently delete a workspace that is PURGING; None when there is nothing to do (no
    such workspace, not PURGING, or another process is purging it right now). Raises
    ``PurgeNotAuthorized`` (recorded as WORKSPACE_PURGE_FAILED with its reason, nothing
    deleted) when no genuine decision allows it.

    Idempotent and crash-safe: counts are captured (and committed) before anything is
    deleted; files are deleted next (deleting what is left is harmless); the receipt and the
    Tenant row with every public row hanging off it go together in one transaction; the schema
    is dropped afterwards by the owner side on the proof of that receipt.
    """
    to_public()
    if not _advisory_lock(tenant_id):
        return None
    try:
        return _purge_locked(tenant_id)
    except Exception as error:
        _purge_failure_record(tenant_id, error)
        raise
    finally:
        to_public()
        _advisory_unlock(tenant_id)


def _purge_locked(tenant_id: int) -> PurgeReceipt | None:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None or tenant.state != Tenant.State.PURGING or tenant.is_public:
        return None
    prefix = _storage_prefix(tenant.schema_name)
    # 0. Before anything is deleted: a genuine decision, not the row's word (proof.py).
    purge_authorization(tenant_id=tenant_id, schema_name=tenant.schema_name, at=timezone.now())

    # 1. Capture what is about to go, once, before the first deletion.
    if tenant.purge_counts is None:
        with transaction.atomic():
            row = locked(tenant_id)
            if row.purge_counts is None:
                row.purge_counts = purge_counts_capture(row)
                row.save(update_fields=["purge_counts"])
                audit_both(row, Event.WORKSPACE_PURGE_STARTED, data={"counts": row.purge_counts})
            tenant = row

    # 2. Files and export archives: everything under the workspace's prefix.
    storage_prefix_sweep(prefix)

    # 3. The receipt, and last the Tenant row with every public row of it. The schema stays,
    # unreachable, for the owner side (4.), which drops it on this receipt.
    owners = owner_emails(tenant)
    with transaction.atomic():
        row = locked(tenant_id)
        if row.state != Tenant.State.PURGING:
            return None
        decision = purge_authorization(
            tenant_id=tenant_id, schema_name=row.schema_name, at=timezone.now()
        )
        host_cache_forget_on_commit(row)
        counts = row.purge_counts or {}
        oid = schema_oid(row.schema_name)
        receipt_event = audit_both(
            row,
            Event.WORKSPACE_PURGED,
            data={
                "slug": row.slug,
                "name": row.name,
                "schema": row.schema_name,
                "schema_oid": oid,
                "counts": counts,
                "authorized_by": {"event": decision.event_name, "sequence": decision.sequence},
                "cancelled_at": row.cancelled_at.isoformat() if row.cancelled_at else None,
                "archived_at": row.archived_at.isoformat() if row.archived_at else None,
                "purge_requested_at": (
                    row.purge_requested_at.isoformat() if row.purge_requested_at else None
                ),
            },
            workspace_stream=False,
        )
        # Memberships, invitations, sessions and their hand-off tokens, action codes, password
        # resets, support grants, impersonation sessions, the support switch, domains: each
        # declares on_delete=CASCADE to the Tenant (or to one of those), so Django's collector
        # deletes them here, in this transaction, in dependency order.
        Tenant.objects.filter(pk=tenant_id).delete()
        email_owners_on_commit(row, "lifecycle_purged", recipients=owners)
        # 4. The owner side drops the schema and its role (and sweeps every five minutes).
        schema_name = row.schema_name
        transaction.on_commit(lambda: purged_schemas_drop_task.delay(schema_name=schema_name))
    # A file written between step 2 and the receipt (an upload or an export finishing) would be
    # orphaned: sweep the prefix once more (the owner side sweeps again after the drop). Best
    # effort; nothing can reach those keys now.
    try:
        storage_prefix_sweep(prefix)
    except Exception:  # the receipt is written; a leftover object is logged, not fatal
        logger.exception("second storage sweep of purged workspace %s failed", row.slug)
    logger.info("workspace %s purged; its schema waits for the owner side", row.slug)
    return PurgeReceipt(
        tenant_id=tenant_id,
        slug=row.slug,
        schema_name=row.schema_name,
        counts=counts,
        audit_event_id=receipt_event.pk,
        schema_oid=oid,
    )


def storage_prefix_sweep(schema_name: str) -> int:
    """Delete every stored key under a workspace's prefix (a purge's files, or what was written
    after it); return how many."""
    prefix = _storage_prefix(schema_name)
    storage = _storage()
    keys = list(storage_keys(prefix, storage))
    for key in keys:
        storage.delete(key)
    _storage_remove_empty_folders(prefix, storage)
    return len(keys)


def _purge_failure_record(tenant_id: int, error: Exception) -> None:
    # The error's type only: a message may carry storage URLs or credentials.
    logger.error("purge of workspace %s failed: %s", tenant_id, type(error).__name__)
    data = {"error": type(error).__name__}
    if isinstance(error, PurgeNotAuthorized):  # our own constant: no storage URL, no secret
        data["reason"] = error.reason
    try:
        with transaction.atomic():
            to_public()
            tenant = Tenant.objects.filter(pk=tenant_id).first()
            target = Target("tenants.tenant", str(tenant_id), tenant.slug if tenant else "")
            audit_event_record(
                event_type=Event.WORKSPACE_PURGE_FAILED,
                target=target,
                outcome=Outcome.FAILURE,
                data=data,
                stream=PLATFORM_STREAM,
                actor=None,
                actor_kind=ActorKind.SYSTEM,
            )
    except Exception:  # a broken database must not hide the original error
        logger.exception("could not record the failed purge of workspace %s", tenant_id)
