"""The business data of one workspace: companies, contacts, quotes, orders, invoices, files.

Invariant for every model here: its table lives in the workspace's own PostgreSQL schema
(shop is a TENANT_APP), so a row can only ever belong to the workspace whose schema is
active. The only foreign keys into the public schema point at users (allowed by design.md).
Rows are written only by ``shop.services``; reads that depend on who is looking go through
``shop.selectors``.
"""

from __future__ import annotations

import os
from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .money import compute_totals, line_amount

# Free-text limits, in characters. PostgreSQL's text has none, so each TextField declares one:
# the forms built from it refuse longer text with a field error and the services refuse it
# too (kernel.text.text_fields_check, through services._common._full_clean).
NOTES_MAX_LENGTH = 10_000
ADDRESS_MAX_LENGTH = 1_000


class Company(models.Model):
    """A customer of the shop (a business that buys signs).

    Invariant: customer-role memberships (rbac.Membership.company_id) point at one Company
    of the same workspace; they only ever see that company's records.
    """

    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    billing_address = models.TextField(blank=True, max_length=ADDRESS_MAX_LENGTH)
    site_address = models.TextField(
        blank=True, max_length=ADDRESS_MAX_LENGTH, help_text="Where installations usually happen."
    )
    notes = models.TextField(blank=True, max_length=NOTES_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A person at a customer company. Invariant: belongs to exactly one company."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=150)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    role_title = models.CharField("Role / title", max_length=100, blank=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class NumberSequence(models.Model):
    """The last number handed out per document kind (quote, order, invoice) in this workspace.

    Invariant: numbers are issued by ``services._common._next_number`` under a row lock,
    inside the transaction that creates the document, so they are sequential without gaps or
    repeats.
    """

    name = models.CharField(max_length=20, unique=True)
    last_value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.last_value}"


class Quote(models.Model):
    """A priced offer to a company, numbered Q-00001 upwards per workspace.

    Invariants: status moves draft -> sent -> accepted | declined and never back; only a
    draft can be edited; ``subtotal``/``tax_amount``/``total`` always equal
    ``money.compute_totals`` over the lines (services recompute them whenever lines or the
    tax rate change); customers never see drafts.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENT = "sent", "Sent"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="quotes")
    number = models.CharField(max_length=20, unique=True, editable=False)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    tax_rate = models.DecimalField("Tax rate (%)", max_digits=5, decimal_places=2, default=0)
    valid_until = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True, max_length=NOTES_MAX_LENGTH)
    subtotal = models.DecimalField(max_digits=20, decimal_places=2, default=0, editable=False)
    tax_amount = models.DecimalField(max_digits=20, decimal_places=2, default=0, editable=False)
    total = models.DecimalField(max_digits=20, decimal_places=2, default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(tax_rate__gte=0, tax_rate__lte=100), name="quote_tax_rate_0_to_100"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "sent", "accepted", "declined"]),
                name="quote_status_known",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(sent_at__isnull=False),
                name="quote_sent_has_sent_at",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "sent"]) | Q(responded_at__isnull=False),
                name="quote_response_has_responded_at",
            ),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0, tax_amount__gte=0, total__gte=0),
                name="quote_totals_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_expired(self) -> bool:
        return self.valid_until is not None and self.valid_until < timezone.localdate()

    def computed_totals(self):
        """Totals recomputed from the lines (the stored ones must always equal this)."""
        return compute_totals(
            ((line.quantity, line.unit_price) for line in self.lines.all()), self.tax_rate
        )


class QuoteLine(models.Model):
    """One priced item of a quote. Invariant: quantity > 0, unit price >= 0 (also in the DB)."""

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    description = models.CharField(max_length=500)
    quantity = models.DecimalField(max_digits=9, decimal_places=2)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="quoteline_quantity_positive"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="quoteline_unit_price_not_negative"
            ),
            models.UniqueConstraint(fields=["quote", "position"], name="quoteline_unique_position"),
        ]

    def __str__(self) -> str:
        return self.description

    @property
    def amount(self):
        return line_amount(self.quantity, self.unit_price)


class Order(models.Model):
    """A job to produce and install what an accepted quote describes, numbered O-00001 up.

    Invariants: created only from an accepted quote, at most one order per quote
    (one-to-one), ``company`` is always the quote's company; status changes follow
    ``services.ORDER_STATUS_TRANSITIONS``; installers see only orders assigned to them.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    quote = models.OneToOneField(Quote, on_delete=models.PROTECT, related_name="order")
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="orders")
    number = models.CharField(max_length=20, unique=True, editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    site_address = models.TextField(blank=True, max_length=ADDRESS_MAX_LENGTH)
    due_date = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True, max_length=NOTES_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["scheduled", "in_progress", "done", "cancelled"]),
                name="order_status_known",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.SCHEDULED, self.Status.IN_PROGRESS)


class Invoice(models.Model):
    """A bill for an order, numbered INV-00001 upwards.

    Invariants: the amounts are copied from the order's quote when the invoice is created and
    never recomputed; an order has at most one invoice that is not void (partial unique
    index); status moves open -> paid | void and never back.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PAID = "paid", "Paid"
        VOID = "void", "Void"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="invoices")
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=20, unique=True, editable=False)
    issue_date = models.DateField()
    due_date = models.DateField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    subtotal = models.DecimalField(max_digits=20, decimal_places=2, editable=False)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, editable=False)
    tax_amount = models.DecimalField(max_digits=20, decimal_places=2, editable=False)
    total = models.DecimalField(max_digits=20, decimal_places=2, editable=False)
    notes = models.TextField(blank=True, max_length=NOTES_MAX_LENGTH)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-issue_date", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "paid", "void"]), name="invoice_status_known"
            ),
            models.CheckConstraint(
                condition=Q(due_date__gte=models.F("issue_date")),
                name="invoice_due_not_before_issue",
            ),
            models.CheckConstraint(
                condition=Q(tax_rate__gte=0, tax_rate__lte=100), name="invoice_tax_rate_0_to_100"
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_at__isnull=False),
                name="invoice_paid_has_paid_at",
            ),
            models.CheckConstraint(
                condition=~Q(status="void") | Q(voided_at__isnull=False),
                name="invoice_void_has_voided_at",
            ),
            models.UniqueConstraint(
                fields=["order"],
                condition=~Q(status="void"),
                name="invoice_one_live_invoice_per_order",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def is_overdue_on(self, day: date) -> bool:
        return self.status == self.Status.OPEN and self.due_date < day

    @property
    def is_overdue(self) -> bool:
        return self.is_overdue_on(timezone.localdate())


class StoredFile(models.Model):
    """An uploaded file (proof, artwork, document) kept in private storage.

    Invariants: ``storage_key`` is ``<schema>/files/<uuid4>`` (never derived from the user's
    filename) in ``storages["private"]``; ``content_type`` was sniffed from the bytes at
    upload, never taken from the client; ``quote``/``order``, when set, belong to
    ``company``; the bytes are only served through the download view.
    """

    class Kind(models.TextChoices):
        PROOF = "proof", "Proof"
        ARTWORK = "artwork", "Artwork"
        DOCUMENT = "document", "Document"

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="files")
    quote = models.ForeignKey(
        Quote, null=True, blank=True, on_delete=models.SET_NULL, related_name="files"
    )
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="files"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.DOCUMENT)
    original_filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    extension = models.CharField(max_length=10)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_key = models.CharField(max_length=255, unique=True, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(size__gt=0), name="storedfile_size_positive"),
            models.CheckConstraint(
                condition=Q(kind__in=["proof", "artwork", "document"]),
                name="storedfile_kind_known",
            ),
        ]

    def __str__(self) -> str:
        return self.original_filename

    @property
    def download_filename(self) -> str:
        """The user's filename, but always ending in the extension of what the bytes are.

        A PNG uploaded as ``logo.html`` downloads as ``logo.html.png``, so no browser or
        desktop ever opens it as something it is not.
        """
        extension = os.path.splitext(self.original_filename)[1]
        if extension.lower().lstrip(".") in _EXTENSION_ALIASES.get(self.extension, ()):
            return self.original_filename
        return f"{self.original_filename}.{self.extension}"


_EXTENSION_ALIASES = {
    "pdf": ("pdf",),
    "png": ("png",),
    "jpg": ("jpg", "jpeg", "jpe"),
    "gif": ("gif",),
    "webp": ("webp",),
    "tif": ("tif", "tiff"),
    "psd": ("psd",),
    "zip": ("zip",),
}
