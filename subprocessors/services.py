"""Publishing a change of the sub-processor list, and the owners' notices of it.

Actor: a platform support agent (the console, or ``manage.py subprocessor --agent``). Every
change and every refusal is audited in the platform stream.

The notice rule: owners of workspaces on an annual plan are promised at least
``ANNUAL_NOTICE_DAYS`` days' notice, so while any live workspace is on an annual plan a
change that takes effect sooner is refused as a whole (the list is one list for every
customer; there is no version of it that applies to monthly customers only). Every owner of
a live workspace, annual or monthly, gets one notice row at publication; the beat task
(subprocessors.tasks) emails it. Removing a vendor is a change like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.events import Event
from audit.models import Outcome
from audit.services import PLATFORM_STREAM, audit_event_record
from kernel.context import ActorKind
from kernel.email import email_send_templated
from kernel.roles import Role
from kernel.text import text_fields_check
from rbac.models import Membership
from tenants.models import Tenant

from .models import SubProcessor, SubProcessorChange, SubProcessorNotice
from .selectors import latest_effective_change, today

ANNUAL_NOTICE_DAYS = 30
# Workspaces whose owners are told: those still in use (archived and purging ones are closed).
LIVE_STATES = (Tenant.State.ACTIVE, Tenant.State.CANCELLED)

NOT_STAFF = "Only platform support staff with two-factor authentication may change this list."
EFFECTIVE_IN_PAST = "The effective date cannot be in the past."
SHORT_NOTICE_FOR_ANNUAL = (
    "Refused: {count} workspace(s) on an annual plan must be told at least {days} days "
    "before a change takes effect. Choose an effective date on or after {earliest}."
)
ALREADY_LISTED = "{name} is already a sub-processor (or announced); publish a change instead."
NOT_LISTED = "{name} is not on the list; add it first."
UNKNOWN_KIND = "Choose added, changed or removed."
FIELD_REQUIRED = "Give the vendor's {field}."


@dataclass(frozen=True)
class ChangeInput:
    kind: str
    name: str
    purpose: str = ""
    data_involved: str = ""
    region: str = ""
    note: str = ""
    effective_on: date | None = None


def _is_staff(agent: User | None) -> bool:
    from accounts.twofactor.selectors import user_has_2fa

    return bool(
        agent is not None and agent.is_active and agent.is_support_agent and user_has_2fa(agent)
    )


def annual_workspace_count() -> int:
    return Tenant.objects.filter(
        state__in=LIVE_STATES, billing_interval=Tenant.BillingInterval.ANNUAL
    ).count()


def _validate(change: ChangeInput, *, agent: User | None) -> tuple[SubProcessor | None, dict]:
    """The vendor the change is about (None for a new one) and the entry it will have."""
    if not _is_staff(agent):
        raise ValidationError(NOT_STAFF)
    kinds = SubProcessorChange.Kind
    if change.kind not in kinds.values:
        raise ValidationError(UNKNOWN_KIND)
    name = change.name.strip()
    if not name:
        raise ValidationError(FIELD_REQUIRED.format(field="name"))
    if change.effective_on is None:
        raise ValidationError(FIELD_REQUIRED.format(field="effective date"))
    day = today()
    if change.effective_on < day:
        raise ValidationError(EFFECTIVE_IN_PAST)
    vendor = SubProcessor.objects.filter(name__iexact=name).first()
    latest = (
        latest_effective_change(vendor, on=date.max) if vendor is not None else None
    )  # its last published change, effective or announced
    listed = latest is not None and latest.kind != kinds.REMOVED
    if change.kind == kinds.ADDED and listed:
        raise ValidationError(ALREADY_LISTED.format(name=name))
    if change.kind != kinds.ADDED and not listed:
        raise ValidationError(NOT_LISTED.format(name=name))
    entry = {
        "purpose": change.purpose.strip(),
        "data_involved": change.data_involved.strip(),
        "region": change.region.strip(),
    }
    if change.kind == kinds.REMOVED and latest is not None:
        # A removal keeps the entry as it was, so the history says what went away.
        entry = {field: entry[field] or getattr(latest, field) for field in entry}
    labels = {"purpose": "purpose", "data_involved": "data involved", "region": "region"}
    for field, label in labels.items():
        if not entry[field]:
            raise ValidationError(FIELD_REQUIRED.format(field=label))
    # What PostgreSQL could not store, or longer than the columns (the command has no form).
    text_fields_check(SubProcessor(name=name))
    text_fields_check(SubProcessorChange(kind=change.kind, note=change.note.strip(), **entry))
    annual = annual_workspace_count()
    earliest = day + timedelta(days=ANNUAL_NOTICE_DAYS)
    if annual and change.effective_on < earliest:
        raise ValidationError(
            SHORT_NOTICE_FOR_ANNUAL.format(
                count=annual, days=ANNUAL_NOTICE_DAYS, earliest=earliest.isoformat()
            )
        )
    return vendor, entry


def subprocessor_change_publish(
    *, agent: User | None, change: ChangeInput, actor_kind: str = ActorKind.SUPPORT_AGENT
) -> SubProcessorChange:
    """Publish ``change`` and queue one notice per owner of a live workspace; or record the
    refusal (platform stream) and raise ``ValidationError`` with the reason."""
    try:
        vendor, entry = _validate(change, agent=agent)
    except ValidationError as error:
        with transaction.atomic():
            audit_event_record(
                event_type=Event.SUBPROCESSOR_CHANGE_REFUSED,
                stream=PLATFORM_STREAM,
                actor=agent,
                actor_kind=actor_kind,
                outcome=Outcome.FAILURE,
                data={
                    "kind": change.kind,
                    "name": change.name[:100],
                    "effective_on": change.effective_on.isoformat() if change.effective_on else "",
                    "reason": error.messages[0],
                },
            )
        raise
    return _publish(agent=agent, change=change, vendor=vendor, entry=entry, actor_kind=actor_kind)


@transaction.atomic(durable=True)
def _publish(
    *,
    agent: User | None,
    change: ChangeInput,
    vendor: SubProcessor | None,
    entry: dict,
    actor_kind: str,
) -> SubProcessorChange:
    if vendor is None:
        vendor = SubProcessor.objects.create(name=change.name.strip())
    if change.effective_on is None:  # pragma: no cover - _validate refuses it first
        raise ValidationError(FIELD_REQUIRED.format(field="effective date"))
    published = SubProcessorChange.objects.create(
        sub_processor=vendor,
        kind=change.kind,
        note=change.note.strip(),
        effective_on=change.effective_on,
        published_at=timezone.now(),
        published_by=agent,
        **entry,
    )
    owners = _owners_to_notify()
    SubProcessorNotice.objects.bulk_create(
        [
            SubProcessorNotice(change=published, user_id=user_id, annual=annual)
            for user_id, annual in owners.items()
        ]
    )
    audit_event_record(
        event_type=Event.SUBPROCESSOR_CHANGE_PUBLISHED,
        stream=PLATFORM_STREAM,
        actor=agent,
        actor_kind=actor_kind,
        target=published,
        data={
            "vendor": vendor.name,
            "kind": published.kind,
            "effective_on": published.effective_on.isoformat(),
            "owners_to_notify": len(owners),
            "annual_owners": sum(owners.values()),
        },
    )
    return published


def _owners_to_notify() -> dict[int, bool]:
    """{user id: owns a workspace on an annual plan} for the active owners of live workspaces."""
    owners: dict[int, bool] = {}
    rows = Membership.objects.filter(
        role=Role.OWNER,
        is_active=True,
        user__is_active=True,
        tenant__state__in=LIVE_STATES,
    ).values_list("user_id", "tenant__billing_interval")
    for user_id, interval in rows:
        owners[user_id] = owners.get(user_id, False) or interval == Tenant.BillingInterval.ANNUAL
    return owners


def notices_send(*, limit: int = 500) -> int:
    """Email every unsent notice (at most ``limit`` per run) and mark it sent; returns how
    many went out. Each row is locked, emailed and marked in its own transaction, so two runs
    at once never send the same one, and a failure leaves only that row for the next run."""
    sent_changes: set[int] = set()
    sent = 0
    unsent = SubProcessorNotice.objects.filter(sent_at__isnull=True).order_by("created_at", "id")
    for notice_id in list(unsent.values_list("id", flat=True)[:limit]):
        with transaction.atomic():
            notice = (
                SubProcessorNotice.objects.select_for_update(skip_locked=True)
                .select_related("change__sub_processor", "user")
                .filter(pk=notice_id, sent_at__isnull=True)
                .first()
            )
            if notice is None:
                continue
            _notice_email(notice)
            notice.sent_at = timezone.now()
            notice.save(update_fields=["sent_at"])
        sent += 1
        sent_changes.add(notice.change_id)
    if sent:
        with transaction.atomic():
            audit_event_record(
                event_type=Event.SUBPROCESSOR_NOTICES_SENT,
                stream=PLATFORM_STREAM,
                actor=None,
                actor_kind=ActorKind.SYSTEM,
                data={"emails": sent, "changes": sorted(sent_changes)},
            )
    return sent


def _notice_email(notice: SubProcessorNotice) -> None:
    from tenants.selectors import public_url

    change = notice.change
    email_send_templated(
        to=[notice.user.email],
        template="subprocessors/email/change_notice",
        context={
            "vendor": change.sub_processor.name,
            "kind": change.get_kind_display().lower(),
            "purpose": change.purpose,
            "data_involved": change.data_involved,
            "region": change.region,
            "note": change.note,
            "effective_on": f"{change.effective_on.day} {change.effective_on:%B %Y}",
            "annual": notice.annual,
            "notice_days": ANNUAL_NOTICE_DAYS,
            "list_url": public_url("/security/sub-processors/"),
            "contact": settings.SECURITY_CONTACT_EMAIL,
        },
    )
