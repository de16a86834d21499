"""Sub-processors: the vendors that handle customers' data for us, and every dated change.

Invariant: the list is never edited in place. A vendor's row holds only its name; what it
does, which data it handles and where comes from its latest *effective* change
(``effective_on`` on or before today), so the public page shows today's list, the changes
announced for later, and the whole history from the same rows. A change, once published,
is never altered or deleted (owners were emailed about it).

Invariant: every owner told of a change has exactly one ``SubProcessorNotice`` row for it;
the beat task (subprocessors.tasks) sends the rows whose ``sent_at`` is empty and marks them in
the same transaction, so a notice goes out once however often the task runs.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SubProcessor(models.Model):
    """A vendor that has been on the list at some time (platform data, public schema)."""

    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SubProcessorChange(models.Model):
    """One published change of the list, effective on a date; a snapshot of the vendor's
    entry from that date on (for a removal, its entry up to then)."""

    class Kind(models.TextChoices):
        ADDED = "added", "Added"
        CHANGED = "changed", "Changed"
        REMOVED = "removed", "Removed"

    sub_processor = models.ForeignKey(
        SubProcessor, on_delete=models.PROTECT, related_name="changes"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    purpose = models.CharField(max_length=300)
    data_involved = models.CharField(max_length=300)
    region = models.CharField(max_length=100)
    note = models.CharField(max_length=300, blank=True)
    effective_on = models.DateField()
    published_at = models.DateTimeField()
    # The platform support agent who published it; None for the seeded initial list.
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-effective_on", "-published_at", "-id"]
        indexes = [models.Index(fields=["sub_processor", "effective_on"])]

    def __str__(self) -> str:
        return f"{self.sub_processor} {self.kind} on {self.effective_on}"


class SubProcessorNotice(models.Model):
    """The email telling one owner of one change (the outbox row); ``sent_at`` marks it sent.

    ``annual``: the owner has a workspace on an annual plan, so the change was only accepted
    with at least the promised notice."""

    change = models.ForeignKey(SubProcessorChange, on_delete=models.CASCADE, related_name="notices")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    annual = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["change", "user"], name="one_notice_per_owner_change")
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="subprocessor_notice_unsent",
                condition=models.Q(sent_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"notice of change {self.change_id} to user {self.user_id}"
