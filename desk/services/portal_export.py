"""A customer's export of their own company's desk data, from the portal.

Invariants: only a portal viewer (customer or company administrator, ``requests:view``) may
export, and the document holds exactly what their portal pages show them: their own
company's requests with the public replies (never an internal note), the attachments'
metadata (never an internal attachment; the bytes stay behind the download view), their
company's assets, and their own audited actions in this workspace (what, when, on what;
never another person's, nor the changes an event recorded, which may name staff-only
fields). Every read goes through ``desk.selectors``, which narrow to the viewer's company.

The export is counted by the one rate limiter (``accounts.throttle``: per member and per
address, since a company's whole history is expensive to serialise) before anything is read,
and recorded as desk.portal.data_exported with what it holds, in its own transaction, before
the first byte is sent. A cancelled workspace still exports (cancelled = export-only); the
export writes nothing but its audit event and its counter.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from accounts import throttle
from audit.events import EVENT_INFO, Event
from audit.services import audit_event_record
from kernel import capabilities as caps
from rbac.companies import company_names
from rbac.models import Membership
from tenants.models import Tenant
from tenants.writability import OPEN_STATES

from .. import selectors
from ..models import Asset, Ticket
from ._common import _authorize

PORTAL_EXPORT_FORMAT = "shopsafe.desk.portal-export"
PORTAL_EXPORT_VERSION = 1
PORTAL_EXPORT_CUSTOMERS_ONLY = "Only a customer company's people export from the portal."
PORTAL_EXPORT_WORKSPACE_CLOSED = "This workspace is closed."
PORTAL_EXPORT_THROTTLED = (
    "You have exported your company's data several times in the last hour. "
    "Please wait a while and try again."
)
CHUNK_SIZE = 200

PORTAL_EXPORT = throttle.Limit(
    name="portal_export",
    rules=(
        throttle.Rate(throttle.Per.MEMBER, 10, 60 * 60),
        throttle.Rate(throttle.Per.IP, 30, 60 * 60),
    ),
    message=PORTAL_EXPORT_THROTTLED,
    event=Event.REQUEST_THROTTLED,
)


@dataclass(frozen=True)
class PortalExport:
    """The document to stream: its file name and its JSON text, chunk by chunk."""

    filename: str
    chunks: Iterator[str]
    counts: dict[str, int]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _ticket_document(ticket: Ticket) -> dict:
    sla = selectors.ticket_sla(ticket)
    return {
        "number": ticket.number,
        "subject": ticket.subject,
        "description": ticket.description,
        "status": ticket.status,
        "priority": ticket.priority,
        "category": ticket.category,
        "requester_name": ticket.requester_name,
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "first_responded_at": _iso(ticket.first_responded_at),
        "resolved_at": _iso(ticket.resolved_at),
        "closed_at": _iso(ticket.closed_at),
        "first_response_due_at": _iso(ticket.first_response_due_at),
        "resolution_due_at": _iso(ticket.resolution_due_at),
        "sla_state": sla.overall,
        "merged_into": ticket.merged_into.number if ticket.merged_into else None,
        "assets": [asset.pk for asset in ticket.assets.all()],
        "messages": [
            {
                "id": message.pk,
                "author_name": message.author_name,
                "from_customer": message.from_customer,
                "body": message.body,
                "created_at": _iso(message.created_at),
            }
            for message in ticket.messages.all()
        ],
        "attachments": [
            {
                "id": attachment.pk,
                "message": attachment.message_id,
                "filename": attachment.original_filename,
                "content_type": attachment.content_type,
                "size": attachment.size,
                "sha256": attachment.sha256,
                "created_at": _iso(attachment.created_at),
            }
            for attachment in ticket.attachments.all()
        ],
    }


def _asset_document(asset: Asset) -> dict:
    return {
        "id": asset.pk,
        "type": asset.asset_type,
        "name": asset.name,
        "serial": asset.serial,
        "location": asset.location,
        "status": asset.status,
        "notes": asset.notes,
        "created_at": _iso(asset.created_at),
        "updated_at": _iso(asset.updated_at),
    }


def _event_name(code: int) -> tuple[str, str]:
    try:
        info = EVENT_INFO[Event(code)]
    except ValueError:
        return str(code), str(code)
    return info.name, info.label


def _chunks(viewer: Membership, head: dict) -> Iterator[str]:
    """The JSON document, one record at a time (never the whole history in memory)."""

    def array(name: str, records: Iterator[dict]) -> Iterator[str]:
        yield f', "{name}": ['
        for index, record in enumerate(records):
            yield ("," if index else "") + json.dumps(record, cls=DjangoJSONEncoder)
        yield "]"

    yield json.dumps(head, cls=DjangoJSONEncoder)[:-1]
    tickets = selectors.portal_export_tickets(viewer).iterator(chunk_size=CHUNK_SIZE)
    yield from array("tickets", (_ticket_document(t) for t in tickets))
    assets = selectors.assets_visible(viewer).order_by("pk").iterator(chunk_size=CHUNK_SIZE)
    yield from array("assets", (_asset_document(a) for a in assets))
    events = selectors.portal_export_audit_events(viewer).iterator(chunk_size=CHUNK_SIZE)
    yield from array(
        "audit_events",
        (
            {
                "sequence": event.sequence,
                "at": _iso(event.timestamp),
                "event": _event_name(event.event_type)[0],
                "label": _event_name(event.event_type)[1],
                "outcome": event.outcome,
                "target_type": event.target_type,
                "target_id": event.target_id,
            }
            for event in events
        ),
    )
    yield "}\n"


def portal_export(*, tenant: Tenant, actor: Membership, ip: str) -> PortalExport:
    """Export the actor's own company's desk data (see the module's invariants). Raises
    PermissionDenied for anyone but a portal viewer of an open workspace, and
    ``throttle.Throttled`` past the limit (nothing is read or recorded then)."""
    current = _authorize(tenant=tenant, actor=actor, capability=caps.REQUESTS_EXPORT)
    if not current.is_customer or current.company_id is None:
        raise PermissionDenied(PORTAL_EXPORT_CUSTOMERS_ONLY)
    if tenant.state not in OPEN_STATES:
        raise PermissionDenied(PORTAL_EXPORT_WORKSPACE_CLOSED)
    throttle.limit(PORTAL_EXPORT, ip=ip, member=str(current.pk))
    now = timezone.now()
    company_id = current.company_id
    with transaction.atomic():
        tickets = selectors.tickets_visible(current)
        counts = {
            "tickets": tickets.count(),
            "attachments": selectors.attachments_visible(current).count(),
            "assets": selectors.assets_visible(current).count(),
            "audit_events": selectors.portal_export_audit_events(current).count(),
        }
        audit_event_record(
            event_type=Event.PORTAL_DATA_EXPORTED,
            data={"company_id": company_id, **counts},
        )
    head = {
        "format": PORTAL_EXPORT_FORMAT,
        "version": PORTAL_EXPORT_VERSION,
        "exported_at": now.isoformat(),
        "workspace": tenant.slug,
        "company": {"id": company_id, "name": company_names([company_id]).get(company_id, "")},
        "exported_by": {"name": current.user.full_name, "email": current.user.email},
    }
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return PortalExport(
        filename=f"requests-{tenant.slug}-{stamp}.json",
        chunks=_chunks(current, head),
        counts=counts,
    )
