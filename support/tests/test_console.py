"""The console: staff only (with 2FA), aggregates only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import get_resolver
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.sessions import SESSION_WORKSPACE_KEY
from audit.events import Event
from audit.models import AuditEvent
from conftest import PASSWORD, sign_in_client
from kernel.roles import Role
from rbac.models import Membership
from support.services import WORKSPACE_CLOSED
from support.tests.factories import (
    AGENT_PASSWORD,
    console_client,
    grant_for,
    support_agent,
    totp_now,
)
from support.views import SIGN_IN_FAILED, WORKSPACE_RESTORED
from tenants.models import Tenant
from tenants.services import tenant_provision
from workspace.lifecycle import RESTORE_NOT_RESTORABLE

pytestmark = pytest.mark.django_db

BUSINESS_MARKERS = ("MARKER-", "-marker.example", "-artwork.pdf", "marker-")


def _console_paths() -> list[str]:
    resolver = get_resolver("config.urls_public")
    paths = []
    for entry in resolver.url_patterns:
        if str(entry.pattern) == "support/":
            for pattern in getattr(entry, "url_patterns", []):
                route = str(pattern.pattern)
                paths.append("/support/" + route.replace("<slug:slug>", "acme"))
    return paths


def test_console_pages_leak_no_business_data(acme, globex):
    grant_for(acme)
    client = console_client(support_agent())
    paths = _console_paths()
    assert "/support/workspaces/acme/" in paths
    for path in paths:
        response = client.get(path)
        assert response.status_code in (200, 302, 405), path
        body = response.content.decode()
        for marker in BUSINESS_MARKERS:
            assert marker not in body, (path, marker)
    listing = client.get("/support/").content.decode()
    assert "acme" in listing
    assert "globex" in listing
    detail = client.get("/support/workspaces/acme/").content.decode()
    # Only the owner's billing contact, never other members' emails.
    assert "owner@acme.example" in detail
    assert "manager@acme.example" not in detail
    assert "designer@acme.example" not in detail


def test_non_staff_user_cannot_reach_console_by_any_url(member):
    owner = member("acme", "owner")
    client = Client(HTTP_HOST="localhost")
    client.force_login(owner)
    session = client.session
    session[SESSION_WORKSPACE_KEY] = "public"
    session.save()
    for path in _console_paths():
        if path.endswith("sign-in/"):
            continue
        assert client.get(path).status_code == 404, path
        assert client.post(path).status_code in (404, 405), path


def test_anonymous_visitor_is_sent_to_console_sign_in():
    response = Client(HTTP_HOST="localhost").get("/support/")
    assert response.status_code == 302
    assert response["Location"] == "/support/sign-in/"


def test_agent_without_2fa_cannot_open_console():
    agent = support_agent(with_2fa=False)
    assert console_client(agent).get("/support/").status_code == 404


def test_console_is_not_served_on_a_workspace_host(acme):
    agent = support_agent()
    client = Client(HTTP_HOST="acme.localhost")
    client.force_login(agent)
    assert client.get("/support/").status_code == 404


def test_sign_in_needs_password_and_authenticator_code():
    agent = support_agent()
    client = Client(HTTP_HOST="localhost")
    wrong = client.post(
        "/support/sign-in/", {"email": agent.email, "password": AGENT_PASSWORD, "code": "000000"}
    )
    assert wrong.status_code == 400
    assert SIGN_IN_FAILED in wrong.content.decode()
    right = client.post(
        "/support/sign-in/",
        {"email": agent.email, "password": AGENT_PASSWORD, "code": totp_now(agent)},
    )
    assert right.status_code == 302
    assert right["Location"] == "/support/"
    assert client.get("/support/").status_code == 200


def test_workspace_member_cannot_sign_in_to_console(member):
    owner = member("acme", "owner")
    response = Client(HTTP_HOST="localhost").post(
        "/support/sign-in/",
        {"email": owner.email, "password": "correct horse battery staple", "code": "123456"},
    )
    assert response.status_code == 400


def test_create_support_agent_command_is_the_only_way_to_make_staff(capsys):
    from django.core.management import call_command

    call_command(
        "create_support_agent",
        "new-agent@platform.example",
        "--password",
        AGENT_PASSWORD,
        "--skip-2fa",
    )
    assert User.objects.get(email="new-agent@platform.example").is_support_agent


def test_create_support_agent_refuses_a_workspace_member(member):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command(
            "create_support_agent", member("acme", "owner").email, "--password", "x", "--skip-2fa"
        )


# --- Plan, billing status and lifecycle state

CANCELLED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ARCHIVED_AT = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)


def _set_state(tenant: Tenant, state: str, **fields) -> None:
    tenant.state = state
    for name, value in fields.items():
        setattr(tenant, name, value)
    tenant.save()


def test_console_shows_plan_billing_status_and_lifecycle_state_with_dates(acme, globex):
    acme.plan = "studio"
    acme.billing_status = Tenant.BillingStatus.PAST_DUE
    _set_state(acme, Tenant.State.CANCELLED, cancelled_at=CANCELLED_AT)
    client = console_client(support_agent())
    listing = client.get("/support/").content.decode()
    detail = client.get("/support/workspaces/acme/").content.decode()
    for body in (listing, detail):
        assert "not tracked yet" not in body
        assert "studio" in body
        assert "Past due" in body
        assert "Cancelled (export only)" in body
        assert "cancelled 2026-03-02 09:30" in body
        # 30 days to export, then archived; 60 more, then deleted.
        assert "archived on 2026-04-01" in body
        assert "deleted on 2026-05-31" in body
    other = client.get("/support/workspaces/globex/").content.decode()
    assert '<dd id="workspace-plan">trial</dd>' in other
    assert '<dd id="workspace-billing-status">Trial</dd>' in other
    assert "Active" in other


@pytest.mark.parametrize(
    ("state", "fields", "shown"),
    [
        (Tenant.State.ACTIVE, {}, "Active"),
        (Tenant.State.CANCELLED, {"cancelled_at": CANCELLED_AT}, "cancelled 2026-03-02 09:30"),
        (
            Tenant.State.ARCHIVED,
            {"cancelled_at": CANCELLED_AT, "archived_at": ARCHIVED_AT},
            "archived 2026-04-01 09:30 · deleted on 2026-05-31",
        ),
        (
            Tenant.State.PURGING,
            {"archived_at": ARCHIVED_AT, "purge_requested_at": ARCHIVED_AT},
            "deletion started 2026-04-01 09:30",
        ),
    ],
)
def test_console_works_for_a_workspace_in_every_lifecycle_state(acme, state, fields, shown):
    _set_state(acme, state, **fields)
    client = console_client(support_agent())
    listing = client.get("/support/")
    detail = client.get("/support/workspaces/acme/")
    assert listing.status_code == 200
    assert detail.status_code == 200
    assert shown in listing.content.decode()
    assert shown in detail.content.decode()
    assert "globex" in listing.content.decode()  # the other rows are still there


def test_console_lists_a_purging_workspace_whose_schema_is_gone(db):
    doomed = tenant_provision(slug="doomed-signs", name="Doomed Signs")
    _set_state(doomed, Tenant.State.PURGING, purge_requested_at=ARCHIVED_AT)
    # The owner side drops a schema only after the purge deleted the row; a purging row whose
    # schema is missing anyway (a hand-made mistake) must not break the console. The runtime
    # role cannot drop the schema: point the row at one that does not exist.
    Tenant.objects.filter(pk=doomed.pk).update(schema_name="ws_doomed_signs_gone")
    client = console_client(support_agent())
    listing = client.get("/support/")
    assert listing.status_code == 200
    assert "Doomed Signs" in listing.content.decode()
    detail = client.get("/support/workspaces/doomed-signs/")
    assert detail.status_code == 200
    body = detail.content.decode()
    assert "Being deleted" in body
    assert "Restore to active" not in body


# --- Restore (issue #7)


def _archived_workspace_with_owner() -> tuple[Tenant, User]:
    tenant = tenant_provision(slug="restore-me", name="Restore Me Signs")
    owner = User.objects.create_user(
        email="owner@restore-me.example", password=PASSWORD, full_name="Rita Restore"
    )
    Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
    _set_state(tenant, Tenant.State.ARCHIVED, cancelled_at=CANCELLED_AT, archived_at=ARCHIVED_AT)
    return tenant, owner


def _restore(client: Client, slug: str, reason: str = "Customer paid the overdue invoice"):
    return client.post(
        f"/support/workspaces/{slug}/restore/",
        {"restore-reason": reason, "restore-ticket_ref": "SUP-77"},
    )


def test_support_restores_an_archived_workspace_and_its_owner_can_open_it_again(db):
    tenant, owner = _archived_workspace_with_owner()
    owner_client = sign_in_client(Client(), owner, tenant)
    assert owner_client.get("/").status_code == 404  # closed
    agent = support_agent()
    console = console_client(agent)
    detail = console.get("/support/workspaces/restore-me/").content.decode()
    assert "Restore to active" in detail
    assert 'action="/support/workspaces/restore-me/restore/"' in detail

    response = _restore(console, "restore-me")

    assert response.status_code == 302
    assert response["Location"] == "/support/workspaces/restore-me/"
    page = console.get(response["Location"]).content.decode()
    assert WORKSPACE_RESTORED.format(slug="restore-me") in page
    assert "Restore to active" not in page
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.ACTIVE
    assert tenant.archived_at is None
    assert tenant.cancelled_at is None
    assert owner_client.get("/").status_code == 200
    with schema_context("public"):
        [event] = AuditEvent.objects.filter(event_type=int(Event.WORKSPACE_RESTORED))
    assert event.actor_id == agent.pk
    assert event.actor_kind == "support_agent"
    assert event.additional_data["reason"] == "Customer paid the overdue invoice (ticket SUP-77)"


def test_support_restores_a_cancelled_workspace(acme):
    _set_state(acme, Tenant.State.CANCELLED, cancelled_at=CANCELLED_AT)
    response = _restore(console_client(support_agent()), "acme")
    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.state == Tenant.State.ACTIVE


@pytest.mark.parametrize("reason", ["", "   "])
def test_restore_without_a_reason_is_refused_and_changes_nothing(acme, reason):
    _set_state(acme, Tenant.State.ARCHIVED, archived_at=ARCHIVED_AT)
    response = _restore(console_client(support_agent()), "acme", reason=reason)
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_restore-reason_error"' in body
    assert "This field is required." in body
    acme.refresh_from_db()
    assert acme.state == Tenant.State.ARCHIVED
    assert acme.archived_at == ARCHIVED_AT
    with schema_context("public"):
        assert not AuditEvent.objects.filter(event_type=int(Event.WORKSPACE_RESTORED)).exists()


def test_restoring_an_active_workspace_shows_the_lifecycle_error(acme):
    response = _restore(console_client(support_agent()), "acme")
    assert response.status_code == 400
    assert RESTORE_NOT_RESTORABLE in response.content.decode()
    acme.refresh_from_db()
    assert acme.state == Tenant.State.ACTIVE


def test_restore_button_is_not_shown_for_an_active_workspace(acme):
    body = console_client(support_agent()).get("/support/workspaces/acme/").content.decode()
    assert "Restore to active" not in body
    assert "/restore/" not in body


def test_no_one_but_a_verified_agent_can_restore(acme, member):
    _set_state(acme, Tenant.State.ARCHIVED, archived_at=ARCHIVED_AT)
    owner = Client(HTTP_HOST="localhost")
    owner.force_login(member("acme", "owner"))
    session = owner.session
    session[SESSION_WORKSPACE_KEY] = "public"
    session.save()
    assert _restore(owner, "acme").status_code == 404
    assert _restore(console_client(support_agent(with_2fa=False)), "acme").status_code == 404
    anonymous = _restore(Client(HTTP_HOST="localhost"), "acme")
    assert anonymous.status_code == 302
    assert anonymous["Location"] == "/support/sign-in/"
    workspace_host = Client(HTTP_HOST="acme.localhost")
    workspace_host.force_login(support_agent("agent2@platform.example"))
    assert _restore(workspace_host, "acme").status_code == 404
    acme.refresh_from_db()
    assert acme.state == Tenant.State.ARCHIVED


def test_no_support_session_starts_in_a_closed_workspace(acme):
    grant_for(acme)
    _set_state(acme, Tenant.State.ARCHIVED, archived_at=ARCHIVED_AT)
    member = Membership.objects.get(tenant=acme, role="manager")
    response = console_client(support_agent()).post(
        "/support/workspaces/acme/",
        {"acting_as": member.pk, "reason": "Look", "ticket_ref": "SUP-1"},
    )
    assert response.status_code == 400
    assert WORKSPACE_CLOSED in response.content.decode()
