"""The workspace cancellation lifecycle: cancel, archive, restore, delete, purge.

    active --cancel (owner)--> cancelled --30 days--> archived --60 days--> purging --> gone
      ^                            |                      |
      +------restore (support)-----+----------------------+
    active / cancelled --delete now (owner)--> purging --> gone

Where each part lives:
- ``transitions``: what people do (the owner cancels or deletes now, support restores);
- ``schedule``: the daily run that applies what has come due; the dates and the plan
  themselves are pure and live a floor below, in ``tenants.schedule``;
- ``purge``: the permanent deletion and its receipt;
- ``proof``: the keyed evidence a purge and a drop rest on (the decision, the receipt);
- ``schema_drop``: the OWNER side's drop of a purged workspace's schema and role;
- ``notices``: the emails to the owners.

Invariants:
- Every transition happens here, in one short transaction that locks the Tenant row, writes
  its audit event to the workspace's own stream (while that stream exists) and to the
  platform stream (``audit.services.audit_event_record_both``), and sends email / enqueues
  work only after commit.
- ``lifecycle_notices`` names the warning emails already sent for the current state
  ("archive-7", "purge-1", ...), so none is ever sent twice; cancel, archive and restore
  reset it.
- A purge happens only on a genuine keyed decision (the owner's "delete now", or their
  cancellation whose purge date has come; ``proof.purge_authorization``), never on the row's
  word. It first captures ``purge_counts`` (what is about to be deleted), then deletes the
  stored files, then - in one transaction - writes the platform receipt (WORKSPACE_PURGED,
  carrying those counts and the schema's name and oid) and deletes the Tenant row last, which
  takes every public row of the workspace with it through the declared cascades. The schema,
  unreachable from then on, is dropped with its role by the owner-queue worker on the proof of
  that receipt (``schema_drop``; WORKSPACE_SCHEMA_DROPPED); the runtime role causes no DDL.
  Each step is safe to repeat: a purge that died half-way is finished by the next
  :func:`lifecycle_run` with the counts captured before the first deletion, and a drop that
  did not happen by the owner queue's five-minute sweep.
- Concurrent runs never do the same step twice: a run takes each tenant's row with
  ``SELECT ... FOR UPDATE SKIP LOCKED`` and a purge holds a session advisory lock keyed by the
  tenant's id for its whole length.
- The deadlines are computed from the timestamps (``lifecycle_dates``), never stored, so what
  the pages show, what the emails promise and what the run does cannot disagree.
"""

from tenants.schedule import (
    ARCHIVE_DAYS,
    EXPORT_WINDOW_DAYS,
    MAX_STEPS_PER_RUN,
    NOTICE_DAYS_BEFORE,
    LifecycleDates,
    LifecycleSnapshot,
    LifecycleStep,
    PlannedStep,
    advance,
    due_notice,
    lifecycle_dates,
    lifecycle_plan,
    next_step,
)

from ._common import audit_both as _audit_both
from .proof import DropNotProven, PurgeNotAuthorized, purge_authorization, schema_drop_proof
from .purge import (
    PURGE_LOCK_NAMESPACE,
    PurgeReceipt,
    purge_counts_capture,
    storage_keys,
    workspace_purge,
)
from .schedule import lifecycle_run
from .transitions import (
    CANCEL_NOT_ACTIVE,
    DELETE_NOT_ALLOWED,
    NOT_A_MEMBER,
    RESTORE_NOT_AN_AGENT,
    RESTORE_NOT_RESTORABLE,
    RESTORE_REASON_REQUIRED,
    TYPED_SLUG_MISMATCH,
    workspace_cancel,
    workspace_delete_now,
    workspace_restore,
)

# The names the planner had when it lived in the single module workspace/lifecycle.py.
_Snapshot = LifecycleSnapshot
_Planned = PlannedStep
_MAX_STEPS_PER_RUN = MAX_STEPS_PER_RUN
_due_notice = due_notice
_next_step = next_step
_advance = advance
_plan = lifecycle_plan

__all__ = [
    "ARCHIVE_DAYS",
    "CANCEL_NOT_ACTIVE",
    "DELETE_NOT_ALLOWED",
    "EXPORT_WINDOW_DAYS",
    "MAX_STEPS_PER_RUN",
    "NOTICE_DAYS_BEFORE",
    "NOT_A_MEMBER",
    "PURGE_LOCK_NAMESPACE",
    "RESTORE_NOT_AN_AGENT",
    "RESTORE_NOT_RESTORABLE",
    "RESTORE_REASON_REQUIRED",
    "TYPED_SLUG_MISMATCH",
    "DropNotProven",
    "LifecycleDates",
    "LifecycleSnapshot",
    "LifecycleStep",
    "PlannedStep",
    "PurgeNotAuthorized",
    "PurgeReceipt",
    "_audit_both",
    "advance",
    "due_notice",
    "lifecycle_dates",
    "lifecycle_plan",
    "lifecycle_run",
    "next_step",
    "purge_authorization",
    "purge_counts_capture",
    "schema_drop_proof",
    "storage_keys",
    "workspace_cancel",
    "workspace_delete_now",
    "workspace_purge",
    "workspace_restore",
]
