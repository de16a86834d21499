"""Workspaces (tenants) and the hostnames that resolve to them.

Invariant: a Tenant owns exactly one PostgreSQL schema (``schema_name``); every business row
of the workspace lives in that schema. The public tenant (schema ``public``) is the platform
site itself and has no members.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django_tenants.models import DomainMixin, TenantMixin

TENANT_SLUG_LOWER_UNIQUE = "tenant_slug_lower_unique"
TENANT_SCHEMA_LOWER_UNIQUE = "tenant_schema_name_lower_unique"
DOMAIN_LOWER_UNIQUE = "domain_domain_lower_unique"
SCHEMA_NAME_TAKEN = "schema_name_taken"  # the code of the ValidationError saying so

# Session policy bounds an owner may choose within (settings:security); the gate enforces the
# chosen values (accounts.sessions). Defaults: idle 2 hours, absolute 12 hours.
SESSION_IDLE_MINUTES_MIN = 5
SESSION_IDLE_MINUTES_MAX = 24 * 60
SESSION_IDLE_MINUTES_DEFAULT = 2 * 60
SESSION_ABSOLUTE_HOURS_MIN = 1
SESSION_ABSOLUTE_HOURS_MAX = 30 * 24
SESSION_ABSOLUTE_HOURS_DEFAULT = 12


class Tenant(TenantMixin):
    """A workspace: one shop, one schema, reached at ``<slug>.<APP_DOMAIN>``."""

    class State(models.TextChoices):
        # The lifecycle (workspace.lifecycle): active -> cancelled (30 days, read-only, owners
        # export) -> archived (60 days, closed; support may restore) -> purging (closed; the
        # purge task drops the schema, deletes the files and, last, this row). Immediate
        # deletion goes straight to purging.
        ACTIVE = "active", "Active"
        CANCELLED = "cancelled", "Cancelled (export only)"
        ARCHIVED = "archived", "Archived"
        PURGING = "purging", "Being deleted"

    class BillingStatus(models.TextChoices):
        # Written by billing (Stripe webhooks, a later issue) and by the lifecycle; the
        # support console shows it.
        TRIALING = "trialing", "Trial"
        ACTIVE = "active", "Paying"
        PAST_DUE = "past_due", "Past due"
        CANCELLED = "cancelled", "Cancelled"

    class BillingInterval(models.TextChoices):
        MONTHLY = "monthly", "Monthly"
        ANNUAL = "annual", "Annual"

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    state = models.CharField(max_length=20, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    # Security settings (owner, settings:security): session timeouts within the bounds above,
    # and whether members given a temporary password by an admin must choose their own first.
    session_idle_minutes = models.PositiveIntegerField(
        default=SESSION_IDLE_MINUTES_DEFAULT,
        validators=[
            MinValueValidator(SESSION_IDLE_MINUTES_MIN),
            MaxValueValidator(SESSION_IDLE_MINUTES_MAX),
        ],
    )
    session_absolute_hours = models.PositiveIntegerField(
        default=SESSION_ABSOLUTE_HOURS_DEFAULT,
        validators=[
            MinValueValidator(SESSION_ABSOLUTE_HOURS_MIN),
            MaxValueValidator(SESSION_ABSOLUTE_HOURS_MAX),
        ],
    )
    first_sign_in_password_change = models.BooleanField(default=True)
    # Two-factor requirement (accounts.twofactor): members whose session starts at or after
    # ``require_2fa_since`` must enroll before they reach anything else; sessions that began
    # earlier run until they end.
    require_2fa = models.BooleanField(default=False)
    require_2fa_since = models.DateTimeField(null=True, blank=True)
    # Billing-level facts (the support console shows these and nothing finer).
    plan = models.CharField(max_length=40, default="trial")
    # How the plan is billed. Customers on annual plans are promised 30 days' notice of a
    # sub-processor change (subprocessors.services); written by billing (a later issue).
    billing_interval = models.CharField(
        max_length=10, choices=BillingInterval.choices, default=BillingInterval.MONTHLY
    )
    billing_status = models.CharField(
        max_length=20, choices=BillingStatus.choices, default=BillingStatus.TRIALING
    )
    # Lifecycle timestamps (workspace.lifecycle): when the state was entered; the deadlines are
    # computed from these. ``lifecycle_notices`` records the warning emails already sent for
    # the current state ("archive-7", "purge-1", ...) so the daily task never sends one twice;
    # ``purge_counts`` is captured before anything is deleted and becomes the receipt.
    cancelled_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    purge_requested_at = models.DateTimeField(null=True, blank=True)
    lifecycle_notices = models.JSONField(default=list, blank=True)
    purge_counts = models.JSONField(null=True, blank=True)

    # Schemas are created by tenants.services.tenant_provision (clone + verify), never as a
    # side effect of save().
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    session_idle_minutes__gte=SESSION_IDLE_MINUTES_MIN,
                    session_idle_minutes__lte=SESSION_IDLE_MINUTES_MAX,
                ),
                name="tenant_session_idle_within_bounds",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    session_absolute_hours__gte=SESSION_ABSOLUTE_HOURS_MIN,
                    session_absolute_hours__lte=SESSION_ABSOLUTE_HOURS_MAX,
                ),
                name="tenant_session_absolute_within_bounds",
            ),
            # Case-variant duplicates are refused by the database through unique indexes on
            # the lowered values, which is also what makes the "already taken?" checks one
            # index probe instead of a scan of every workspace row (django-tenants' own
            # check asks ``schema_name__iexact``: UPPER(...) = UPPER(...), no index).
            models.UniqueConstraint(Lower("slug"), name=TENANT_SLUG_LOWER_UNIQUE),
            models.UniqueConstraint(Lower("schema_name"), name=TENANT_SCHEMA_LOWER_UNIQUE),
        ]

    def __str__(self) -> str:
        return self.name or self.schema_name

    def _check_schema_name_is_unique(self) -> None:
        # django-tenants' check is a case-insensitive scan of every workspace row; this one
        # probes the unique index on lower(schema_name). Same refusal, same message.
        taken = (
            Tenant.objects.alias(schema_lower=Lower("schema_name"))
            .filter(schema_lower=self.schema_name.lower())
            .exists()
        )
        if taken:
            raise ValidationError(
                f"A tenant with the schema name '{self.schema_name}' already exists. Schema "
                "names are compared ignoring case.",
                code=SCHEMA_NAME_TAKEN,
            )

    @property
    def is_public(self) -> bool:
        return self.schema_name == "public"

    # What may be written in each lifecycle state: the rule is tenants.writability's; these
    # read it for templates and the gate.
    @property
    def takes_writes(self) -> bool:
        from .writability import takes_writes

        return takes_writes(self.state)

    @property
    def is_read_only(self) -> bool:
        from .writability import READ_ONLY_STATES

        return self.state in READ_ONLY_STATES

    @property
    def is_closed(self) -> bool:
        from .writability import CLOSED_STATES

        return self.state in CLOSED_STATES


class Domain(DomainMixin):
    """A hostname that resolves to a tenant; the gate caches this lookup.

    Invariant: hostnames are unique case-insensitively (a unique index on lower(domain)):
    hosts are compared lowercased, so ``Acme.example`` and ``acme.example`` are one host.
    """

    class Meta:
        constraints = [models.UniqueConstraint(Lower("domain"), name=DOMAIN_LOWER_UNIQUE)]

    def __str__(self) -> str:
        return self.domain


class UnsentTask(models.Model):
    """A Celery task the broker could not take (Redis down), kept until it can be sent.

    Invariant: written only when publishing failed (``kernel.tasks.QueuedTask``) and deleted
    once the broker took it (``tenants.outbox.unsent_tasks_send``, every minute on beat), so
    the table is empty while the broker answers. The payload (task, arguments, routing) is
    encrypted and authenticated under a key derived from ``SECRET_KEY``, which the database
    never holds: an invitation link or a one-time code in a task's arguments stays unreadable
    here, and a row written by anyone without the key is discarded, never run. A workspace's
    task names its tenant in its own arguments (``tenant_schema``), copied to a column for
    operators. Platform-level: rows are written and read only in the public context (row-level
    security, migration 0007); a workspace's database role sees none. Identical pending tasks
    are kept once (``fingerprint``): tasks are idempotent, so one message does the work.
    """

    task_id = models.CharField(max_length=64, unique=True)  # Celery's id; the re-send keeps it
    task_name = models.CharField(max_length=200)
    tenant_schema = models.CharField(max_length=63, blank=True)
    fingerprint = models.CharField(max_length=64, unique=True)  # keyed digest of the payload
    payload = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.task_name} ({self.task_id})"
