"""Managing the list: the console page (staff with 2FA only) and the command, both audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.sessions import SESSION_WORKSPACE_KEY
from audit.events import Event
from audit.models import AuditEvent
from subprocessors.models import SubProcessorChange
from support.tests.factories import console_client, support_agent
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
PAGE = "/support/sub-processors/"
GOOD = {
    "kind": "added",
    "name": "Hetzner Online",
    "purpose": "Hosts the servers",
    "data_involved": "All workspace data",
    "region": "Germany",
    "note": "",
    "effective_on": "2027-04-15",
}


@pytest.fixture(autouse=True)
def _monthly_plans(db):
    Tenant.objects.update(billing_interval=Tenant.BillingInterval.MONTHLY)


def test_anonymous_visitor_is_sent_to_console_sign_in_from_the_page():
    response = Client(HTTP_HOST="localhost").get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == "/support/sign-in/"


def test_workspace_member_cannot_reach_the_page_on_any_host(member, client_for):
    owner = member("acme", "owner")
    public = Client(HTTP_HOST="localhost")
    public.force_login(owner)
    session = public.session
    session[SESSION_WORKSPACE_KEY] = "public"
    session.save()
    assert public.get(PAGE).status_code == 404
    assert public.post(PAGE, GOOD).status_code == 404
    assert client_for("acme", "owner").get(PAGE).status_code == 404
    assert not SubProcessorChange.objects.filter(sub_processor__name="Hetzner Online").exists()


def test_agent_without_two_factor_cannot_reach_the_page():
    assert console_client(support_agent(with_2fa=False)).get(PAGE).status_code == 404


def test_agent_publishes_a_change_from_the_console(acme):
    with time_machine.travel(NOW, tick=False):  # the session is made at the travelled time
        client = console_client(support_agent())
        page = client.get(PAGE).content.decode()
        assert "Postmark" in page
        response = client.post(PAGE, GOOD, follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Published: Hetzner Online added, effective 2027-04-15" in body
    assert "2027-04-15: Hetzner Online added" in body
    change = SubProcessorChange.objects.get(sub_processor__name="Hetzner Online")
    assert change.published_by.email == "agent@platform.example"
    event = AuditEvent.objects.get(event_type=Event.SUBPROCESSOR_CHANGE_PUBLISHED)
    assert event.actor_kind == "support_agent"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"effective_on": "not a date"}, "Enter a valid date."),
        (
            {"kind": "renamed"},
            "Select a valid choice. renamed is not one of the available choices.",
        ),
        ({"name": ""}, "This field is required."),
        ({"name": "x" * 101}, "Ensure this value has at most 100 characters (it has 101)."),
        ({"purpose": ""}, "Give the vendor&#x27;s purpose."),
        ({"effective_on": "2027-02-27"}, "The effective date cannot be in the past."),
        ({"kind": "removed", "name": "Nobody"}, "Nobody is not on the list; add it first."),
    ],
)
def test_bad_input_on_the_console_form_is_refused_with_its_error(changes, error):
    with time_machine.travel(NOW, tick=False):  # the session is made at the travelled time
        client = console_client(support_agent())
        response = client.post(PAGE, {**GOOD, **changes})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not SubProcessorChange.objects.filter(sub_processor__name="Hetzner Online").exists()


def test_short_notice_for_an_annual_plan_is_refused_on_the_console(acme):
    Tenant.objects.filter(slug="acme").update(billing_interval=Tenant.BillingInterval.ANNUAL)
    with time_machine.travel(NOW, tick=False):  # the session is made at the travelled time
        client = console_client(support_agent())
        response = client.post(PAGE, {**GOOD, "effective_on": "2027-03-20"})
    assert response.status_code == 400
    assert "must be told at least 30 days before a change takes effect" in response.content.decode()
    assert "on or after 2027-03-31" in response.content.decode()


def test_command_publishes_a_change_and_audits_it(acme, capsys):
    support_agent()
    with time_machine.travel(NOW, tick=False):
        call_command(
            "subprocessor",
            "add",
            "Hetzner Online",
            "--agent",
            "agent@platform.example",
            "--effective",
            "2027-04-15",
            "--purpose",
            "Hosts the servers",
            "--data",
            "All workspace data",
            "--region",
            "Germany",
        )
        call_command("subprocessor", "list")
    out = capsys.readouterr().out
    assert "Published: Hetzner Online added, effective 2027-04-15" in out
    assert "announced: Hetzner Online added on 2027-04-15" in out
    event = AuditEvent.objects.get(event_type=Event.SUBPROCESSOR_CHANGE_PUBLISHED)
    assert event.actor_email == "agent@platform.example"


def test_command_refuses_bad_input_with_the_reason(member):
    support_agent()
    with time_machine.travel(NOW, tick=False):
        with pytest.raises(CommandError, match="YYYY-MM-DD"):
            call_command(
                "subprocessor",
                "add",
                "X",
                "--agent",
                "agent@platform.example",
                "--effective",
                "soon",
            )
        with pytest.raises(CommandError, match="at most 100 characters"):
            call_command(
                "subprocessor",
                "add",
                "Acme Hosting",
                "--agent",
                "agent@platform.example",
                "--effective",
                "2027-04-15",
                "--purpose",
                "Hosts",
                "--data",
                "All",
                "--region",
                "x" * 101,
            )
        with pytest.raises(CommandError, match="Only platform support staff"):
            call_command(
                "subprocessor",
                "remove",
                "Postmark (ActiveCampaign)",
                "--agent",
                member("acme", "owner").email,
                "--effective",
                "2027-04-15",
            )
    assert AuditEvent.objects.filter(event_type=Event.SUBPROCESSOR_CHANGE_REFUSED).count() == 2
    assert not SubProcessorChange.objects.filter(sub_processor__name="Acme Hosting").exists()
