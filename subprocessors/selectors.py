"""Reads of the sub-processor list: today's entries, announced changes, the history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet
from django.utils import timezone

from .models import SubProcessor, SubProcessorChange


def today() -> date:
    """The list's calendar day (UTC): the day effective dates are compared with."""
    return timezone.now().date()


@dataclass(frozen=True)
class Entry:
    """A vendor on the list on a given day, as its latest effective change describes it."""

    name: str
    purpose: str
    data_involved: str
    region: str
    since: date


def latest_effective_change(
    sub_processor: SubProcessor, *, on: date | None = None
) -> SubProcessorChange | None:
    return (
        sub_processor.changes.filter(effective_on__lte=on or today())
        .order_by("-effective_on", "-published_at", "-id")
        .first()
    )


def current_entries(*, on: date | None = None) -> list[Entry]:
    """The vendors on the list on ``on`` (today), by name."""
    day = on or today()
    entries = []
    for vendor in SubProcessor.objects.prefetch_related("changes"):
        effective = sorted(
            (change for change in vendor.changes.all() if change.effective_on <= day),
            key=lambda change: (change.effective_on, change.published_at, change.pk),
        )
        if not effective or effective[-1].kind == SubProcessorChange.Kind.REMOVED:
            continue
        latest = effective[-1]
        entries.append(
            Entry(
                name=vendor.name,
                purpose=latest.purpose,
                data_involved=latest.data_involved,
                region=latest.region,
                since=latest.effective_on,
            )
        )
    return entries


def upcoming_changes(*, on: date | None = None) -> QuerySet[SubProcessorChange]:
    """Published changes that take effect after ``on`` (today), soonest first."""
    return (
        SubProcessorChange.objects.filter(effective_on__gt=on or today())
        .select_related("sub_processor")
        .order_by("effective_on", "published_at", "id")
    )


def change_history() -> QuerySet[SubProcessorChange]:
    """Every published change, latest effective date first."""
    return SubProcessorChange.objects.select_related("sub_processor").order_by(
        "-effective_on", "-published_at", "-id"
    )
