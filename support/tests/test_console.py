"""The console: staff only (with 2FA), aggregates only."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import get_resolver

from accounts.models import User
from support.tests.factories import (
    AGENT_PASSWORD,
    console_client,
    grant_for,
    support_agent,
    totp_now,
)
from support.views import SIGN_IN_FAILED
from tenants.middleware import SESSION_WORKSPACE_KEY

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
