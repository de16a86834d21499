"""Every audit event a support session writes, from its start to its end however it ends, in
the workspace's stream and the platform's, names the agent as its actor (kind "support
agent") and the impersonated member as on-behalf-of."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django_tenants.utils import schema_context, tenant_context

from audit.events import Event
from audit.models import AuditEvent
from support import services
from support.tests.factories import (
    age_session,
    console_client,
    grant_for,
    impersonation_client,
    owner_membership,
    support_agent,
)

pytestmark = pytest.mark.django_db

# Written by the workspace's owner (or the system), not by the session: they name their own
# actor, checked by support/tests/test_grants.py.
GRANT_EVENTS = {
    Event.SUPPORT_ACCESS_GRANTED,
    Event.SUPPORT_ACCESS_REVOKED,
    Event.SUPPORT_ACCESS_EXPIRED,
    Event.SUPPORT_ACCESS_DISABLED,
    Event.SUPPORT_ACCESS_ENABLED,
}


def _end_with_the_banner_button(client, session, tenant, agent):
    assert client.post("/support-session/end/").status_code == 302


def _end_from_the_console(client, session, tenant, agent):
    assert console_client(agent).post("/support/session/end/").status_code == 302
    assert client.get("/").status_code == 302  # the next request finds it over


def _end_by_idling(client, session, tenant, agent):
    age_session(session, started=timedelta(minutes=20), idle=timedelta(minutes=16))
    assert client.get("/").status_code == 302


def _end_by_revoking_the_grant(client, session, tenant, agent):
    services.grant_revoke(tenant=tenant, actor=owner_membership(tenant), grant_id=session.grant_id)
    assert client.get("/").status_code == 302


def _session_events(tenant, since: dict[str, int]) -> dict[str, list[AuditEvent]]:
    found = {}
    for name, context in (
        ("workspace", tenant_context(tenant)),
        ("platform", schema_context("public")),
    ):
        with context:
            found[name] = [
                event
                for event in AuditEvent.objects.filter(sequence__gt=since[name]).order_by(
                    "sequence"
                )
                if event.event_type not in GRANT_EVENTS
            ]
    return found


def _heads(tenant) -> dict[str, int]:
    heads = {}
    for name, context in (
        ("workspace", tenant_context(tenant)),
        ("platform", schema_context("public")),
    ):
        with context:
            last = AuditEvent.objects.order_by("-sequence").first()
            heads[name] = last.sequence if last else 0
    return heads


@pytest.mark.parametrize(
    "end",
    [
        _end_with_the_banner_button,
        _end_from_the_console,
        _end_by_idling,
        _end_by_revoking_the_grant,
    ],
    ids=["banner", "console", "idle", "grant-revoked"],
)
@pytest.mark.parametrize("write", [False, True], ids=["read-only", "write"])
def test_every_event_of_a_support_session_names_the_agent_and_the_member(acme, end, write):
    grant_for(acme, allow_write=True)
    agent = support_agent()
    since = _heads(acme)
    client, session = impersonation_client(agent, acme, write=write)
    member = session.acting_as.user
    assert client.get("/companies/").status_code == 200
    client.post("/companies/new/", {"name": "Support-made Co", "email": ""})
    assert client.get("/settings/exports/").status_code == 403  # no impersonation exports

    end(client, session, acme, agent)

    session.refresh_from_db()
    assert session.ended_at is not None
    events = _session_events(acme, since)
    kinds = {name: {event.event_type for event in found} for name, found in events.items()}
    assert {Event.IMPERSONATION_STARTED, Event.IMPERSONATION_ENDED} <= kinds["platform"]
    assert {
        Event.IMPERSONATION_STARTED,
        Event.IMPERSONATION_REQUEST,
        Event.IMPERSONATION_REFUSED,
        Event.IMPERSONATION_ENDED,
    } <= kinds["workspace"]
    if write:
        assert Event.COMPANY_CREATED in kinds["workspace"]
    for stream, found in events.items():
        for event in found:
            described = (stream, Event(event.event_type).name, event.additional_data)
            assert event.actor_id == agent.pk, described
            assert event.actor_email == agent.email, described
            assert event.actor_kind == "support_agent", described
            assert event.on_behalf_of_id == member.pk, described
            assert event.on_behalf_of_email == member.email, described


def test_the_request_that_ends_the_session_is_recorded_against_the_agent(acme):
    grant_for(acme)
    agent = support_agent()
    client, session = impersonation_client(agent, acme)
    since = _heads(acme)

    assert client.post("/support-session/end/").status_code == 302

    found = _session_events(acme, since)
    assert [Event(event.event_type) for event in found["workspace"]] == [
        Event.IMPERSONATION_ENDED,
        Event.IMPERSONATION_REQUEST,
    ]
    assert [Event(event.event_type) for event in found["platform"]] == [Event.IMPERSONATION_ENDED]
    request = found["workspace"][-1]
    assert request.additional_data["path"] == "/support-session/end/"
    assert request.additional_data["status"] == 302
    for event in found["workspace"] + found["platform"]:
        assert (event.actor_id, event.actor_kind, event.on_behalf_of_id) == (
            agent.pk,
            "support_agent",
            session.acting_as.user_id,
        )


def test_signing_out_of_the_console_is_recorded_as_the_agents(acme):
    agent = support_agent()
    console = console_client(agent)
    since = _heads(acme)

    assert console.post("/support/sign-out/").status_code == 302

    with schema_context("public"):
        (signed_out,) = AuditEvent.objects.filter(
            sequence__gt=since["platform"], event_type=Event.SIGNED_OUT
        )
    assert (signed_out.actor_id, signed_out.actor_kind, signed_out.target_id) == (
        agent.pk,
        "support_agent",
        str(agent.pk),
    )
