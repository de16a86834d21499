"""The SLA clock's history: pauses are stored, and replaying them from the ticket's opening
gives exactly the due times the status machine left (after resumes across a daylight-saving
change, a reopen and a merge); saving a policy can recompute open tickets' due times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from audit.events import Event
from audit.models import AuditEvent
from desk import selectors, services, sla
from desk.models import Priority, SlaPause, Ticket

pytestmark = pytest.mark.django_db

# Friday 23 October 2026, 10:00 in Amsterdam (summer time); the clocks go back on Sunday 25.
FRIDAY_10 = datetime(2026, 10, 23, 8, 0, tzinfo=UTC)
CLOCK_FIELDS = (
    "first_response_due_at",
    "first_response_risk_at",
    "resolution_due_at",
    "resolution_risk_at",
)


def _new_request(acme, customer, subject="Screen flickers"):
    return services.ticket_create(
        tenant=acme,
        actor=customer,
        subject=subject,
        description="Since Monday.",
        priority="normal",
    )


def _replayed(ticket: Ticket) -> dict:
    """The due times the stored history gives, under the current policy."""
    policy = selectors.sla_policy()
    pauses = list(ticket.sla_pauses.values_list("started_at", "ended_at"))
    values = {}
    for target, minutes in zip(
        ("first_response", "resolution"), policy.targets(ticket.priority), strict=True
    ):
        clock = sla.clock_replay(
            ticket.created_at,
            minutes,
            selectors.calendar_of(policy),
            at_risk_percent=policy.at_risk_percent,
            pauses=pauses,
        )
        values[f"{target}_due_at"], values[f"{target}_risk_at"] = clock.due_at, clock.risk_at
    return values


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _stored(ticket: Ticket) -> dict:
    ticket.refresh_from_db()
    return {field: getattr(ticket, field) for field in CLOCK_FIELDS}


def _status(acme, actor, ticket, status, at):
    with time_machine.travel(at, tick=False):
        services.ticket_change_status(tenant=acme, actor=actor, ticket=ticket, status=status)


def test_stored_pauses_replay_to_the_due_times_after_resumes_across_dst_a_reopen_and_a_merge(
    acme, in_acme, customer, expert
):
    hours = lambda n: FRIDAY_10 + timedelta(hours=n)  # noqa: E731 - a local shorthand
    with time_machine.travel(FRIDAY_10, tick=False):
        ticket = _new_request(acme, customer)
        duplicate = _new_request(acme, customer, subject="Screen flickers again")
    _status(acme, expert, ticket, "pending_customer", hours(1))
    with time_machine.travel(hours(76), tick=False):  # Monday, after the change to winter time
        services.request_reply(tenant=acme, actor=customer, ticket=ticket, body="Here it is.")
    _status(acme, expert, ticket, "pending_customer", hours(95))
    _status(acme, expert, ticket, "open", hours(99))
    _status(acme, expert, ticket, "resolved", hours(100))
    with time_machine.travel(hours(101), tick=False):
        services.request_reopen(tenant=acme, actor=customer, ticket=ticket)
    _status(acme, expert, duplicate, "pending_customer", hours(2))
    with time_machine.travel(hours(102), tick=False):
        services.ticket_merge(tenant=acme, actor=expert, ticket=duplicate, into=ticket)

    assert list(ticket.sla_pauses.values_list("started_at", "ended_at")) == [
        (hours(1), hours(76)),
        (hours(95), hours(99)),
    ]
    # The merged duplicate was closed: its pause ended with it, its own clock stays its own.
    assert list(duplicate.sla_pauses.values_list("started_at", "ended_at")) == [
        (hours(2), hours(102))
    ]
    assert not SlaPause.objects.filter(ticket=ticket, ended_at__isnull=True).exists()
    for record in (ticket, duplicate):
        assert _stored(record) == _replayed(record)
    # And the pauses really moved the clock: more than a plain target from the opening.
    plain = sla.clock_start(
        FRIDAY_10,
        selectors.sla_policy().targets("normal")[1],
        selectors.calendar_of(selectors.sla_policy()),
        at_risk_percent=selectors.sla_policy().at_risk_percent,
    )
    assert _stored(ticket)["resolution_due_at"] > plain.due_at


def test_a_pause_under_way_is_one_open_row_starting_at_the_paused_time(
    acme, in_acme, customer, expert
):
    with time_machine.travel(FRIDAY_10, tick=False):
        ticket = _new_request(acme, customer)
    _status(acme, expert, ticket, "pending_customer", FRIDAY_10 + timedelta(minutes=5))
    ticket.refresh_from_db()
    assert list(ticket.sla_pauses.values_list("started_at", "ended_at")) == [
        (ticket.sla_paused_at, None)
    ]


# --- Saving a policy, with or without recomputing open tickets ------------------------------


def _policy_arguments(**changes) -> dict:
    policy = selectors.sla_policy()
    return {
        "name": policy.name,
        "time_zone": policy.time_zone,
        "business_days": policy.business_days,
        "day_start": policy.day_start,
        "day_end": policy.day_end,
        "holidays": [date.fromisoformat(day) for day in policy.holidays],
        "at_risk_percent": policy.at_risk_percent,
        "targets": {priority: policy.targets(priority) for priority in Priority.values},
        "customer_priorities": policy.customer_priorities,
        "categories": policy.categories,
        "reopen_window_days": policy.reopen_window_days,
    } | changes


def _halved_targets() -> dict:
    policy = selectors.sla_policy()
    return {
        priority: tuple(minutes // 2 for minutes in policy.targets(priority))
        for priority in Priority.values
    }


def test_saving_a_policy_with_recompute_moves_open_tickets_and_audits_each_and_the_count(
    acme, in_acme, customer, expert, as_role
):
    owner = as_role("owner")
    with time_machine.travel(FRIDAY_10, tick=False):
        plain = _new_request(acme, customer)
        overridden = _new_request(acme, customer, subject="Extended")
        done = _new_request(acme, customer, subject="Done")
    _status(acme, expert, plain, "pending_customer", FRIDAY_10 + timedelta(hours=1))
    _status(acme, expert, plain, "open", FRIDAY_10 + timedelta(hours=3))
    extended_to = _stored(overridden)["resolution_due_at"] + timedelta(days=5)
    services.sla_override(
        tenant=acme,
        actor=owner,
        ticket=overridden,
        target="resolution",
        kind="extend",
        reason="Parts on order",
        new_due_at=extended_to,
    )
    _status(acme, expert, done, "resolved", FRIDAY_10 + timedelta(hours=4))
    done_before = _stored(done)
    plain_before = _stored(plain)

    services.sla_policy_update(
        tenant=acme,
        actor=owner,
        **_policy_arguments(targets=_halved_targets()),
        recompute_open_tickets=True,
    )

    # The open ticket follows the new targets, its stored pause kept.
    assert _stored(plain) == _replayed(plain)
    assert _stored(plain)["resolution_due_at"] < plain_before["resolution_due_at"]
    # The override made by hand stays; the other target of that ticket moves.
    assert _stored(overridden)["resolution_due_at"] == extended_to
    assert (
        _stored(overridden)["first_response_due_at"]
        == _replayed(overridden)["first_response_due_at"]
    )
    # A resolved ticket is history.
    assert _stored(done) == done_before

    recomputed = AuditEvent.objects.filter(event_type=Event.TICKET_SLA_RECOMPUTED)
    per_ticket = {int(event.target_id): event for event in recomputed}
    assert {plain.pk, overridden.pk} <= set(per_ticket)
    assert done.pk not in per_ticket
    changes = per_ticket[plain.pk].changes
    assert [_instant(value) for value in changes["resolution_due_at"]] == [
        plain_before["resolution_due_at"],
        _stored(plain)["resolution_due_at"],
    ]
    assert "resolution_due_at" not in per_ticket[overridden.pk].changes
    # The ticket's history (what staff read on its page) shows the recomputation.
    history = selectors.ticket_history(viewer=expert, ticket=plain)
    assert Event.TICKET_SLA_RECOMPUTED in {event.event_type for event in history}
    applied = AuditEvent.objects.get(event_type=Event.SLA_POLICY_APPLIED)
    assert applied.additional_data == {
        "open_tickets": Ticket.objects.filter(status__in=selectors.OPEN_STATUSES).count(),
        "tickets_changed": len(per_ticket),
    }


def test_saving_a_policy_without_recompute_leaves_open_tickets_due_times_alone(
    acme, in_acme, customer, as_role
):
    with time_machine.travel(FRIDAY_10, tick=False):
        ticket = _new_request(acme, customer)
    before = _stored(ticket)
    services.sla_policy_update(
        tenant=acme, actor=as_role("owner"), **_policy_arguments(targets=_halved_targets())
    )
    assert _stored(ticket) == before
    assert not AuditEvent.objects.filter(
        event_type__in=[Event.TICKET_SLA_RECOMPUTED, Event.SLA_POLICY_APPLIED]
    ).exists()


def test_the_sla_policy_form_offers_the_choice_and_saving_with_it_says_so(acme, client_for, member):
    from desk.forms import SlaPolicyForm

    client = client_for("acme", "owner")
    page = client.get("/desk/sla/").content.decode()
    assert "Also recompute the due times of open tickets" in page
    with tenant_context_of(acme):
        data = SlaPolicyForm.initial_for(selectors.sla_policy())
    form = {
        key: (
            [str(v) for v in value]
            if isinstance(value, list)
            else value.strftime("%H:%M")
            if hasattr(value, "strftime")
            else str(value)
        )
        for key, value in data.items()
    }
    response = client.post("/desk/sla/", form | {"recompute_open_tickets": "on"}, follow=True)
    assert response.status_code == 200
    assert "Open tickets&#x27; due times were recomputed." in response.content.decode()
    with tenant_context_of(acme):
        applied = AuditEvent.objects.get(event_type=Event.SLA_POLICY_APPLIED)
    assert applied.actor_id == member("acme", "owner").pk


def tenant_context_of(tenant):
    from django_tenants.utils import tenant_context

    return tenant_context(tenant)


def test_the_migration_rebuilds_past_and_current_pauses_from_the_audit_stream(
    acme, in_acme, customer, expert
):
    import importlib

    from django.apps import apps

    with time_machine.travel(FRIDAY_10, tick=False):
        ticket = _new_request(acme, customer)
    _status(acme, expert, ticket, "pending_customer", FRIDAY_10 + timedelta(hours=1))
    _status(acme, expert, ticket, "open", FRIDAY_10 + timedelta(hours=2))
    _status(acme, expert, ticket, "pending_customer", FRIDAY_10 + timedelta(hours=3))
    stored = list(ticket.sla_pauses.values_list("started_at", "ended_at"))
    SlaPause.objects.all().delete()  # a workspace from before pauses were stored

    migration = importlib.import_module("desk.migrations.0004_sla_pauses")
    migration.pauses_from_history(apps, None)

    rebuilt = list(ticket.sla_pauses.values_list("started_at", "ended_at"))
    assert len(rebuilt) == len(stored) == 2
    # The closed pause from the status events' times (written in the same transaction as the
    # change, so within a moment of it); the pause under way exactly from sla_paused_at.
    (start, end), (open_start, open_end) = rebuilt
    assert abs(start - stored[0][0]) < timedelta(seconds=1)
    assert abs(end - stored[0][1]) < timedelta(seconds=1)
    assert (open_start, open_end) == stored[1]
