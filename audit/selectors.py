"""Reading the audit stream.

Invariant: a viewer only ever reads the stream of the schema that is current, and only when
that schema is the viewer's own workspace and the viewer holds ``audit:read``. An event id
from any other stream is the same 404 as an id that exists nowhere.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django_tenants.utils import schema_context

from kernel.capabilities import AUDIT_EXPORT, AUDIT_READ, SECURITY_VERIFY, Capability, require

from .chain import ChainReport, chain_verify
from .events import Event
from .keys import chain_keys
from .models import AuditEvent

if TYPE_CHECKING:
    from .anchoring import DigestCheck


@dataclass(frozen=True)
class AuditFilters:
    """What the Audit page and its export narrow the stream to."""

    actor: str = ""
    event_type: int | None = None
    target: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    today: dt.date = field(default_factory=timezone.localdate)

    @property
    def window_start(self) -> dt.date:
        """Without a start date, the last ``AUDIT_DEFAULT_DAYS`` (up to the end date)."""
        if self.date_from is not None:
            return self.date_from
        return (self.date_to or self.today) - dt.timedelta(days=settings.AUDIT_DEFAULT_DAYS)

    def as_data(self) -> dict:
        """The filters as recorded in the 'viewed'/'exported' events."""
        return {
            "actor": self.actor,
            "event_type": self.event_type,
            "target": self.target,
            "date_from": self.window_start.isoformat(),
            "date_to": self.date_to.isoformat() if self.date_to else None,
        }


def _viewer_checked(viewer, capability: Capability = AUDIT_READ) -> None:
    require(viewer, capability)
    # Fail closed if the connection is not on the viewer's own workspace.
    if getattr(getattr(connection, "tenant", None), "pk", None) != viewer.tenant_id:
        raise PermissionDenied("the audit stream of another workspace")


def audit_events_visible(*, viewer) -> QuerySet[AuditEvent]:
    _viewer_checked(viewer)
    return AuditEvent.objects.all()


def audit_events_filtered(*, viewer, filters: AuditFilters) -> QuerySet[AuditEvent]:
    """The viewer's workspace stream narrowed by ``filters``, newest first."""
    events = audit_events_visible(viewer=viewer)
    start = dt.datetime.combine(filters.window_start, dt.time.min, tzinfo=dt.UTC)
    events = events.filter(timestamp__gte=start)
    if filters.date_to is not None:
        end = dt.datetime.combine(filters.date_to, dt.time.max, tzinfo=dt.UTC)
        events = events.filter(timestamp__lte=end)
    if filters.event_type is not None:
        events = events.filter(event_type=filters.event_type)
    if filters.actor:
        events = events.filter(
            Q(actor_email__icontains=filters.actor) | Q(actor_name__icontains=filters.actor)
        )
    if filters.target:
        events = events.filter(
            Q(target_label__icontains=filters.target)
            | Q(target_id=filters.target)
            | Q(target_type=filters.target)
        )
    return events.order_by("-sequence")


def audit_event_get(*, viewer, event_id: int) -> AuditEvent:
    event = audit_events_visible(viewer=viewer).filter(pk=event_id).first()
    if event is None:
        raise Http404("no such audit event")
    return event


def audit_stream_head(*, viewer) -> int:
    """The newest sequence number of the viewer's stream (0 when empty)."""
    head = (
        audit_events_visible(viewer=viewer).order_by("-sequence").values_list("sequence", flat=True)
    )
    return head.first() or 0


def audit_digests_visible(*, viewer) -> list[str]:
    """Names of the signed digests of the viewer's own workspace stream, oldest first."""
    from .anchors import digest_names

    require(viewer, AUDIT_EXPORT)
    _viewer_checked(viewer)
    return digest_names(connection.schema_name)  # type: ignore[attr-defined]


def audit_stream_verify(
    *, schema_name: str, anchors: dict[int, str] | None = None, chunk_size: int = 5000
) -> ChainReport:
    """Recompute the keyed chain of one schema's stream (the ``audit_verify`` command)."""
    with schema_context(schema_name):
        events: Iterable[AuditEvent] = AuditEvent.objects.order_by("sequence").iterator(
            chunk_size=chunk_size
        )
        return chain_verify(
            events, stream=schema_name, anchors=anchors, keys=chain_keys(), require_keyed=True
        )


# --- The "Verify it yourself" page (workspace.verify): the same chain check as audit_verify,
# within a time budget, and the sign-ins the stream records.


@dataclass(frozen=True)
class ChainCheck:
    """One run of the keyed-chain check over the viewer's stream, as far as it got.

    ``report`` covers events 1..``report.head_sequence`` (all of them up to ``head`` when
    ``report.complete``); ``digest`` is the newest signed digest, its signature checked, whose
    anchored link the walk compares when it reaches that sequence.
    """

    head: int  # the newest sequence when the check began
    report: ChainReport
    digest: DigestCheck
    seconds: float

    @property
    def anchor_sequence(self) -> int | None:
        return next(iter(self.digest.anchors), None)

    @property
    def anchor_checked(self) -> bool:
        """Whether the walk verified the anchored event (and so found its anchored link)."""
        sequence = self.anchor_sequence
        return sequence is not None and sequence <= self.report.head_sequence


def audit_chain_check(*, viewer, seconds: float, chunk_size: int = 2000) -> ChainCheck:
    """Verify the viewer's own stream now, under the chain keys and against its newest digest,
    for at most ``seconds``: a stream too long for the budget is verified from its first event
    as far as the time allows, and the report says how far (``complete=False``)."""
    from .anchoring import Stream, audit_digest_check

    _viewer_checked(viewer, SECURITY_VERIFY)
    started = time.monotonic()
    tenant = connection.tenant  # type: ignore[attr-defined]
    digest = audit_digest_check(stream=Stream(tenant.slug, tenant.schema_name, tenant))
    head = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0
    events = (
        AuditEvent.objects.filter(sequence__lte=head)
        .order_by("sequence")
        .iterator(chunk_size=chunk_size)
    )
    deadline = started + seconds
    report = chain_verify(
        events,
        stream=tenant.schema_name,
        anchors=digest.anchors,
        keys=chain_keys(),
        require_keyed=True,
        stop=lambda: time.monotonic() > deadline,
    )
    return ChainCheck(head, report, digest, time.monotonic() - started)


def audit_sign_ins_since(*, viewer, since: dt.datetime) -> set[int]:
    """The ids of the users who signed in to the viewer's workspace since ``since``, as its
    own stream records it (one query on the indexed event type; at most one row per user)."""
    _viewer_checked(viewer, SECURITY_VERIFY)
    return set(
        AuditEvent.objects.filter(
            event_type=Event.SIGN_IN_SUCCEEDED, timestamp__gte=since, actor_id__isnull=False
        )
        .order_by()
        .values_list("actor_id", flat=True)
        .distinct()
    )
