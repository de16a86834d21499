"""The SLA policy (configuration: ``sla:manage``) and per-ticket overrides (``sla:override``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.events import Event
from audit.services import audit_event_record
from kernel import capabilities as caps
from kernel.text import text_fields_check
from rbac.models import Membership
from tenants.models import Tenant

from .. import selectors
from ..models import Priority, SlaOverride, SlaPolicy, Ticket
from ._common import _full_clean, _locked_visible, _write
from .tickets import _recompute_targets, _refresh_running_clock

SLA_TIME_ZONE_UNKNOWN = "Choose a time zone from the list (for example Europe/Amsterdam)."
SLA_DAY_END_BEFORE_START = "The working day must end after it starts."
SLA_NO_BUSINESS_DAYS = "Choose at least one working day."
SLA_TARGET_NOT_POSITIVE = "Every target must be at least one minute."
SLA_HOLIDAY_INVALID = "Write each holiday as a date, one per line (2025-12-25)."
SLA_CUSTOMER_PRIORITIES_REQUIRED = "Offer customers at least one priority."
SLA_CATEGORY_INVALID = "Categories are at most 80 characters each."
SLA_OVERRIDE_REASON_REQUIRED = "Give the reason for the override."
SLA_OVERRIDE_TARGET_UNKNOWN = "Choose the first-response or the resolution target."
SLA_OVERRIDE_KIND_UNKNOWN = "Choose whether to extend or waive the target."
SLA_OVERRIDE_NEW_DUE_REQUIRED = "Choose the new due time."
SLA_OVERRIDE_NOT_LATER = "An extension must move the due time later."
SLA_OVERRIDE_NOTHING_TO_CHANGE = "This target is already met or waived."


def sla_policy_current() -> SlaPolicy:
    """The workspace's policy row, created with the defaults the first time it is needed.
    Call inside a _write."""
    policy = SlaPolicy.objects.select_for_update().order_by("pk").first()
    return policy if policy is not None else SlaPolicy.objects.create()


def sla_policy_update(
    *,
    tenant: Tenant,
    actor: Membership,
    name: str,
    time_zone: str,
    business_days: Sequence[int],
    day_start: time,
    day_end: time,
    holidays: Sequence[date],
    at_risk_percent: int,
    targets: dict[str, tuple[int, int]],
    customer_priorities: Sequence[str],
    categories: Sequence[str],
    reopen_window_days: int,
    recompute_open_tickets: bool = False,
) -> SlaPolicy:
    """Change the policy (desk.sla_policy.changed with before -> after, by django-auditlog).
    Tickets opened from now on use it. Open tickets keep their due times, unless
    ``recompute_open_tickets``: then every open ticket's unmet targets are counted again
    under the new policy from its opening, with its stored pauses
    (``tickets._recompute_targets``; overridden, waived and met targets are kept), each
    ticket that moves gets desk.ticket.sla_recomputed with its due times before -> after,
    and the policy gets one desk.sla_policy.applied_to_open_tickets saying how many moved."""
    with _write(tenant=tenant, actor=actor, capability=caps.SLA_MANAGE):
        policy = sla_policy_current()
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError({"time_zone": SLA_TIME_ZONE_UNKNOWN}) from None
        days = sorted({int(day) for day in business_days if 0 <= int(day) <= 6})
        if not days:
            raise ValidationError({"business_days": SLA_NO_BUSINESS_DAYS})
        if day_end <= day_start:
            raise ValidationError({"day_end": SLA_DAY_END_BEFORE_START})
        if not customer_priorities or not set(customer_priorities) <= set(Priority.values):
            raise ValidationError({"customer_priorities": SLA_CUSTOMER_PRIORITIES_REQUIRED})
        names = [c.strip() for c in categories if c.strip()]
        if any(len(c) > 80 for c in names):
            raise ValidationError({"categories": SLA_CATEGORY_INVALID})
        for priority in Priority.values:
            first, resolution = targets[priority]
            if first < 1 or resolution < 1:
                raise ValidationError(
                    {f"{priority}_first_response_minutes": SLA_TARGET_NOT_POSITIVE}
                )
            setattr(policy, f"{priority}_first_response_minutes", first)
            setattr(policy, f"{priority}_resolution_minutes", resolution)
        policy.name = (name or "").strip() or policy.name
        policy.time_zone = time_zone
        policy.business_days = days
        policy.day_start, policy.day_end = day_start, day_end
        policy.holidays = sorted({day.isoformat() for day in holidays})
        policy.at_risk_percent = at_risk_percent
        policy.customer_priorities = [p for p in Priority.values if p in customer_priorities]
        policy.categories = list(dict.fromkeys(names))
        policy.reopen_window_days = reopen_window_days
        _full_clean(policy)
        policy.save()
        if recompute_open_tickets:
            _apply_to_open_tickets(policy)
    return policy


# The indexed columns of the running clock, kept equal to the targets' (tickets.py).
_RUNNING_CLOCK_FIELDS = ("sla_due_at", "sla_risk_at", "sla_breached")


def _apply_to_open_tickets(policy: SlaPolicy) -> None:
    """Recompute every open ticket's due times under ``policy`` (locked, inside the policy's
    transaction). Rows are written with update(): the per-ticket event below is the record,
    naming why they moved, instead of a bare field diff from django-auditlog."""
    now = timezone.now()
    checked = changed = 0
    tickets = (
        Ticket.objects.filter(status__in=selectors.OPEN_STATUSES)
        .select_for_update()
        .order_by("pk")
        .prefetch_related("sla_overrides", "sla_pauses")
    )
    for ticket in tickets:
        checked += 1
        changes = _recompute_targets(ticket, policy)
        if not changes:
            continue
        before = {field: getattr(ticket, field) for field in _RUNNING_CLOCK_FIELDS}
        _refresh_running_clock(ticket, now)
        for field in _RUNNING_CLOCK_FIELDS:
            if getattr(ticket, field) != before[field]:
                changes[field] = [before[field], getattr(ticket, field)]
        Ticket.objects.filter(pk=ticket.pk).update(
            **{field: after for field, (_, after) in changes.items()}, updated_at=now
        )
        audit_event_record(
            event_type=Event.TICKET_SLA_RECOMPUTED,
            target=ticket,
            changes=changes,
            data={"reason": "SLA policy changed", "policy_id": policy.pk},
        )
        changed += 1
    audit_event_record(
        event_type=Event.SLA_POLICY_APPLIED,
        target=policy,
        data={"open_tickets": checked, "tickets_changed": changed},
    )


def sla_override(
    *,
    tenant: Tenant,
    actor: Membership,
    ticket: Ticket,
    target: str,
    kind: str,
    reason: str,
    new_due_at: datetime | None = None,
) -> SlaOverride:
    """Extend one target to a later due time, or waive it, with a reason. Recorded as its
    own event, desk.sla.overridden, with the due time before -> after and the reason (which
    customers never see: the portal shows only the resulting due time)."""
    with _write(tenant=tenant, actor=actor, capability=caps.SLA_OVERRIDE) as current:
        ticket = _locked_visible(ticket, selectors.tickets_visible(current))
        if target not in SlaOverride.Target.values:
            raise ValidationError({"target": SLA_OVERRIDE_TARGET_UNKNOWN})
        if kind not in SlaOverride.Kind.values:
            raise ValidationError({"kind": SLA_OVERRIDE_KIND_UNKNOWN})
        reason = (reason or "").strip()
        if not reason:
            raise ValidationError({"reason": SLA_OVERRIDE_REASON_REQUIRED})
        due_field, risk_field = f"{target}_due_at", f"{target}_risk_at"
        before = getattr(ticket, due_field)
        met = ticket.first_responded_at if target == "first_response" else ticket.resolved_at
        if before is None or met is not None:
            raise ValidationError({"target": SLA_OVERRIDE_NOTHING_TO_CHANGE})
        if kind == SlaOverride.Kind.EXTEND:
            if new_due_at is None:
                raise ValidationError({"new_due_at": SLA_OVERRIDE_NEW_DUE_REQUIRED})
            if new_due_at <= before:
                raise ValidationError({"new_due_at": SLA_OVERRIDE_NOT_LATER})
            after: datetime | None = new_due_at
            # The at-risk point keeps its distance before the new due time.
            old_risk = getattr(ticket, risk_field) or before
            setattr(ticket, risk_field, max(old_risk, new_due_at - (before - old_risk)))
        else:
            after = None
            setattr(ticket, risk_field, None)
        setattr(ticket, due_field, after)
        now = timezone.now()
        # A target already missed stays missed in the record: sla_breached is not cleared.
        _refresh_running_clock(ticket, now)
        ticket.save()
        override = SlaOverride(
            ticket=ticket,
            target=target,
            kind=kind,
            reason=reason,
            due_before=before,
            due_after=after,
            created_by=current.user,
        )
        text_fields_check(override)  # the reason is the record of why: refused, never cut
        override.save()
        audit_event_record(
            event_type=Event.SLA_OVERRIDDEN,
            target=ticket,
            changes={due_field: [before, after]},
            data={"target": target, "kind": kind, "reason": reason, "override_id": override.pk},
        )
    return override
