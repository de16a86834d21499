"""Tickets: open (a customer's request or staff on a contact's behalf), update, the status
machine with its SLA clocks, assignment, the conversation, merging, bulk actions, deletion."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial

from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import User
from audit.events import Event
from audit.services import audit_event_record
from kernel import capabilities as caps
from kernel.capabilities import ROLE_CAPABILITIES, Capability
from kernel.roles import CUSTOMER_ROLES, STAFF_ROLES
from rbac.companies import company_names
from rbac.models import Membership
from tenants.models import Tenant
from tenants.writability import require_writable

from .. import notify, selectors, sla
from ..models import (
    Asset,
    Priority,
    SlaPause,
    SlaPolicy,
    Ticket,
    TicketMessage,
    TicketSequence,
)
from ._common import _authorize, _full_clean, _locked_visible, _write
from .attachments import Upload, _attach, stored_uploads

Status = Ticket.Status

TICKET_SUBJECT_REQUIRED = "Enter a subject."
TICKET_DESCRIPTION_REQUIRED = "Describe what you need."
TICKET_COMPANY_UNKNOWN = "Choose one of the workspace's customer companies."
TICKET_PRIORITY_NOT_ALLOWED = "Choose one of the priorities offered."
TICKET_CATEGORY_UNKNOWN = "Choose one of the categories offered."
TICKET_ASSET_OTHER_COMPANY = "That asset belongs to another company."
TICKET_REQUESTER_REQUIRED = "Enter the name of the person this ticket is for."
TICKET_REQUESTER_OTHER_COMPANY = "That person is not one of this company's people."
TICKET_STATUS_UNKNOWN = "Choose one of the ticket statuses."
TICKET_STATUS_CHANGE_NOT_ALLOWED = "A ticket cannot go from “{current}” to “{new}”."
TICKET_ASSIGNEE_NOT_STAFF = "Tickets can only be assigned to staff who work the desk."
TICKET_WATCHER_NOT_STAFF = "Only staff members can watch a ticket."
TICKET_MESSAGE_REQUIRED = "Write a message."
TICKET_CLOSED = "This ticket is closed. Open a new request instead."
TICKET_REOPEN_WINDOW_PASSED = (
    "This request was resolved more than {days} days ago and can no longer be reopened. "
    "Submit a new request instead."
)
TICKET_NOT_RESOLVED = "Only a resolved request can be confirmed or reopened."
TICKET_MERGE_SAME = "A ticket cannot be merged into itself."
TICKET_MERGE_OTHER_COMPANY = "Tickets of different companies cannot be merged."
TICKET_MERGE_TARGET_CLOSED = "Merge into a ticket that is still open."
TICKET_TAG_INVALID = "Tags are single words of letters, digits, - or _ (at most 30 characters)."
MAX_TAGS = 10

# The status machine: where each status may go. Reopening is resolved/closed -> open (a
# customer may reopen only a resolved request, within the policy's window).
TICKET_STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.OPEN, Status.PENDING_CUSTOMER, Status.RESOLVED, Status.CLOSED}),
    Status.OPEN: frozenset({Status.PENDING_CUSTOMER, Status.RESOLVED, Status.CLOSED}),
    Status.PENDING_CUSTOMER: frozenset({Status.OPEN, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.OPEN}),
}


def _policy() -> SlaPolicy:
    return selectors.sla_policy()


def _next_number() -> str:
    sequence = TicketSequence.objects.select_for_update().order_by("pk").first()
    if sequence is None:
        sequence = TicketSequence.objects.create()
        sequence = TicketSequence.objects.select_for_update().get(pk=sequence.pk)
    sequence.last_value += 1
    sequence.save(update_fields=["last_value"])
    return f"T-{sequence.last_value:05d}"


def _refresh_running_clock(ticket: Ticket, now: datetime) -> None:
    """Keep the indexed SLA columns equal to what desk.sla says of the stored clocks: the
    earliest unmet due and at-risk instants while the clock runs, none while paused or
    stopped, and ``sla_breached`` once a target was missed."""
    stopped_at = ticket.resolved_at or ticket.closed_at
    unmet = []
    if ticket.first_responded_at is None and ticket.first_response_due_at is not None:
        unmet.append((ticket.first_response_due_at, ticket.first_response_risk_at))
    if stopped_at is None and ticket.resolution_due_at is not None:
        unmet.append((ticket.resolution_due_at, ticket.resolution_risk_at))
    met_late = (
        ticket.first_responded_at is not None
        and ticket.first_response_due_at is not None
        and ticket.first_responded_at > ticket.first_response_due_at
    ) or (
        stopped_at is not None
        and ticket.resolution_due_at is not None
        and stopped_at > ticket.resolution_due_at
    )
    moment = ticket.sla_paused_at or now
    missed = any(due < moment for due, _ in unmet)
    ticket.sla_breached = ticket.sla_breached or met_late or missed
    running = ticket.sla_paused_at is None and not stopped_at and unmet
    ticket.sla_due_at = min(due for due, _ in unmet) if running else None
    ticket.sla_risk_at = min((risk or due) for due, risk in unmet) if running else None


def _start_clocks(ticket: Ticket, policy: SlaPolicy, start: datetime) -> None:
    calendar = selectors.calendar_of(policy)
    first, resolution = policy.targets(ticket.priority)
    for prefix, minutes in (("first_response", first), ("resolution", resolution)):
        clock = sla.clock_start(start, minutes, calendar, at_risk_percent=policy.at_risk_percent)
        setattr(ticket, f"{prefix}_due_at", clock.due_at)
        setattr(ticket, f"{prefix}_risk_at", clock.risk_at)


SLA_TARGETS = ("first_response", "resolution")


def _pauses(ticket: Ticket) -> list[tuple[datetime, datetime | None]]:
    # .all(): a caller that walks many tickets prefetches them.
    return [(pause.started_at, pause.ended_at) for pause in ticket.sla_pauses.all()]


def _recompute_targets(ticket: Ticket, policy: SlaPolicy) -> dict[str, list]:
    """Move the unmet due times of ``ticket`` to ``policy``'s targets for its priority.

    Each target is counted again from the ticket's opening under ``policy``'s calendar,
    replaying the pauses stored for it (``desk.sla.clock_replay``; a pause under way is added
    back on resume as always), so the result does not depend on what the policy was when the
    due times were first set. A target already met, waived, or overridden by hand keeps its
    due time: an override records a person's decision with a reason, and a change of
    priority or policy does not undo it. Returns ``{field: [before, after]}`` of what moved;
    the caller refreshes the running clock and saves."""
    calendar = selectors.calendar_of(policy)
    overridden = {override.target for override in ticket.sla_overrides.all()}
    met = {
        "first_response": ticket.first_responded_at,
        "resolution": ticket.resolved_at or ticket.closed_at,
    }
    pauses = _pauses(ticket)
    changes: dict[str, list] = {}
    for target, minutes in zip(SLA_TARGETS, policy.targets(ticket.priority), strict=True):
        if getattr(ticket, f"{target}_due_at") is None or target in overridden or met[target]:
            continue
        clock = sla.clock_replay(
            ticket.created_at,
            minutes,
            calendar,
            at_risk_percent=policy.at_risk_percent,
            pauses=pauses,
        )
        moved = ((f"{target}_due_at", clock.due_at), (f"{target}_risk_at", clock.risk_at))
        for field, value in moved:
            before = getattr(ticket, field)
            if before != value:
                changes[field] = [before, value]
                setattr(ticket, field, value)
    return changes


def _clean_tags(tags: Sequence[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        tag = tag.strip().lower()
        if not tag:
            continue
        if len(tag) > 30 or not all(ch.isalnum() or ch in "-_" for ch in tag):
            raise ValidationError({"tags": TICKET_TAG_INVALID})
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise ValidationError({"tags": f"At most {MAX_TAGS} tags."})
    return cleaned


def _desk_staff(tenant: Tenant, user_ids: set[int]) -> set[int]:
    """Of ``user_ids``, those who are active staff members of ``tenant`` working the desk."""
    roles = [role for role in STAFF_ROLES if caps.TICKETS_WORK in ROLE_CAPABILITIES[role]]
    return set(
        Membership.objects.filter(
            tenant=tenant, is_active=True, role__in=roles, user_id__in=user_ids
        ).values_list("user_id", flat=True)
    )


def assignable_users(tenant: Tenant) -> list[User]:
    """Staff who may be assigned tickets (and watch them), for forms."""
    roles = [role for role in STAFF_ROLES if caps.TICKETS_WORK in ROLE_CAPABILITIES[role]]
    return list(
        User.objects.filter(
            memberships__tenant=tenant,
            memberships__is_active=True,
            memberships__role__in=roles,
        ).order_by("full_name", "email")
    )


def requester_choices(tenant: Tenant, company_id: int) -> list[Membership]:
    return list(
        Membership.objects.filter(
            tenant=tenant, is_active=True, role__in=CUSTOMER_ROLES, company_id=company_id
        ).select_related("user")
    )


def _linked_assets(company_id: int, asset_ids: Sequence[int]) -> list[Asset]:
    assets = list(Asset.objects.filter(pk__in=set(asset_ids)))
    if len(assets) != len(set(asset_ids)) or any(a.company_id != company_id for a in assets):
        raise ValidationError({"assets": TICKET_ASSET_OTHER_COMPANY})
    return assets


# --- Opening a ticket ----------------------------------------------------------------------


def ticket_create(
    *,
    tenant: Tenant,
    actor: Membership,
    subject: str,
    description: str,
    priority: str = Priority.NORMAL,
    category: str = "",
    company_id: int | None = None,
    asset_ids: Sequence[int] = (),
    requester: Membership | None = None,
    requester_name: str = "",
    requester_email: str = "",
    uploads: Sequence[Upload] = (),
) -> Ticket:
    """A customer submits a request for their own company (``requests:create``); staff open
    one on behalf of a company's person (``tickets:create``): a customer member of that
    company, or a contact's name and email. The SLA clocks start now, from the policy."""
    capability: Capability = caps.REQUESTS_CREATE if actor.is_customer else caps.TICKETS_CREATE
    current = _authorize(tenant=tenant, actor=actor, capability=capability)
    require_writable(tenant)  # before any bytes are stored; _write checks again
    with (
        stored_uploads(tenant, uploads) as stored,
        _write(tenant=tenant, actor=actor, capability=capability),
    ):
        policy = _policy()
        if current.is_customer:
            company_id = current.company_id
            requester_user: User | None = current.user
            name, email = current.user.full_name or current.user.email, current.user.email
            if priority not in policy.customer_priorities:
                raise ValidationError({"priority": TICKET_PRIORITY_NOT_ALLOWED})
        else:
            if company_id is None or company_id not in company_names([company_id]):
                raise ValidationError({"company": TICKET_COMPANY_UNKNOWN})
            if priority not in Priority.values:
                raise ValidationError({"priority": TICKET_PRIORITY_NOT_ALLOWED})
            if requester is not None:
                if requester.company_id != company_id or requester.tenant_id != tenant.pk:
                    raise ValidationError({"requester": TICKET_REQUESTER_OTHER_COMPANY})
                requester_user = requester.user
                name = requester.user.full_name or requester.user.email
                email = requester.user.email
            else:
                requester_user = None
                name, email = (requester_name or "").strip(), (requester_email or "").strip()
                if not name:
                    raise ValidationError({"requester_name": TICKET_REQUESTER_REQUIRED})
        if category and category not in policy.categories:
            raise ValidationError({"category": TICKET_CATEGORY_UNKNOWN})
        subject, description = (subject or "").strip(), (description or "").strip()
        if not subject:
            raise ValidationError({"subject": TICKET_SUBJECT_REQUIRED})
        if not description:
            raise ValidationError({"description": TICKET_DESCRIPTION_REQUIRED})
        assert company_id is not None  # noqa: S101 - set or refused above
        assets = _linked_assets(company_id, asset_ids)
        now = timezone.now()
        ticket = Ticket(
            company_id=company_id,
            requester=requester_user,
            requester_name=name,
            requester_email=email,
            subject=subject,
            description=description,
            priority=priority,
            category=category,
            created_by=current.user,
            created_at=now,
        )
        _full_clean(ticket, exclude=["number", "requester", "assignee", "created_by"])
        _start_clocks(ticket, policy, now)
        _refresh_running_clock(ticket, now)
        ticket.number = _next_number()
        ticket.save()  # desk.ticket.created, by django-auditlog
        ticket.assets.set(assets)
        _attach(ticket=ticket, message=None, stored=stored, internal=False, actor=current)
        notify.ticket_created(tenant, ticket, actor_email=current.user.email)
    return ticket


# --- Staff changes -------------------------------------------------------------------------


def ticket_update(
    *,
    tenant: Tenant,
    actor: Membership,
    ticket: Ticket,
    subject: str,
    priority: str,
    category: str = "",
    tags: Sequence[str] = (),
    watcher_ids: Sequence[int] = (),
    asset_ids: Sequence[int] = (),
) -> Ticket:
    """Staff edit a ticket's fields; django-auditlog records the diff (desk.ticket.updated),
    and changes to watchers and linked assets are recorded in the same event's terms. A new
    priority moves the unmet, un-overridden due times to its targets
    (:func:`_recompute_targets`); the same diff records them before -> after."""
    with _write(tenant=tenant, actor=actor, capability=caps.TICKETS_WORK):
        ticket = _locked_visible(ticket, selectors.tickets_visible(actor))
        policy = _policy()
        if priority not in Priority.values:
            raise ValidationError({"priority": TICKET_PRIORITY_NOT_ALLOWED})
        if category and category not in policy.categories and category != ticket.category:
            raise ValidationError({"category": TICKET_CATEGORY_UNKNOWN})
        ticket.subject = (subject or "").strip()
        if not ticket.subject:
            raise ValidationError({"subject": TICKET_SUBJECT_REQUIRED})
        old_priority = ticket.priority
        ticket.priority, ticket.category, ticket.tags = priority, category, _clean_tags(tags)
        if priority != old_priority:
            _recompute_targets(ticket, policy)
            _refresh_running_clock(ticket, timezone.now())
        watchers = set(watcher_ids)
        if _desk_staff(tenant, watchers) != watchers:
            raise ValidationError({"watchers": TICKET_WATCHER_NOT_STAFF})
        assets = _linked_assets(ticket.company_id, asset_ids)
        _full_clean(ticket, exclude=["requester", "assignee", "created_by", "merged_into"])
        before_watchers = sorted(ticket.watchers.values_list("pk", flat=True))
        before_assets = sorted(ticket.assets.values_list("pk", flat=True))
        ticket.save()
        ticket.watchers.set(watchers)
        ticket.assets.set(assets)
        related = {
            "watchers": [before_watchers, sorted(watchers)],
            "assets": [before_assets, sorted(a.pk for a in assets)],
        }
        related = {k: v for k, v in related.items() if v[0] != v[1]}
        if related:
            audit_event_record(event_type=Event.TICKET_UPDATED, target=ticket, changes=related)
    return ticket


def _set_status(
    tenant: Tenant, current: Membership, ticket: Ticket, new: str, now: datetime
) -> None:
    """Move ``ticket`` (locked) to ``new`` along the status machine, keep its clocks, audit
    and notify. Inside a _write."""
    if new not in Status.values:
        raise ValidationError({"status": TICKET_STATUS_UNKNOWN})
    before = ticket.status
    if new not in TICKET_STATUS_TRANSITIONS[before]:
        raise ValidationError(
            {
                "status": TICKET_STATUS_CHANGE_NOT_ALLOWED.format(
                    current=Status(before).label, new=Status(new).label
                )
            }
        )
    if before == Status.PENDING_CUSTOMER and ticket.sla_paused_at is not None:
        calendar = selectors.calendar_of(_policy())
        for field in (
            "first_response_due_at",
            "first_response_risk_at",
            "resolution_due_at",
            "resolution_risk_at",
        ):
            moved = sla.resume(getattr(ticket, field), ticket.sla_paused_at, now, calendar)
            setattr(ticket, field, moved)
        ticket.sla_paused_at = None
        ticket.sla_pauses.filter(ended_at__isnull=True).update(ended_at=now)
    if new == Status.PENDING_CUSTOMER:
        ticket.sla_paused_at = now
        SlaPause.objects.create(ticket=ticket, started_at=now)
    if new == Status.RESOLVED:
        ticket.resolved_at = now
    elif new == Status.CLOSED:
        ticket.closed_at = now
    elif new == Status.OPEN:  # reopened, or taken up
        ticket.resolved_at = None
        ticket.closed_at = None
    ticket.status = new
    _refresh_running_clock(ticket, now)
    ticket.save()
    audit_event_record(
        event_type=Event.TICKET_STATUS_CHANGED,
        target=ticket,
        changes={"status": [before, new]},
    )
    notify.status_changed(tenant, ticket, before=before, actor_email=current.user.email)


def ticket_change_status(
    *, tenant: Tenant, actor: Membership, ticket: Ticket, status: str
) -> Ticket:
    with _write(tenant=tenant, actor=actor, capability=caps.TICKETS_WORK) as current:
        ticket = _locked_visible(ticket, selectors.tickets_visible(current))
        _set_status(tenant, current, ticket, status, timezone.now())
    return ticket


def _assign(tenant: Tenant, current: Membership, ticket: Ticket, assignee_id: int | None):
    if assignee_id is not None and not _desk_staff(tenant, {assignee_id}):
        raise ValidationError({"assignee": TICKET_ASSIGNEE_NOT_STAFF})
    before = ticket.assignee_id
    if before == assignee_id:
        return
    ticket.assignee_id = assignee_id
    ticket.save()
    audit_event_record(
        event_type=Event.TICKET_ASSIGNED,
        target=ticket,
        changes={"assignee": [before, assignee_id]},
    )
    if assignee_id is not None:
        notify.assigned(tenant, ticket, actor_email=current.user.email)


def ticket_assign(
    *, tenant: Tenant, actor: Membership, ticket: Ticket, assignee_id: int | None
) -> Ticket:
    with _write(tenant=tenant, actor=actor, capability=caps.TICKETS_WORK) as current:
        ticket = _locked_visible(ticket, selectors.tickets_visible(current))
        _assign(tenant, current, ticket, assignee_id)
    return ticket


def ticket_bulk_assign(
    *, tenant: Tenant, actor: Membership, ticket_ids: Sequence[int], assignee_id: int | None
) -> int:
    """Assign every listed ticket the actor can see (all or nothing); returns how many."""
    with _write(tenant=tenant, actor=actor, capability=caps.TICKETS_WORK) as current:
        tickets = selectors.tickets_visible(current).filter(pk__in=set(ticket_ids))
        locked = list(tickets.select_for_update().order_by("pk"))
        for ticket in locked:
            _assign(tenant, current, ticket, assignee_id)
    return len(locked)


def ticket_bulk_close(*, tenant: Tenant, actor: Membership, ticket_ids: Sequence[int]) -> int:
    """Close every listed ticket the actor can see that is not closed (all or nothing)."""
    now = timezone.now()
    with _write(tenant=tenant, actor=actor, capability=caps.TICKETS_WORK) as current:
        tickets = selectors.tickets_visible(current).filter(pk__in=set(ticket_ids))
        locked = list(tickets.exclude(status=Status.CLOSED).select_for_update().order_by("pk"))
        for ticket in locked:
            _set_status(tenant, current, ticket, Status.CLOSED, now)
    return len(locked)


# --- The conversation ----------------------------------------------------------------------


def _post(
    tenant: Tenant,
    current: Membership,
    ticket: Ticket,
    *,
    body: str,
    kind: str,
    stored,
    now: datetime,
) -> TicketMessage:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": TICKET_MESSAGE_REQUIRED})
    message = TicketMessage(
        ticket=ticket,
        kind=kind,
        author=current.user,
        author_name=current.user.full_name or current.user.email,
        from_customer=current.is_customer,
        body=body,
        created_at=now,
    )
    _full_clean(message, exclude=["ticket", "author"])
    message.save()
    internal = kind == TicketMessage.Kind.NOTE
    audit_event_record(
        event_type=Event.TICKET_NOTE_POSTED if internal else Event.TICKET_REPLY_POSTED,
        target=ticket,
        data={"message_id": message.pk, "from_customer": current.is_customer},
    )
    _attach(ticket=ticket, message=message, stored=stored, internal=internal, actor=current)
    notify.message_posted(tenant, ticket, message, actor_email=current.user.email)
    return message


def ticket_reply(
    *,
    tenant: Tenant,
    actor: Membership,
    ticket: Ticket,
    body: str,
    internal: bool = False,
    uploads: Sequence[Upload] = (),
) -> TicketMessage:
    """Staff post a public reply (the first one meets the first-response target; a new
    ticket becomes open) or an internal note (staff only, never sent to the customer)."""
    _authorize(tenant=tenant, actor=actor, capability=caps.TICKETS_WORK)
    require_writable(tenant)
    with (
        stored_uploads(tenant, uploads) as stored,
        _write(tenant=tenant, actor=actor, capability=caps.TICKETS_WORK) as current,
    ):
        ticket = _locked_visible(ticket, selectors.tickets_visible(current))
        if ticket.status == Status.CLOSED and not internal:
            raise ValidationError({"body": TICKET_CLOSED})
        now = timezone.now()
        kind = TicketMessage.Kind.NOTE if internal else TicketMessage.Kind.REPLY
        message = _post(tenant, current, ticket, body=body, kind=kind, stored=stored, now=now)
        if not internal:
            if ticket.first_responded_at is None:
                ticket.first_responded_at = now
                _refresh_running_clock(ticket, now)
                ticket.save()
            if ticket.status == Status.NEW:
                _set_status(tenant, current, ticket, Status.OPEN, now)
    return message


def _reopen_window_check(ticket: Ticket, now: datetime) -> None:
    days = _policy().reopen_window_days
    if ticket.resolved_at is None or now - ticket.resolved_at > timedelta(days=days):
        raise ValidationError({"body": TICKET_REOPEN_WINDOW_PASSED.format(days=days)})


def request_reply(
    *,
    tenant: Tenant,
    actor: Membership,
    ticket: Ticket,
    body: str,
    uploads: Sequence[Upload] = (),
) -> TicketMessage:
    """A customer replies on their company's request. Pending the customer, the ticket is
    open again (its clocks resume); resolved, a reply reopens it within the window."""
    _authorize(tenant=tenant, actor=actor, capability=caps.REQUESTS_REPLY)
    require_writable(tenant)
    with (
        stored_uploads(tenant, uploads) as stored,
        _write(tenant=tenant, actor=actor, capability=caps.REQUESTS_REPLY) as current,
    ):
        ticket = _locked_visible(ticket, selectors.tickets_visible(current))
        now = timezone.now()
        if ticket.status == Status.CLOSED:
            raise ValidationError({"body": TICKET_CLOSED})
        if ticket.status == Status.RESOLVED:
            _reopen_window_check(ticket, now)
        kind = TicketMessage.Kind.REPLY
        message = _post(tenant, current, ticket, body=body, kind=kind, stored=stored, now=now)
        if ticket.status in (Status.PENDING_CUSTOMER, Status.RESOLVED):
            _set_status(tenant, current, ticket, Status.OPEN, now)
    return message


def request_confirm_solved(*, tenant: Tenant, actor: Membership, ticket: Ticket) -> Ticket:
    """The customer confirms a resolved request solved: it is closed."""
    with _write(tenant=tenant, actor=actor, capability=caps.REQUESTS_REPLY) as current:
        ticket = _locked_visible(ticket, selectors.tickets_visible(current))
        if ticket.status != Status.RESOLVED:
            raise ValidationError(TICKET_NOT_RESOLVED)
        _set_status(tenant, current, ticket, Status.CLOSED, timezone.now())
    return ticket


def request_reopen(*, tenant: Tenant, actor: Membership, ticket: Ticket) -> Ticket:
    """The customer reopens a resolved request, within the policy's window."""
    with _write(tenant=tenant, actor=actor, capability=caps.REQUESTS_REPLY) as current:
        ticket = _locked_visible(ticket, selectors.tickets_visible(current))
        now = timezone.now()
        if ticket.status != Status.RESOLVED:
            raise ValidationError(TICKET_NOT_RESOLVED)
        try:
            _reopen_window_check(ticket, now)
        except ValidationError as error:
            raise ValidationError(error.message_dict["body"]) from None
        _set_status(tenant, current, ticket, Status.OPEN, now)
    return ticket


# --- Merge and delete ----------------------------------------------------------------------


def ticket_merge(*, tenant: Tenant, actor: Membership, ticket: Ticket, into: Ticket) -> Ticket:
    """Merge a duplicate into another ticket of the same company: its conversation and
    attachments move over, it is closed and points at ``into``. Audited on both tickets."""
    with _write(tenant=tenant, actor=actor, capability=caps.TICKETS_WORK) as current:
        visible = selectors.tickets_visible(current)
        ticket = _locked_visible(ticket, visible)
        into = _locked_visible(into, visible)
        if ticket.pk == into.pk:
            raise ValidationError({"into": TICKET_MERGE_SAME})
        if ticket.company_id != into.company_id:
            raise ValidationError({"into": TICKET_MERGE_OTHER_COMPANY})
        if into.status == Status.CLOSED:
            raise ValidationError({"into": TICKET_MERGE_TARGET_CLOSED})
        moved_messages = list(ticket.messages.values_list("pk", flat=True))
        moved_attachments = list(ticket.attachments.values_list("pk", flat=True))
        # Neither model is recorded by django-auditlog (desk/apps.py); the two events below
        # name every row that moved.
        ticket.messages.update(ticket=into)
        ticket.attachments.update(ticket=into)
        for user_id in ticket.watchers.values_list("pk", flat=True):
            into.watchers.add(user_id)
        for asset in ticket.assets.all():
            into.assets.add(asset)
        ticket.merged_into = into
        if ticket.status != Status.CLOSED:
            _set_status(tenant, current, ticket, Status.CLOSED, timezone.now())
        else:
            ticket.save()
        data = {
            "from": ticket.number,
            "into": into.number,
            "messages": moved_messages,
            "attachments": moved_attachments,
        }
        audit_event_record(event_type=Event.TICKET_MERGED, target=ticket, data=data)
        audit_event_record(event_type=Event.TICKET_MERGED, target=into, data=data)
    return into


def ticket_delete(*, tenant: Tenant, actor: Membership, ticket: Ticket) -> list[str]:
    """Delete a ticket with its conversation and attachments (rows now, bytes after commit);
    returns the storage keys. desk.ticket.deleted by django-auditlog."""
    with _write(tenant=tenant, actor=actor, capability=caps.TICKETS_DELETE) as current:
        ticket = _locked_visible(ticket, selectors.tickets_visible(current))
        return _delete_ticket_rows(ticket)


def _delete_ticket_rows(ticket: Ticket) -> list[str]:
    from django.db import transaction

    from kernel import storage

    keys = list(ticket.attachments.values_list("storage_key", flat=True))
    ticket.delete()
    for key in keys:
        transaction.on_commit(partial(storage.delete, key))
    return keys
