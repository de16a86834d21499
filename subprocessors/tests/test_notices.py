"""Publishing sub-processor changes: the 30-day rule for annual plans, one notice per owner,
sent exactly once by the beat task, and the audit events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError

from audit.events import Event
from audit.models import AuditEvent
from subprocessors import selectors
from subprocessors.models import SubProcessorChange, SubProcessorNotice
from subprocessors.services import (
    EFFECTIVE_IN_PAST,
    NOT_LISTED,
    NOT_STAFF,
    ChangeInput,
    subprocessor_change_publish,
)
from subprocessors.tasks import subprocessor_notices_send
from support.tests.factories import support_agent
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def _added(days_ahead: int, name: str = "Cloudflare R2") -> ChangeInput:
    return ChangeInput(
        kind="added",
        name=name,
        purpose="Stores workspace files",
        data_involved="Uploaded files and exports",
        region="European Union",
        effective_on=NOW.date() + timedelta(days=days_ahead),
    )


def _plans(*, annual: tuple[str, ...]) -> None:
    Tenant.objects.update(billing_interval=Tenant.BillingInterval.MONTHLY)
    Tenant.objects.filter(slug__in=annual).update(billing_interval=Tenant.BillingInterval.ANNUAL)


def _platform_events(event: Event):
    # On the public schema the audit table is the platform stream.
    return AuditEvent.objects.filter(event_type=event)


def test_short_notice_is_refused_while_a_workspace_is_on_an_annual_plan(acme):
    _plans(annual=("acme",))
    agent = support_agent()
    with time_machine.travel(NOW, tick=False), pytest.raises(ValidationError) as refused:
        subprocessor_change_publish(agent=agent, change=_added(29))
    assert refused.value.messages == [
        "Refused: 1 workspace(s) on an annual plan must be told at least 30 days before a "
        "change takes effect. Choose an effective date on or after 2027-03-31."
    ]
    assert not SubProcessorChange.objects.filter(sub_processor__name="Cloudflare R2").exists()
    assert SubProcessorNotice.objects.count() == 0
    refusal = _platform_events(Event.SUBPROCESSOR_CHANGE_REFUSED).get()
    assert refusal.outcome == "failure"
    assert refusal.additional_data["reason"].startswith("Refused: 1 workspace(s)")


def test_thirty_days_notice_is_accepted_for_annual_plans_and_every_owner_is_told_once(
    acme, globex, member
):
    _plans(annual=("acme",))
    with time_machine.travel(NOW, tick=False):
        change = subprocessor_change_publish(agent=support_agent(), change=_added(30))
    notices = {notice.user.email: notice.annual for notice in change.notices.all()}
    assert notices["owner@acme.example"] is True
    assert notices["owner@globex.example"] is False
    assert "manager@acme.example" not in notices  # owners only
    published = _platform_events(Event.SUBPROCESSOR_CHANGE_PUBLISHED).get()
    assert published.actor_email == "agent@platform.example"
    assert published.additional_data["effective_on"] == "2027-03-31"
    assert published.additional_data["annual_owners"] >= 1


def test_short_notice_is_accepted_when_every_workspace_is_monthly(acme, globex):
    _plans(annual=())
    with time_machine.travel(NOW, tick=False):
        change = subprocessor_change_publish(agent=support_agent(), change=_added(3))
    assert change.effective_on == date(2027, 3, 4)
    assert change.notices.filter(user__email="owner@globex.example", annual=False).exists()


def test_beat_task_emails_each_owner_once_even_when_run_twice(acme, globex):
    _plans(annual=("acme",))
    with time_machine.travel(NOW, tick=False):
        change = subprocessor_change_publish(agent=support_agent(), change=_added(45))
        owners = change.notices.count()
        mail.outbox.clear()
        assert subprocessor_notices_send() == owners
        assert subprocessor_notices_send() == 0
    to = sorted(message.to[0] for message in mail.outbox)
    assert len(to) == owners == len(set(to))
    acme_owner = next(m for m in mail.outbox if m.to == ["owner@acme.example"])
    assert (
        acme_owner.subject == "Sub-processor change: Cloudflare R2 added, effective 15 April 2027"
    )
    assert "annual plan" in acme_owner.body
    globex_owner = next(m for m in mail.outbox if m.to == ["owner@globex.example"])
    assert "annual plan" not in globex_owner.body
    assert not change.notices.filter(sent_at__isnull=True).exists()
    sent = _platform_events(Event.SUBPROCESSOR_NOTICES_SENT).get()
    assert sent.additional_data == {"emails": owners, "changes": [change.pk]}


def test_list_changes_on_the_effective_date_not_before(acme):
    _plans(annual=())
    with time_machine.travel(NOW, tick=False):
        subprocessor_change_publish(agent=support_agent(), change=_added(10))
        names = [entry.name for entry in selectors.current_entries()]
        assert "Cloudflare R2" not in names
        assert [c.sub_processor.name for c in selectors.upcoming_changes()] == ["Cloudflare R2"]
    with time_machine.travel(NOW + timedelta(days=10), tick=False):
        assert "Cloudflare R2" in [entry.name for entry in selectors.current_entries()]
        assert not selectors.upcoming_changes().exists()


def test_a_removal_keeps_the_entry_in_the_history_and_leaves_the_list(acme):
    _plans(annual=())
    agent = support_agent()
    with time_machine.travel(NOW, tick=False):
        subprocessor_change_publish(agent=agent, change=_added(0))
        subprocessor_change_publish(
            agent=agent,
            change=ChangeInput(kind="removed", name="cloudflare r2", effective_on=NOW.date()),
        )
        assert "Cloudflare R2" not in [entry.name for entry in selectors.current_entries()]
        removal = selectors.change_history().filter(kind="removed").get()
        assert removal.region == "European Union"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ChangeInput(kind="removed", name="Nobody Inc", effective_on=NOW.date()),
            NOT_LISTED.format(name="Nobody Inc"),
        ),
        (_added(-1), EFFECTIVE_IN_PAST),
        (
            ChangeInput(kind="added", name="X", effective_on=NOW.date()),
            "Give the vendor's purpose.",
        ),
    ],
)
def test_bad_changes_are_refused_with_their_reason_and_write_nothing(acme, change, message):
    _plans(annual=())
    before = SubProcessorChange.objects.count()
    with time_machine.travel(NOW, tick=False), pytest.raises(ValidationError) as refused:
        subprocessor_change_publish(agent=support_agent(), change=change)
    assert refused.value.messages == [message]
    assert SubProcessorChange.objects.count() == before


def test_only_support_staff_with_two_factor_may_publish(member):
    _plans(annual=())
    for someone in (None, member("acme", "owner"), support_agent(with_2fa=False)):
        with time_machine.travel(NOW, tick=False), pytest.raises(ValidationError) as refused:
            subprocessor_change_publish(agent=someone, change=_added(40))
        assert refused.value.messages == [NOT_STAFF]


def test_the_seeded_list_names_postmark(db):
    assert [entry.name for entry in selectors.current_entries()] == ["Postmark (ActiveCampaign)"]


def test_a_workspace_context_sees_no_owner_notices(acme, in_tenant):
    _plans(annual=())
    with time_machine.travel(NOW, tick=False):
        subprocessor_change_publish(agent=support_agent(), change=_added(40))
    assert SubProcessorNotice.objects.exists()
    with in_tenant(acme):
        assert not SubProcessorNotice.objects.exists()
