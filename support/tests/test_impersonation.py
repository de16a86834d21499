"""Impersonation: grant -> hand-off -> gate -> banner -> end, and everything it must refuse."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from audit.events import Event
from audit.models import AuditEvent
from kernel.decorators import declared_capability
from rbac.models import Membership
from support import services
from support.gate import FORBIDDEN_CAPABILITIES, FORBIDDEN_URL_NAMES
from support.models import ImpersonationHandoff, ImpersonationSession, SupportAccessGrant
from support.tests.factories import (
    age_session,
    console_client,
    grant_for,
    impersonation_client,
    owner_membership,
    support_agent,
)
from tenants.rls import platform_view
from tests.urls import tenant_urls

pytestmark = pytest.mark.django_db

SIGN_IN = "/accounts/sign-in/"


def _start(agent, tenant, *, role="manager", write=False):
    with platform_view():  # the console's view, whatever host the last request was on
        member = Membership.objects.get(tenant=tenant, role=role, is_active=True, company_id=None)
    return console_client(agent).post(
        f"/support/workspaces/{tenant.slug}/",
        {
            "acting_as": member.pk,
            "reason": "Look at a quote",
            "ticket_ref": "SUP-1",
            "write": "on" if write else "",
        },
    )


def _events(in_tenant, tenant, event):
    with in_tenant(tenant):
        return list(AuditEvent.objects.filter(event_type=int(event)).order_by("sequence"))


def test_no_grant_means_no_session(acme):
    response = _start(support_agent(), acme)
    assert response.status_code == 400
    assert services.NO_LIVE_GRANT in response.content.decode()
    assert not ImpersonationSession.objects.exists()


def test_switched_off_workspace_refuses_session(acme):
    grant_for(acme)
    services.support_access_set(tenant=acme, actor=owner_membership(acme), enabled=False)
    response = _start(support_agent(), acme)
    assert response.status_code == 400
    assert services.ACCESS_DISABLED in response.content.decode()


def test_write_session_needs_a_grant_that_allows_it(acme):
    grant_for(acme, allow_write=False)
    response = _start(support_agent(), acme, write=True)
    assert response.status_code == 400
    assert services.WRITE_NOT_GRANTED in response.content.decode()


def test_start_needs_reason_and_ticket(acme):
    grant_for(acme)
    member = Membership.objects.get(tenant=acme, role="manager")
    response = console_client(support_agent()).post(
        "/support/workspaces/acme/", {"acting_as": member.pk, "reason": "", "ticket_ref": ""}
    )
    assert response.status_code == 400
    assert not ImpersonationSession.objects.exists()


def test_nested_sessions_are_refused(acme, globex):
    grant_for(acme)
    grant_for(globex)
    agent = support_agent()
    impersonation_client(agent, acme)
    response = _start(agent, globex)
    assert response.status_code == 400
    assert services.SESSION_ALREADY_LIVE in response.content.decode()


def test_another_staff_member_cannot_be_impersonated(acme):
    grant_for(acme)
    other_agent = support_agent("other-agent@platform.example")
    # Even a (wrongly made) membership of a staff member is never a valid target.
    staff_membership = Membership.objects.create(user=other_agent, tenant=acme, role="employee")
    with pytest.raises(services.ValidationError) as error:
        services.impersonation_start(
            agent=support_agent(),
            tenant=acme,
            acting_as_id=staff_membership.pk,
            reason="r",
            ticket_ref="t",
            write=False,
        )
    assert error.value.messages == [services.MEMBER_NOT_ALLOWED]


def test_full_flow_banner_and_end_returns_to_console(acme, in_tenant):
    grant_for(acme)
    agent = support_agent()
    client, session = impersonation_client(agent, acme)
    home = client.get("/")
    assert home.status_code == 200
    body = home.content.decode()
    assert 'id="impersonation-banner"' in body
    assert agent.email in body
    assert "manager@acme.example" in body
    assert "read-only" in body
    assert 'id="support-viewing-banner"' in body
    ended = client.post("/support-session/end/")
    assert ended.status_code == 302
    assert ended["Location"].endswith("localhost:8000/support/")
    session.refresh_from_db()
    assert session.ended_at is not None
    assert session.end_reason == "agent"
    assert client.get("/").status_code == 302  # this host's cookie is gone
    # Start and end in both streams, with reason, ticket and grant.
    for stream in ("public", acme):
        for event_type in (Event.IMPERSONATION_STARTED, Event.IMPERSONATION_ENDED):
            if stream == "public":
                with schema_context("public"):
                    events = list(AuditEvent.objects.filter(event_type=int(event_type)))
            else:
                events = _events(in_tenant, acme, event_type)
            [event] = events
            assert event.actor_id == agent.pk
            assert event.actor_kind == "support_agent"
            assert event.additional_data["reason"] == "Customer cannot see quote"
            assert event.additional_data["ticket_ref"] == "SUP-42"
            assert event.additional_data["grant_id"] == session.grant_id


def test_agent_console_session_is_untouched_by_impersonation(acme):
    grant_for(acme)
    agent = support_agent()
    console = console_client(agent)
    impersonation_client(agent, acme)
    assert console.get("/support/").status_code == 200


def test_every_member_sees_support_banner_while_session_is_live(acme, client_for):
    grant_for(acme)
    impersonation_client(support_agent(), acme)
    for role in ("owner", "designer", "customer"):
        body = client_for("acme", role).get("/").content.decode()
        assert "Support is viewing this workspace until" in body, role


def test_no_support_banner_without_live_session(acme, client_for):
    grant_for(acme)
    assert "Support is viewing" not in client_for("acme", "owner").get("/").content.decode()


def test_handoff_token_is_single_use(acme):
    grant_for(acme)
    _session, token = services.impersonation_start(
        agent=support_agent(),
        tenant=acme,
        acting_as_id=Membership.objects.get(tenant=acme, role="manager").pk,
        reason="r",
        ticket_ref="t",
        write=False,
    )
    first = Client(HTTP_HOST="acme.localhost")
    assert first.get(f"/support-session/enter/{token}/")["Location"] == "/"
    second = Client(HTTP_HOST="acme.localhost")
    assert second.get(f"/support-session/enter/{token}/")["Location"] == SIGN_IN
    assert second.get("/")["Location"].startswith(SIGN_IN)


def test_handoff_token_is_bound_to_the_workspace_and_the_agent(acme, globex):
    grant_for(acme)
    agent = support_agent()
    session, token = services.impersonation_start(
        agent=agent,
        tenant=acme,
        acting_as_id=Membership.objects.get(tenant=acme, role="manager").pk,
        reason="r",
        ticket_ref="t",
        write=False,
    )
    elsewhere = Client(HTTP_HOST="globex.localhost")
    assert elsewhere.get(f"/support-session/enter/{token}/")["Location"] == SIGN_IN
    with platform_view():
        assert ImpersonationHandoff.objects.get(session=session).used_at is None
    client = Client(HTTP_HOST="acme.localhost")
    client.get(f"/support-session/enter/{token}/")
    assert int(client.session["_auth_user_id"]) == agent.pk


def test_expired_handoff_token_is_refused(acme):
    grant_for(acme)
    session, token = services.impersonation_start(
        agent=support_agent(),
        tenant=acme,
        acting_as_id=Membership.objects.get(tenant=acme, role="manager").pk,
        reason="r",
        ticket_ref="t",
        write=False,
    )
    ImpersonationHandoff.objects.filter(session=session).update(expires_at=timezone.now())
    client = Client(HTTP_HOST="acme.localhost")
    assert client.get(f"/support-session/enter/{token}/")["Location"] == SIGN_IN


@pytest.mark.parametrize("how", ["revoked", "expired", "switched_off"])
def test_grant_ending_ends_live_session_at_next_request(acme, how):
    grant = grant_for(acme)
    client, session = impersonation_client(support_agent(), acme)
    assert client.get("/").status_code == 200
    if how == "revoked":
        services.grant_revoke(tenant=acme, actor=owner_membership(acme), grant_id=grant.pk)
    elif how == "expired":
        SupportAccessGrant.objects.filter(pk=grant.pk).update(ends_at=timezone.now())
    else:
        services.support_access_set(tenant=acme, actor=owner_membership(acme), enabled=False)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(SIGN_IN)
    session.refresh_from_db()
    assert session.ended_at is not None
    assert session.end_reason in ("grant_ended", "access_disabled")


@pytest.mark.parametrize(
    ("started", "idle", "reason"),
    [
        (timedelta(minutes=61), timedelta(0), "absolute"),
        (timedelta(minutes=20), timedelta(minutes=16), "idle"),
    ],
)
def test_session_times_out(acme, started, idle, reason):
    grant_for(acme)
    client, session = impersonation_client(support_agent(), acme)
    age_session(session, started=started, idle=idle)
    assert client.get("/")["Location"].startswith(SIGN_IN)
    session.refresh_from_db()
    assert session.end_reason == reason


def test_console_can_end_a_live_session(acme):
    grant_for(acme)
    agent = support_agent()
    client, session = impersonation_client(agent, acme)
    assert console_client(agent).post("/support/session/end/").status_code == 302
    session.refresh_from_db()
    assert session.ended_at is not None
    assert client.get("/")["Location"].startswith(SIGN_IN)


def test_support_agent_without_session_is_refused_on_workspace_host(acme):
    from conftest import sign_in_client

    client = sign_in_client(Client(), support_agent(), acme)
    assert client.get("/").status_code == 404


def _forbidden_urls():
    return [
        url
        for url in tenant_urls()
        if (declared_capability(url.callback) or "") in FORBIDDEN_CAPABILITIES  # type: ignore[arg-type]
        or url.name in FORBIDDEN_URL_NAMES
    ]


def test_each_forbidden_action_is_refused_even_in_a_write_session_as_owner(acme, in_tenant):
    grant_for(acme, allow_write=True)
    client, _session = impersonation_client(support_agent(), acme, role="owner", write=True)
    urls = _forbidden_urls()
    names = {url.name for url in urls}
    # Passwords, 2FA, sessions, roles, exports, deletes and support grants are all covered.
    for expected in (
        "accounts:password-change",
        "accounts:session-revoke",
        "accounts:two-factor-disable",
        "rbac:member-role",
        "exports:start",
        "shop:company-delete",
        "support_access:settings",
    ):
        assert any(name.startswith(expected.split(":")[0]) for name in names), expected
    for url in urls:
        path = url.path(**url.placeholder_kwargs())
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            assert response.status_code == 403, (url.name, method, response.status_code)
    assert _events(in_tenant, acme, Event.IMPERSONATION_REFUSED)


def test_read_only_session_refuses_every_mutating_url(acme):
    grant_for(acme, allow_write=True)
    client, session = impersonation_client(support_agent(), acme, role="owner", write=False)
    checked = 0
    for url in tenant_urls():
        if getattr(url.callback, "allowed_during_impersonation", False):
            continue
        path = url.path(**url.placeholder_kwargs())
        for method in ("post", "put", "patch", "delete"):
            response = getattr(client, method)(path)
            assert response.status_code == 403, (url.name, method, response.status_code)
            checked += 1
    assert checked > 100
    session.refresh_from_db()
    assert session.ended_at is None


def test_write_session_changes_are_attributed_to_the_agent(acme, in_tenant):
    grant_for(acme, allow_write=True)
    agent = support_agent()
    client, _session = impersonation_client(agent, acme, role="manager", write=True)
    response = client.post("/companies/new/", {"name": "Support-made Co", "email": ""})
    assert response.status_code == 302, response.content[:300]
    [created] = _events(in_tenant, acme, Event.COMPANY_CREATED)[-1:]
    assert created.actor_id == agent.pk
    assert created.actor_kind == "support_agent"
    assert created.on_behalf_of_email == "manager@acme.example"


def test_every_request_is_audited_against_the_agent(acme, in_tenant):
    grant_for(acme)
    agent = support_agent()
    client, session = impersonation_client(agent, acme)
    client.get("/")
    client.get("/companies/")
    client.post("/companies/new/", {"name": "x"})  # refused: read-only
    events = _events(in_tenant, acme, Event.IMPERSONATION_REQUEST)
    assert [event.additional_data["path"] for event in events] == [
        "/",
        "/companies/",
        "/companies/new/",
    ]
    assert events[-1].additional_data["status"] == 403
    for event in events + _events(in_tenant, acme, Event.IMPERSONATION_REFUSED):
        assert event.actor_id == agent.pk
        assert event.actor_kind == "support_agent"
        assert event.on_behalf_of_email == "manager@acme.example"
    assert session.acting_as.user.email == "manager@acme.example"
