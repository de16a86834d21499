"""The service desk of one workspace: tickets, their conversation and attachments, the SLA
policy and overrides, and customer companies' assets.

Invariants for every model here: its table lives in the workspace's own schema (desk is a
TENANT_APP). ``company_id`` names a customer company of the workspace through rbac's
declared provider (``rbac.companies``): the desk imports no other business app, so there is
no foreign key to the company table, and deleting a company removes its desk records through
the ``company_records`` declaration (``desk.companies``). Rows are written only by
``desk.services``; reads that depend on who is looking go through ``desk.selectors``.
"""

from __future__ import annotations

import os
from datetime import time

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q

# Length limits of the free-text fields (kernel.text: every TextField declares one).
NOTES_MAX_LENGTH = 10_000
DESCRIPTION_MAX_LENGTH = 20_000
MESSAGE_MAX_LENGTH = 20_000
REASON_MAX_LENGTH = 2_000


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


PRIORITY_ORDER = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


def default_business_days() -> list[int]:
    return [0, 1, 2, 3, 4]  # Monday to Friday


def default_customer_priorities() -> list[str]:
    return [Priority.LOW.value, Priority.NORMAL.value, Priority.HIGH.value]


def default_categories() -> list[str]:
    return ["Question", "Incident", "Service request", "Maintenance"]


class SlaPolicy(models.Model):
    """The workspace's SLA policy: one row (``services.sla_policy_current`` creates it).

    Invariants: every target is a positive number of business minutes; business hours are
    ``day_start`` < ``day_end`` on ``business_days`` (0 = Monday) in ``time_zone`` (an IANA
    name; the workspace's time zone for the desk), except ``holidays`` (ISO dates). Changing
    the policy applies to tickets opened afterwards; open tickets keep their due times unless
    the person saving it chooses to recompute them (``services.sla_policy_update``).
    """

    name = models.CharField(max_length=100, default="Standard support")
    time_zone = models.CharField(max_length=64, default="Europe/Amsterdam")
    business_days = models.JSONField(default=default_business_days)
    day_start = models.TimeField(default=time(9, 0))
    day_end = models.TimeField(default=time(17, 0))
    holidays = models.JSONField(default=list, blank=True)
    at_risk_percent = models.PositiveSmallIntegerField(
        default=75, help_text="A ticket is at risk once this share of its target has elapsed."
    )
    low_first_response_minutes = models.PositiveIntegerField(default=8 * 60)
    low_resolution_minutes = models.PositiveIntegerField(default=5 * 8 * 60)
    normal_first_response_minutes = models.PositiveIntegerField(default=4 * 60)
    normal_resolution_minutes = models.PositiveIntegerField(default=3 * 8 * 60)
    high_first_response_minutes = models.PositiveIntegerField(default=60)
    high_resolution_minutes = models.PositiveIntegerField(default=8 * 60)
    urgent_first_response_minutes = models.PositiveIntegerField(default=30)
    urgent_resolution_minutes = models.PositiveIntegerField(default=4 * 60)
    customer_priorities = models.JSONField(default=default_customer_priorities)
    categories = models.JSONField(default=default_categories)
    reopen_window_days = models.PositiveSmallIntegerField(default=7)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(day_start__lt=models.F("day_end")), name="slapolicy_day_start_first"
            ),
            models.CheckConstraint(
                condition=Q(at_risk_percent__gte=1, at_risk_percent__lte=99),
                name="slapolicy_at_risk_percent_1_to_99",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def targets(self, priority: str) -> tuple[int, int]:
        """(first response, resolution) in business minutes for ``priority``."""
        return (
            getattr(self, f"{priority}_first_response_minutes"),
            getattr(self, f"{priority}_resolution_minutes"),
        )


class TicketSequence(models.Model):
    """The last ticket number handed out (T-00001 upwards), locked while it is taken."""

    last_value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.last_value)


class Asset(models.Model):
    """Equipment of one customer company (a printer, a router, a sign). Invariant: belongs to
    exactly one company, which never changes."""

    class Status(models.TextChoices):
        ACTIVE = "active", "In service"
        MAINTENANCE = "maintenance", "In maintenance"
        RETIRED = "retired", "Retired"

    company_id = models.PositiveBigIntegerField(db_index=True)
    asset_type = models.CharField("Type", max_length=80)
    name = models.CharField(max_length=200)
    serial = models.CharField("Serial number or tag", max_length=100, blank=True)
    location = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True, max_length=NOTES_MAX_LENGTH)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["active", "maintenance", "retired"]),
                name="asset_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.serial})" if self.serial else self.name


class Ticket(models.Model):
    """A customer's request, numbered T-00001 upwards per workspace.

    Invariants: status changes follow ``services.TICKET_STATUS_TRANSITIONS``; ``company_id``
    never changes; the requester is the member who submitted it or the contact staff opened
    it for (name and email kept as given); ``sla_due_at``/``sla_risk_at`` are the running
    target's due and at-risk times (None while paused, met or waived), so the queue filters
    and sorts by SLA state with an index instead of computing it per row (``desk.sla``);
    ``sla_breached`` stays true once a target was missed. A merged ticket is closed and
    points at the ticket it was merged into.
    """

    class Status(models.TextChoices):
        NEW = "new", "New"
        OPEN = "open", "Open"
        PENDING_CUSTOMER = "pending_customer", "Pending customer"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    number = models.CharField(max_length=20, unique=True, editable=False)
    company_id = models.PositiveBigIntegerField()
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requester_name = models.CharField(max_length=150)
    requester_email = models.EmailField(blank=True)
    subject = models.CharField(max_length=200)
    description = models.TextField(max_length=DESCRIPTION_MAX_LENGTH)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    category = models.CharField(max_length=80, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    watchers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    tags = models.JSONField(default=list, blank=True)
    assets = models.ManyToManyField(Asset, blank=True, related_name="tickets")
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The SLA clocks (desk.sla): due and at-risk times per target, None when waived or unset.
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    first_response_risk_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    resolution_risk_at = models.DateTimeField(null=True, blank=True)
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_risk_at = models.DateTimeField(null=True, blank=True)
    sla_breached = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["new", "open", "pending_customer", "resolved", "closed"]),
                name="ticket_status_known",
            ),
            models.CheckConstraint(
                condition=Q(priority__in=["low", "normal", "high", "urgent"]),
                name="ticket_priority_known",
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved") | Q(resolved_at__isnull=False),
                name="ticket_resolved_has_resolved_at",
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | Q(closed_at__isnull=False),
                name="ticket_closed_has_closed_at",
            ),
        ]
        indexes = [
            # The queue: a customer's company, the open statuses, the SLA state filters.
            models.Index(fields=["company_id", "-created_at"], name="ticket_company_created"),
            models.Index(fields=["status", "-created_at"], name="ticket_status_created"),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_status"),
            models.Index(fields=["sla_due_at"], name="ticket_sla_due"),
            models.Index(fields=["sla_risk_at"], name="ticket_sla_risk"),
            # The unfiltered queue's order, priority filters, the tag filter (jsonb @>), and
            # the dashboard's last-30-days figures: each reads what it shows, not the whole
            # history (bench/bench_desk.py: 100,000 tickets against 1,000).
            models.Index(fields=["-created_at", "-id"], name="ticket_created"),
            models.Index(fields=["status", "priority"], name="ticket_status_priority"),
            GinIndex(fields=["tags"], name="ticket_tags", opclasses=["jsonb_path_ops"]),
            # A tag among the open tickets (the active filter and the saved views with a tag):
            # the whole-table index above reads every ticket carrying the tag, closed history
            # included; this one only the open backlog.
            GinIndex(
                fields=["tags"],
                name="ticket_open_tags",
                opclasses=["jsonb_path_ops"],
                condition=Q(status__in=["new", "open", "pending_customer"]),
            ),
            models.Index(fields=["first_responded_at"], name="ticket_first_responded"),
            models.Index(fields=["resolved_at"], name="ticket_resolved"),
            models.Index(fields=["closed_at"], name="ticket_closed"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status not in (self.Status.RESOLVED, self.Status.CLOSED)


class TicketMessage(models.Model):
    """One entry of a ticket's conversation: a public reply (the customer sees it and is
    emailed) or an internal note (staff only: never on a portal page, in a customer's email
    or in anything a customer can download)."""

    class Kind(models.TextChoices):
        REPLY = "reply", "Public reply"
        NOTE = "note", "Internal note"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REPLY)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField(max_length=150)
    from_customer = models.BooleanField(default=False)
    body = models.TextField(max_length=MESSAGE_MAX_LENGTH)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["reply", "note"]), name="ticketmessage_kind_known"
            ),
            models.CheckConstraint(
                condition=~Q(kind="note", from_customer=True),
                name="ticketmessage_customers_write_no_notes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.ticket_id}"

    @property
    def is_internal(self) -> bool:
        return self.kind == self.Kind.NOTE


class TicketAttachment(models.Model):
    """A file attached to a ticket, in private storage under ``<schema>/files/<uuid4>``,
    sniffed from its bytes (``kernel.storage``), served only through the download views.
    ``internal`` attachments (added with an internal note) are staff-only."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        TicketMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    internal = models.BooleanField(default=False)
    original_filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    extension = models.CharField(max_length=10)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_key = models.CharField(max_length=255, unique=True, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(size__gt=0), name="ticketattachment_size_positive")
        ]

    def __str__(self) -> str:
        return self.original_filename

    @property
    def download_filename(self) -> str:
        """The user's name, always ending in the extension of what the bytes are."""
        extension = os.path.splitext(self.original_filename)[1].lower().lstrip(".")
        aliases = {"jpg": ("jpg", "jpeg", "jpe"), "tif": ("tif", "tiff")}
        if extension in aliases.get(self.extension, (self.extension,)):
            return self.original_filename
        return f"{self.original_filename}.{self.extension}"


class SlaOverride(models.Model):
    """A staff member extended or waived one SLA target of a ticket, with a reason.

    Invariant: written only by ``services.sla_override`` with the event desk.sla.overridden
    (before -> after, reason); customers see the resulting due time, never the reason."""

    class Target(models.TextChoices):
        FIRST_RESPONSE = "first_response", "First response"
        RESOLUTION = "resolution", "Resolution"

    class Kind(models.TextChoices):
        EXTEND = "extend", "Extend"
        WAIVE = "waive", "Waive"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_overrides")
    target = models.CharField(max_length=20, choices=Target.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reason = models.TextField(max_length=REASON_MAX_LENGTH)
    due_before = models.DateTimeField(null=True, blank=True)
    due_after = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.get_target_display()} of {self.ticket_id}"


class SlaPause(models.Model):
    """One period a ticket's SLA clocks stood still because it was pending the customer.

    Why stored and not derived: a ticket's due times are its opening plus the policy's
    target plus these pauses (``desk.sla.clock_replay``). The stored due times hold the pauses
    only folded into one number under the calendar of the day, and that number cannot be
    taken apart again once the policy (targets, business hours, holidays) or the priority
    changes, or once a merge or status edit rewrites the history; recomputing a ticket's due
    times (a priority change, a policy applied to open tickets) replays these rows instead.

    Invariants: written only by the status machine (``services.tickets._set_status``): one
    row opened (``ended_at`` None) when the ticket enters pending customer, closed when it
    leaves; at most one open row per ticket, whose start equals ``Ticket.sla_paused_at``.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_pauses")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="slapause_ends_after_start",
            ),
            models.UniqueConstraint(
                fields=["ticket"],
                condition=Q(ended_at__isnull=True),
                name="slapause_one_open_per_ticket",
            ),
        ]

    def __str__(self) -> str:
        return f"Pause of {self.ticket_id} from {self.started_at:%Y-%m-%d %H:%M}"
