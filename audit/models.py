"""The audit stream: one append-only, hash-chained table per schema.

Invariant: a row is written only by :func:`audit.services.audit_event_record` (django-auditlog
reaches it through :meth:`AuditEventManager.log_create`), inside the transaction of the change
it records, while holding the stream's lock. Each schema's table is one stream: a workspace's
events live in its own schema, platform events in ``public``. Rows are never updated or
deleted: PostgreSQL triggers refuse UPDATE, DELETE and TRUNCATE (migration 0002), and
``sequence``/``prev_hash``/``hash`` chain every row to the one before it with an HMAC under a
key the database never holds (``key_id`` names it), which ``manage.py audit_verify``
recomputes and checks against the signed digests anchored outside the database.

The actor and on-behalf-of users are snapshots (id, name, email) rather than foreign keys
with a constraint: users live in ``public``, the row must survive the user's deletion, and
Django's SET_NULL would have to UPDATE an append-only row.
"""

from __future__ import annotations

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.conf import settings
from django.db import models

from kernel.context import ActorKind

from .events import event_label, event_name


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class AuditEventManager(LogEntryManager):
    """django-auditlog's entry point: its signal receivers call ``log_create`` for registered
    models. We route those field-level changes through the one helper so they get the same
    actor context, stream lock and hash chain as every other event."""

    def log_create(self, instance, force_log: bool = False, **kwargs):
        from .services import audit_record_change

        changes = kwargs.get("changes")
        if changes is None and not force_log:
            return None
        return audit_record_change(instance=instance, action=kwargs["action"], changes=changes)

    def log_m2m_changes(self, changed_queryset, instance, operation, field_name, **kwargs):
        from .services import audit_record_change

        if not changed_queryset:
            return None
        objects = [str(item) for item in changed_queryset]
        changes = {field_name: {"type": "m2m", "operation": operation, "objects": objects}}
        return audit_record_change(
            instance=instance, action=AbstractLogEntry.Action.UPDATE, changes=changes
        )


class AuditEvent(AbstractLogEntry):
    """One event in a stream; see the module docstring for the invariants."""

    # django-auditlog's fields we do not use. Content types in particular are per schema here
    # and ContentType's cache is not, so the target is named by ``target_type`` instead.
    content_type = None
    object_pk = None
    object_id = None
    object_repr = None
    serialized_data = None
    changes_text = None
    cid = None
    remote_port = None

    sequence = models.PositiveBigIntegerField(unique=True, editable=False)
    event_type = models.PositiveIntegerField(db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    # timestamp (inherited): when it happened. action (inherited): auditlog's 0/1/2 for
    # record changes, empty for everything else.
    action = models.PositiveSmallIntegerField(
        choices=AbstractLogEntry.Action.choices, null=True, blank=True
    )

    actor_kind = models.CharField(max_length=20, choices=ActorKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True, default="")
    actor_email = models.CharField(max_length=254, blank=True, default="")
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    on_behalf_of_name = models.CharField(max_length=150, blank=True, default="")
    on_behalf_of_email = models.CharField(max_length=254, blank=True, default="")

    remote_addr = models.CharField("IP address", max_length=45, blank=True, default="")
    user_agent = models.CharField(max_length=512, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")

    target_type = models.CharField(max_length=100, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    target_label = models.CharField(max_length=200, blank=True, default="")
    # changes (inherited): {field: [before, after]}. additional_data (inherited): event details.

    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)
    # How ``hash`` is computed (audit.chain): 1 = plain SHA-256 (events written before keyed
    # chains; the column's default fills them in), 2 = HMAC-SHA-256 under the key ``key_id``
    # names. The key itself lives in the environment, never here.
    # db_default too: a row inserted by hand without them reads as unkeyed, which the
    # verifier refuses anywhere after the first keyed event.
    chain_version = models.PositiveSmallIntegerField(default=1, db_default=1, editable=False)
    key_id = models.CharField(max_length=32, blank=True, default="", db_default="", editable=False)

    objects = AuditEventManager()

    class Meta:
        ordering = ["-sequence"]
        get_latest_by = "sequence"
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target_idx")]

    def __str__(self) -> str:
        label = f" {self.target_label}" if self.target_label else ""
        return f"#{self.sequence} {self.event_name}{label}"

    @property
    def event_name(self) -> str:
        return event_name(self.event_type)

    @property
    def event_label(self) -> str:
        return event_label(self.event_type)

    @property
    def changes_rows(self) -> list[tuple[str, object, object]]:
        """(field, before, after) for the detail page's diff."""
        rows = []
        for field, values in sorted((self.changes or {}).items()):
            if isinstance(values, list | tuple) and len(values) == 2:
                rows.append((field, values[0], values[1]))
            else:
                rows.append((field, None, values))
        return rows
