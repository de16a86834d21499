"""Incidents from the console: who may manage them, bad input, the banner in affected
workspaces only, the owners' emails, and the audit events in both streams."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from audit.events import Event
from audit.models import AuditEvent
from incidents.models import Incident, IncidentUpdate, IncidentWorkspace
from incidents.services import (
    ALREADY_RESOLVED,
    NOT_ALLOWED,
    incident_email_preference_set,
    incident_update_post,
)
from incidents.tests.factories import incident_manager, incident_open, manager_client
from rbac.models import Membership
from support.tests.factories import console_client, support_agent

pytestmark = pytest.mark.django_db

# Pages of different areas and capabilities: the banner is in the base layout, so a sample
# stands for every page (tests/test_crawl.py walks them all for dead links).
SAMPLE_PAGES = ["/", "/companies/", "/settings/", "/settings/incident-emails/"]


def _banners(client: Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    page = response.content.decode()
    return page if "data-incident-banner" in page else ""


def _events(in_tenant, tenant, event: Event) -> list[AuditEvent]:
    with in_tenant(tenant):
        return list(AuditEvent.objects.filter(event_type=int(event)).order_by("sequence"))


def _platform_events(event: Event) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=int(event)).order_by("sequence"))


def _open_form(client: Client, **overrides):
    data = {
        "title": "Slow pages",
        "impact": "partial",
        "components": ["web"],
        "status": "investigating",
        "body": "We are looking into it.",
        **overrides,
    }
    return client.post("/support/incidents/new/", data)


# --- Who may


def test_a_manager_opens_an_incident_for_chosen_workspaces_from_the_console(
    acme, globex, django_capture_on_commit_callbacks
):
    client = manager_client()
    assert client.get("/support/incidents/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = _open_form(client, workspaces=[str(acme.pk)])
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/support/incidents/{incident.pk}/"
    assert not incident.affects_all
    assert list(IncidentWorkspace.objects.values_list("tenant_id", flat=True)) == [acme.pk]
    assert incident.updates.get().body == "We are looking into it."
    assert client.get(response["Location"]).status_code == 200


def test_an_agent_without_the_capability_is_refused(acme):
    client = console_client(support_agent("plain@platform.example"))
    incident = incident_open(incident_manager(), workspaces=[acme])
    for path in (
        "/support/incidents/",
        "/support/incidents/new/",
        f"/support/incidents/{incident.pk}/",
    ):
        assert client.get(path).status_code == 403
    assert _open_form(client, affects_all="on").status_code == 403
    response = client.post(
        f"/support/incidents/{incident.pk}/", {"status": "resolved", "body": "Done"}
    )
    assert response.status_code == 403
    assert Incident.objects.count() == 1
    assert incident.updates.count() == 1


def test_a_workspace_member_gets_what_a_missing_page_gets(member, acme):
    incident = incident_open(incident_manager(), workspaces=[acme])
    # Signed in on the public host, even with the console's flag set in the session.
    client = console_client(member("acme", "owner"))
    for path in ("/support/incidents/", f"/support/incidents/{incident.pk}/"):
        assert client.get(path).status_code == client.get("/support/no-such-page/").status_code
        assert client.get(path).status_code == 404
    workspace_client = Client(HTTP_HOST="acme.localhost")
    assert workspace_client.get("/support/incidents/").status_code == 404


def test_an_anonymous_visitor_is_sent_to_the_console_sign_in_like_every_console_page():
    response = Client(HTTP_HOST="localhost").get("/support/incidents/new/")
    assert response.status_code == 302
    assert response["Location"] == "/support/sign-in/"


def test_the_service_refuses_a_support_agent_without_the_capability(acme):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied, match=NOT_ALLOWED):
        incident_open(support_agent("plain@platform.example"), workspaces=[acme])
    assert not Incident.objects.exists()


# --- Bad input


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"title": "", "affects_all": "on"}, "title", "This field is required."),
        ({"components": [], "affects_all": "on"}, "components", "This field is required."),
        ({"components": ["kitchen"], "affects_all": "on"}, "components", "Select a valid choice"),
        ({"impact": "apocalyptic", "affects_all": "on"}, "impact", "Select a valid choice"),
        ({"status": "resolved", "affects_all": "on"}, "status", "Select a valid choice"),
        ({"body": "x" * 2001, "affects_all": "on"}, "body", "at most 2000 characters"),
        ({}, "workspaces", "Choose the affected workspaces, or all of them."),
        ({"workspaces": ["999999"]}, "workspaces", "Select a valid choice"),
    ],
)
def test_bad_input_on_the_open_form_is_refused_next_to_its_field(overrides, field, message):
    response = _open_form(manager_client(), **overrides)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not Incident.objects.exists()
    assert not AuditEvent.objects.filter(event_type=int(Event.INCIDENT_OPENED)).exists()


def test_bad_input_on_the_update_form_is_refused_and_changes_nothing(acme):
    agent = incident_manager()
    incident = incident_open(agent, workspaces=[acme])
    client = manager_client(agent)
    path = f"/support/incidents/{incident.pk}/"
    for data, field in (
        ({"status": "fixed", "body": "Done"}, "status"),
        ({"status": "resolved", "body": ""}, "body"),
    ):
        response = client.post(path, data)
        assert response.status_code == 400
        assert response.context["form"].errors[field]
    assert (
        client.post("/support/incidents/999999/", {"status": "resolved", "body": "x"}).status_code
        == 404
    )
    incident.refresh_from_db()
    assert incident.is_open
    assert incident.updates.count() == 1


def test_a_resolved_incident_takes_no_more_updates(acme):
    agent = incident_manager()
    incident = incident_open(agent, workspaces=[acme])
    client = manager_client(agent)
    path = f"/support/incidents/{incident.pk}/"
    assert client.post(path, {"status": "resolved", "body": "Fixed."}).status_code == 302
    response = client.post(path, {"status": "monitoring", "body": "Again?"})
    assert response.status_code == 400
    assert ALREADY_RESOLVED in response.context["form"].non_field_errors()
    assert IncidentUpdate.objects.filter(incident=incident).count() == 2


# --- The banner


def test_the_banner_shows_on_every_page_of_an_affected_workspace_only_and_ends_on_resolve(
    acme, globex, client_for
):
    agent = incident_manager()
    incident = incident_open(agent, workspaces=[acme], title="Uploads failing")
    incident_update_post(
        actor=agent, incident_id=incident.pk, status="identified", body="A full disk."
    )
    acme_owner, acme_sales = client_for("acme", "owner"), client_for("acme", "sales")
    globex_owner = client_for("globex", "owner")
    for path in SAMPLE_PAGES:
        for client in (acme_owner, acme_sales):
            page = _banners(client, path)
            assert "Uploads failing" in page, path
            assert "A full disk." in page  # the latest update
            assert "We are looking into" not in page  # not the older one
            assert "globex" not in page.lower()
        assert _banners(globex_owner, path) == "", path
    incident_update_post(actor=agent, incident_id=incident.pk, status="resolved", body="Fixed.")
    for path in SAMPLE_PAGES:
        assert _banners(acme_owner, path) == "", path


def test_an_incident_for_every_workspace_shows_in_each_and_names_none(acme, globex, client_for):
    incident_open(incident_manager(), title="Database maintenance")
    for slug, other in (("acme", "globex"), ("globex", "acme")):
        page = _banners(client_for(slug, "owner"), "/")
        assert "Database maintenance" in page
        assert other not in page.lower()


def test_no_banner_for_a_visitor_who_is_not_signed_in(acme):
    incident_open(incident_manager(), workspaces=[acme])
    page = Client(HTTP_HOST="acme.localhost").get("/accounts/sign-in/").content.decode()
    assert "data-incident-banner" not in page


def test_a_workspace_context_cannot_see_which_other_workspaces_are_affected(
    acme, globex, in_tenant
):
    incident = incident_open(incident_manager(), workspaces=[acme, globex])
    with in_tenant(acme):
        rows = list(
            IncidentWorkspace.objects.filter(incident=incident).values_list("tenant_id", flat=True)
        )
    assert rows == [acme.pk]


# --- Emails


def test_owners_of_affected_workspaces_are_emailed_on_open_and_resolve_each_separately(
    acme, globex, django_capture_on_commit_callbacks
):
    agent = incident_manager()
    with django_capture_on_commit_callbacks(execute=True):
        incident = incident_open(agent, workspaces=[acme], title="Email delays")
    owners = sorted(
        Membership.objects.filter(tenant=acme, role="owner", is_active=True).values_list(
            "user__email", flat=True
        )
    )
    assert sorted(message.to[0] for message in mail.outbox) == owners
    for message in mail.outbox:
        assert len(message.to) == 1
        assert not message.cc
        assert not message.bcc
        assert message.subject == f"[{acme.name}] Incident: Email delays"
        assert "globex" not in (message.subject + message.body).lower()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        incident_update_post(
            actor=agent, incident_id=incident.pk, status="monitoring", body="Queue draining."
        )
    assert mail.outbox == []  # nobody opted into updates
    with django_capture_on_commit_callbacks(execute=True):
        incident_update_post(actor=agent, incident_id=incident.pk, status="resolved", body="Done.")
    assert sorted(message.to[0] for message in mail.outbox) == owners
    assert all(message.subject.startswith(f"[{acme.name}] Resolved:") for message in mail.outbox)


def test_an_owner_who_opted_in_gets_every_update_and_others_do_not(
    acme, globex, client_for, member, django_capture_on_commit_callbacks
):
    agent = incident_manager()
    incident = incident_open(agent)  # every workspace
    client = client_for("acme", "owner")
    response = client.post("/settings/incident-emails/", {"updates": "on"})
    assert response.status_code == 302
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        incident_update_post(
            actor=agent, incident_id=incident.pk, status="identified", body="Found it."
        )
    assert [message.to for message in mail.outbox] == [[member("acme", "owner").email]]
    assert "Found it." in mail.outbox[0].body
    assert "globex" not in mail.outbox[0].body.lower()


def test_a_member_who_is_not_an_owner_is_never_emailed(
    acme, member, django_capture_on_commit_callbacks
):
    sales = Membership.objects.get(tenant=acme, user=member("acme", "sales"))
    incident_email_preference_set(membership=sales, updates=True)
    agent = incident_manager()
    with django_capture_on_commit_callbacks(execute=True):
        incident = incident_open(agent, workspaces=[acme])
        incident_update_post(actor=agent, incident_id=incident.pk, status="monitoring", body="x")
    assert member("acme", "sales").email not in [message.to[0] for message in mail.outbox]


def test_the_preference_form_shows_and_saves_the_choice_and_audits_it(acme, client_for, in_tenant):
    client = client_for("acme", "owner")
    assert client.get("/settings/incident-emails/").status_code == 200
    client.post("/settings/incident-emails/", {"updates": "on"})
    client.post("/settings/incident-emails/", {})
    events = _events(in_tenant, acme, Event.INCIDENT_EMAIL_PREFERENCE_CHANGED)
    assert [event.changes for event in events] == [
        {"updates": [False, True]},
        {"updates": [True, False]},
    ]


# --- Audit


def test_every_change_is_audited_in_the_platform_stream_and_each_affected_workspace(
    acme, globex, in_tenant
):
    agent = incident_manager()
    incident = incident_open(agent, workspaces=[acme], title="Slow search")
    incident_update_post(actor=agent, incident_id=incident.pk, status="monitoring", body="Better.")
    incident_update_post(actor=agent, incident_id=incident.pk, status="resolved", body="Fixed.")
    for event in (Event.INCIDENT_OPENED, Event.INCIDENT_UPDATED, Event.INCIDENT_RESOLVED):
        [in_acme] = _events(in_tenant, acme, event)
        assert _events(in_tenant, globex, event) == []
        [in_platform] = _platform_events(event)
        for recorded in (in_acme, in_platform):
            assert recorded.actor_email == agent.email
            assert recorded.actor_kind == "support_agent"
            assert recorded.target_id == str(incident.pk)
            assert recorded.additional_data["title"] == "Slow search"
        assert "workspaces" not in in_acme.additional_data  # a workspace's copy names none
        assert in_platform.additional_data["workspaces"] == ["acme"]


def test_granting_the_capability_is_audited_in_the_platform_stream():
    agent = incident_manager()
    [event] = _platform_events(Event.INCIDENT_CAPABILITY_GRANTED)
    assert event.target_id == str(agent.pk)


def test_the_capability_command_grants_and_revokes_and_refuses_a_workspace_member(member):
    from django.core.management import CommandError, call_command

    from incidents.services import agent_can_manage_incidents

    agent = support_agent("ops@platform.example")
    call_command("incident_capability", "ops@platform.example")
    assert agent_can_manage_incidents(agent)
    call_command("incident_capability", "ops@platform.example", "--revoke")
    assert not agent_can_manage_incidents(agent)
    assert len(_platform_events(Event.INCIDENT_CAPABILITY_REVOKED)) == 1
    with pytest.raises(CommandError, match="Only a platform support agent"):
        call_command("incident_capability", member("acme", "owner").email)
    with pytest.raises(CommandError, match="No account"):
        call_command("incident_capability", "nobody@example.com")
