"""The desk's services: the status machine, SLA clocks and overrides, the conversation,
merging, and what each writes to the audit log and sends by email."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from audit.events import Event
from audit.models import AuditEvent
from desk import services
from desk.models import SlaOverride, Ticket
from desk.services.tickets import TICKET_STATUS_TRANSITIONS

pytestmark = pytest.mark.django_db(transaction=False)

Status = Ticket.Status


def _events(ticket, event_type):
    return list(
        AuditEvent.objects.filter(
            event_type=event_type, target_type="desk.ticket", target_id=str(ticket.pk)
        ).order_by("sequence")
    )


def _new_request(acme, customer, **fields):
    values = {"subject": "Screen flickers", "description": "Since Monday.", "priority": "normal"}
    return services.ticket_create(tenant=acme, actor=customer, **(values | fields))


def test_a_customer_request_is_numbered_for_their_company_audited_and_announced(
    acme, in_acme, customer
):
    ticket = _new_request(acme, customer)
    assert ticket.number.startswith("T-")
    assert ticket.company_id == customer.company_id
    assert ticket.requester_id == customer.user_id
    assert ticket.first_response_due_at is not None
    assert ticket.sla_due_at is not None
    assert [e.event_type for e in _events(ticket, Event.TICKET_CREATED)] == [Event.TICKET_CREATED]


def test_a_customer_cannot_choose_a_priority_the_workspace_does_not_offer(acme, in_acme, customer):
    with pytest.raises(ValidationError) as refused:
        _new_request(acme, customer, priority="urgent")
    assert refused.value.message_dict == {"priority": [services.TICKET_PRIORITY_NOT_ALLOWED]}


def test_a_customer_cannot_link_another_companys_asset(acme, in_acme, customer, as_email):
    from desk.models import Asset

    other = as_email("customer2@acme.example")
    foreign = Asset.objects.get(company_id=other.company_id)
    with pytest.raises(ValidationError) as refused:
        _new_request(acme, customer, asset_ids=[foreign.pk])
    assert refused.value.message_dict == {"assets": [services.TICKET_ASSET_OTHER_COMPANY]}


ALL = list(Status.values)
ILLEGAL = [(a, b) for a in ALL for b in ALL if b not in TICKET_STATUS_TRANSITIONS[a]]


@pytest.mark.parametrize(("current", "new"), ILLEGAL)
def test_every_illegal_status_transition_is_refused_with_a_clear_message(
    acme, in_acme, customer, expert, current, new
):
    ticket = _new_request(acme, customer)
    Ticket.objects.filter(pk=ticket.pk).update(
        status=current, resolved_at=timezone.now(), closed_at=timezone.now()
    )
    with pytest.raises(ValidationError) as refused:
        services.ticket_change_status(tenant=acme, actor=expert, ticket=ticket, status=new)
    expected = services.TICKET_STATUS_CHANGE_NOT_ALLOWED.format(
        current=Status(current).label, new=Status(new).label
    )
    assert refused.value.message_dict == {"status": [expected]}
    assert Ticket.objects.get(pk=ticket.pk).status == current


def test_a_status_change_is_audited_from_to_and_emails_the_requester(
    acme, in_acme, customer, expert, django_capture_on_commit_callbacks
):
    ticket = _new_request(acme, customer)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_change_status(tenant=acme, actor=expert, ticket=ticket, status="open")
    [event] = _events(ticket, Event.TICKET_STATUS_CHANGED)
    assert event.changes == {"status": ["new", "open"]}
    assert [m.to for m in mail.outbox] == [[customer.user.email]]


def test_pending_customer_pauses_the_clock_and_resuming_moves_the_due_times(
    acme, in_acme, customer, expert
):
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        ticket = _new_request(acme, customer)
        services.ticket_change_status(
            tenant=acme, actor=expert, ticket=ticket, status="pending_customer"
        )
    ticket.refresh_from_db()
    due_before = ticket.resolution_due_at
    assert ticket.sla_paused_at == start
    assert ticket.sla_due_at is None
    with time_machine.travel(start + timedelta(days=7), tick=False):
        services.request_reply(tenant=acme, actor=customer, ticket=ticket, body="Here it is.")
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.sla_paused_at is None
    assert ticket.resolution_due_at > due_before  # a week of pause added business time back
    assert ticket.sla_due_at is not None


def test_an_override_needs_a_reason_and_is_audited_with_before_after_and_reason(
    acme, in_acme, customer, as_role
):
    manager = as_role("manager")
    ticket = _new_request(acme, customer)
    with pytest.raises(ValidationError) as refused:
        services.sla_override(
            tenant=acme, actor=manager, ticket=ticket, target="resolution", kind="waive", reason=" "
        )
    assert refused.value.message_dict == {"reason": [services.SLA_OVERRIDE_REASON_REQUIRED]}
    before = ticket.resolution_due_at
    new_due = before + timedelta(days=2)
    services.sla_override(
        tenant=acme,
        actor=manager,
        ticket=ticket,
        target="resolution",
        kind="extend",
        reason="Waiting on a spare part",
        new_due_at=new_due,
    )
    [event] = _events(ticket, Event.SLA_OVERRIDDEN)
    assert event.additional_data["reason"] == "Waiting on a spare part"
    assert list(event.changes) == ["resolution_due_at"]
    assert SlaOverride.objects.get(ticket=ticket).due_after == new_due
    assert Ticket.objects.get(pk=ticket.pk).resolution_due_at == new_due


def test_an_expert_may_not_override_an_sla(acme, in_acme, customer, expert):
    ticket = _new_request(acme, customer)
    with pytest.raises(PermissionDenied):
        services.sla_override(
            tenant=acme, actor=expert, ticket=ticket, target="resolution", kind="waive", reason="x"
        )


def test_an_internal_note_is_emailed_to_staff_only_never_to_the_requester(
    acme, in_acme, customer, expert, as_role, django_capture_on_commit_callbacks
):
    ticket = _new_request(acme, customer)
    manager = as_role("manager")
    services.ticket_update(
        tenant=acme,
        actor=expert,
        ticket=ticket,
        subject=ticket.subject,
        priority=ticket.priority,
        watcher_ids=[manager.user_id],
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(
            tenant=acme,
            actor=expert,
            ticket=ticket,
            body="Secret: the vendor is late",
            internal=True,
        )
    assert [m.to for m in mail.outbox] == [[manager.user.email]]
    assert all(customer.user.email not in m.to for m in mail.outbox)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(tenant=acme, actor=expert, ticket=ticket, body="On its way.")
    # The reply, and the status change it makes (new -> open), each to both of them.
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == sorted([manager.user.email, customer.user.email] * 2)
    for message in mail.outbox:
        assert message.reply_to == [acme_from_address()]
        assert "Secret" not in message.body
        assert len(message.to) == 1


def acme_from_address():
    from django.conf import settings

    return settings.DEFAULT_FROM_EMAIL


def test_a_customer_can_reopen_a_resolved_request_only_within_the_window(
    acme, in_acme, customer, expert
):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        ticket = _new_request(acme, customer)
        services.ticket_change_status(tenant=acme, actor=expert, ticket=ticket, status="resolved")
    with (
        time_machine.travel(start + timedelta(days=8), tick=False),
        pytest.raises(ValidationError) as refused,
    ):
        services.request_reopen(tenant=acme, actor=customer, ticket=ticket)
    assert refused.value.messages == [services.TICKET_REOPEN_WINDOW_PASSED.format(days=7)]
    with time_machine.travel(start + timedelta(days=2), tick=False):
        services.request_reopen(tenant=acme, actor=customer, ticket=ticket)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN


def test_merging_moves_the_conversation_and_closes_the_duplicate(acme, in_acme, customer, expert):
    first = _new_request(acme, customer)
    duplicate = _new_request(acme, customer, subject="Screen flickers again")
    services.ticket_reply(tenant=acme, actor=expert, ticket=duplicate, body="Seen it.")
    services.ticket_merge(tenant=acme, actor=expert, ticket=duplicate, into=first)
    duplicate.refresh_from_db()
    assert duplicate.status == Status.CLOSED
    assert duplicate.merged_into_id == first.pk
    assert list(first.messages.values_list("body", flat=True)) == ["Seen it."]
    assert len(_events(first, Event.TICKET_MERGED)) == 1
    assert len(_events(duplicate, Event.TICKET_MERGED)) == 1


def test_tickets_of_two_companies_cannot_be_merged(acme, in_acme, customer, expert, as_email):
    mine = _new_request(acme, customer)
    theirs = _new_request(acme, as_email("customer2@acme.example"))
    with pytest.raises(ValidationError) as refused:
        services.ticket_merge(tenant=acme, actor=expert, ticket=mine, into=theirs)
    assert refused.value.message_dict == {"into": [services.TICKET_MERGE_OTHER_COMPANY]}


def test_a_customer_cannot_reply_on_another_companys_request(acme, in_acme, customer, as_email):
    theirs = _new_request(acme, as_email("customer2@acme.example"))
    with pytest.raises(PermissionDenied):
        services.request_reply(tenant=acme, actor=customer, ticket=theirs, body="hi")
    assert not theirs.messages.exists()


def test_text_over_its_limit_or_with_a_nul_is_refused_by_the_services_and_nothing_is_stored(
    acme, in_acme, customer
):
    from desk.models import DESCRIPTION_MAX_LENGTH, MESSAGE_MAX_LENGTH
    from kernel.text import TEXT_NUL, text_too_long_message

    before = Ticket.objects.count()
    with pytest.raises(ValidationError) as too_long:
        _new_request(acme, customer, description="d" * (DESCRIPTION_MAX_LENGTH + 1))
    assert too_long.value.message_dict["description"] == [
        text_too_long_message(DESCRIPTION_MAX_LENGTH, DESCRIPTION_MAX_LENGTH + 1)
    ]
    assert Ticket.objects.count() == before

    ticket = _new_request(acme, customer)
    for body, expected in [
        (
            "m" * (MESSAGE_MAX_LENGTH + 1),
            text_too_long_message(MESSAGE_MAX_LENGTH, MESSAGE_MAX_LENGTH + 1),
        ),
        ("before\x00after", str(TEXT_NUL)),
    ]:
        with pytest.raises(ValidationError) as refused:
            services.request_reply(tenant=acme, actor=customer, ticket=ticket, body=body)
        assert refused.value.message_dict["body"] == [expected]
    assert not ticket.messages.exists()


# --- A priority change moves the due times --------------------------------------------------

# A Monday morning in the policy's zone (Europe/Amsterdam), inside business hours.
MONDAY_10 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _business_seconds(start, end):
    from desk import selectors, sla

    return sla.business_seconds_between(start, end, selectors.calendar_of(selectors.sla_policy()))


def _change_priority(acme, actor, ticket, priority):
    return services.ticket_update(
        tenant=acme, actor=actor, ticket=ticket, subject=ticket.subject, priority=priority
    )


def test_raising_the_priority_moves_both_due_times_to_its_targets_and_audits_before_after(
    acme, in_acme, customer, expert
):
    from desk import selectors

    policy = selectors.sla_policy()
    with time_machine.travel(MONDAY_10, tick=False):
        ticket = _new_request(acme, customer)
        _change_priority(acme, expert, ticket, "urgent")
    after = Ticket.objects.get(pk=ticket.pk)
    first, resolution = policy.targets("urgent")
    assert _business_seconds(MONDAY_10, after.first_response_due_at) == first * 60
    assert _business_seconds(MONDAY_10, after.resolution_due_at) == resolution * 60
    assert after.sla_due_at == after.first_response_due_at
    [event] = _events(ticket, Event.TICKET_UPDATED)
    assert event.changes["priority"] == ["normal", "urgent"]
    # 10:00 in Amsterdam: normal is due 14:00 and Thursday 10:00, urgent 10:30 and 14:00.
    assert event.changes["first_response_due_at"] == ["2026-03-02 13:00:00", "2026-03-02 09:30:00"]
    assert event.changes["resolution_due_at"] == ["2026-03-05 09:00:00", "2026-03-02 13:00:00"]
    assert event.changes["sla_due_at"] == ["2026-03-02 13:00:00", "2026-03-02 09:30:00"]


def test_a_priority_change_keeps_an_overridden_target_and_moves_the_other(
    acme, in_acme, customer, expert, as_role
):
    from desk import selectors

    manager = as_role("manager")
    with time_machine.travel(MONDAY_10, tick=False):
        ticket = _new_request(acme, customer)
        extended = ticket.resolution_due_at + timedelta(days=3)
        services.sla_override(
            tenant=acme,
            actor=manager,
            ticket=ticket,
            target="resolution",
            kind="extend",
            reason="Spare part on order",
            new_due_at=extended,
        )
        _change_priority(acme, expert, ticket, "high")
    after = Ticket.objects.get(pk=ticket.pk)
    assert after.resolution_due_at == extended
    first, _ = selectors.sla_policy().targets("high")
    assert _business_seconds(MONDAY_10, after.first_response_due_at) == first * 60


def test_a_priority_change_keeps_the_business_time_the_ticket_spent_paused(
    acme, in_acme, customer, expert
):
    from desk import selectors

    paused_at, resumed_at = MONDAY_10 + timedelta(hours=1), MONDAY_10 + timedelta(days=2)
    with time_machine.travel(MONDAY_10, tick=False):
        ticket = _new_request(acme, customer)
    with time_machine.travel(paused_at, tick=False):
        services.ticket_change_status(
            tenant=acme, actor=expert, ticket=ticket, status="pending_customer"
        )
    with time_machine.travel(resumed_at, tick=False):
        services.request_reply(tenant=acme, actor=customer, ticket=ticket, body="Here it is.")
        _change_priority(acme, expert, ticket, "low")
    after = Ticket.objects.get(pk=ticket.pk)
    _, resolution = selectors.sla_policy().targets("low")
    paused = _business_seconds(paused_at, resumed_at)
    assert paused == 15 * 3600  # Monday 11:00 to Wednesday 10:00: 6 + 8 + 1 working hours
    assert _business_seconds(MONDAY_10, after.resolution_due_at) == resolution * 60 + paused


def test_a_priority_change_leaves_a_met_first_response_where_it_was(
    acme, in_acme, customer, expert
):
    with time_machine.travel(MONDAY_10, tick=False):
        ticket = _new_request(acme, customer)
        services.ticket_reply(tenant=acme, actor=expert, ticket=ticket, body="On it.")
        ticket.refresh_from_db()
        first_due, resolution_due = ticket.first_response_due_at, ticket.resolution_due_at
        _change_priority(acme, expert, ticket, "urgent")
    after = Ticket.objects.get(pk=ticket.pk)
    assert after.first_responded_at is not None
    assert after.first_response_due_at == first_due
    assert after.resolution_due_at < resolution_due
