"""Exact audit rows written by sign-up, sign-in (success and failure), hand-off and sign-out."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts import services as account_services
from accounts.models import User
from audit.tests.streams import events_since, stream_head, summary
from conftest import PASSWORD
from tenants.models import Tenant
from workspace import signup
from workspace.tests.signup_helpers import IP, sign_up, sign_up_emailed, token_in

pytestmark = pytest.mark.django_db

_CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"|"X-CSRFToken": "[^"]+"')
NEW_PASSWORD = "an entirely new passphrase"


def _sign_up(slug="sunrise", email="Dana@Sunrise.example"):
    return sign_up(email=email, slug=slug, password=NEW_PASSWORD)


def test_sign_up_records_account_and_workspace_in_platform_stream_and_workspace_stream():
    token = token_in(sign_up_emailed(email="Dana@Sunrise.example", slug="sunrise").body)
    public_head = stream_head("public")
    result = signup.sign_up_confirm(token=token, slug="sunrise", ip=IP)
    user_label = "Dana Sun <dana@sunrise.example>"
    assert summary(events_since("public", public_head)) == [
        (
            "platform.user.signed_up",
            "user",
            "dana@sunrise.example",
            "accounts.user",
            user_label,
            "success",
        ),
        (
            "workspace.created",
            "user",
            "dana@sunrise.example",
            "tenants.tenant",
            "Sunrise Signs",
            "success",
        ),
    ]
    workspace_events = events_since(result.tenant, 0)
    assert summary(workspace_events) == [
        (
            "workspace.created",
            "user",
            "dana@sunrise.example",
            "tenants.tenant",
            "Sunrise Signs",
            "success",
        ),
        ("member.added", "user", "dana@sunrise.example", "accounts.user", user_label, "success"),
    ]
    assert [e.sequence for e in workspace_events] == [1, 2]
    assert workspace_events[1].additional_data == {"role": "owner"}
    assert workspace_events[0].additional_data == {"slug": "sunrise"}


def test_sign_up_request_is_recorded_in_the_platform_stream_naming_an_existing_account(member):
    public_head = stream_head("public")
    sign_up_emailed(email="fresh@sunrise.example", slug="sunrise")
    sign_up_emailed(email="owner@acme.example", slug="sunset", ip="192.0.2.45")
    events = events_since("public", public_head)
    assert summary(events) == [
        ("platform.sign_up.requested", "anonymous", "", "", "", "success"),
        (
            "platform.sign_up.requested",
            "anonymous",
            "",
            "accounts.user",
            "Acme Owner <owner@acme.example>",
            "success",
        ),
    ]
    assert [e.additional_data for e in events] == [
        {"email": "fresh@sunrise.example", "slug": "sunrise", "existing_account": False},
        {"email": "owner@acme.example", "slug": "sunset", "existing_account": True},
    ]


def test_existing_account_adding_a_workspace_records_no_second_sign_up():
    _sign_up(slug="sunrise")
    token = token_in(sign_up_emailed(email="dana@sunrise.example", slug="sunset").body)
    public_head = stream_head("public")
    signup.sign_up_confirm(token=token, slug="sunset", password=NEW_PASSWORD, ip=IP)
    assert [e.event_name for e in events_since("public", public_head)] == ["workspace.created"]


def test_failed_sign_up_records_nothing():
    _sign_up(slug="sunrise")
    token = token_in(sign_up_emailed(email="dana@sunrise.example", slug="other-shop").body)
    fresh = token_in(sign_up_emailed(email="fresh@sunrise.example", slug="fresh-shop").body)
    public_head = stream_head("public")
    with pytest.raises(ValidationError):
        signup.sign_up_confirm(
            token=token, slug="other-shop", password="not the password at all", ip=IP
        )
    with pytest.raises(ValidationError):  # reserved slug: the new account is not created either
        signup.sign_up_confirm(token=fresh, slug="admin", ip=IP)
    assert events_since("public", public_head) == []
    assert not Tenant.objects.filter(slug="other-shop").exists()
    assert not User.objects.filter(email="fresh@sunrise.example").exists()


def test_sign_in_success_is_recorded_in_the_workspace_stream_with_request_details(acme):
    head = stream_head(acme)
    client = Client(
        HTTP_HOST="acme.localhost", HTTP_USER_AGENT="Firefox/1", REMOTE_ADDR="198.51.100.4"
    )
    response = client.post(
        "/accounts/sign-in/", {"email": "Owner@Acme.example", "password": PASSWORD}
    )
    assert response.status_code == 302
    events = events_since(acme, head)
    assert summary(events) == [
        (
            "auth.sign_in.succeeded",
            "user",
            "owner@acme.example",
            "accounts.user",
            "Acme Owner <owner@acme.example>",
            "success",
        ),
    ]
    event = events[0]
    assert (event.remote_addr, event.user_agent, event.request_id) == (
        "198.51.100.4",
        "Firefox/1",
        response["X-Request-ID"],
    )
    assert event.additional_data == {"method": "password"}


@pytest.mark.parametrize(
    ("email", "password", "target"),
    [
        ("nobody@nowhere.example", PASSWORD, ("", "")),  # no such account
        (
            "owner@acme.example",
            "wrong password entirely",
            ("accounts.user", "Acme Owner <owner@acme.example>"),
        ),
        ("owner@globex.example", PASSWORD, ("", "")),  # right password, not a member here
    ],
)
def test_failed_sign_in_records_the_attempt_and_tells_the_visitor_nothing(
    acme, email, password, target
):
    head = stream_head(acme)
    client = Client(HTTP_HOST="acme.localhost")
    response = client.post("/accounts/sign-in/", {"email": email, "password": password})
    reference = Client(HTTP_HOST="acme.localhost").post(
        "/accounts/sign-in/", {"email": "nobody@nowhere.example", "password": "x" * 20}
    )
    assert response.status_code == 400
    assert account_services.SIGN_IN_FAILED.encode() in response.content
    # The page echoes the typed email; apart from that it is byte-for-byte the same page.
    same = _CSRF.sub(b"", response.content).replace(email.encode(), b"EMAIL")
    assert same == _CSRF.sub(b"", reference.content).replace(b"nobody@nowhere.example", b"EMAIL")
    failures = events_since(acme, head)[:1]
    assert summary(failures) == [
        ("auth.sign_in.failed", "anonymous", "", *target, "failure"),
    ]
    assert failures[0].actor_id is None
    assert failures[0].additional_data == {"email": email}  # and no reason, on purpose


def test_failed_sign_in_on_one_workspace_is_not_in_anothers_stream(acme, globex):
    globex_head = stream_head(globex)
    Client(HTTP_HOST="acme.localhost").post(
        "/accounts/sign-in/", {"email": "owner@globex.example", "password": "nope nope nope"}
    )
    assert events_since(globex, globex_head) == []


def test_sign_out_records_who_left_then_ends_the_session(acme, client_for):
    client = client_for("acme", "manager")
    head = stream_head(acme)
    response = client.post("/accounts/sign-out/")
    assert response.status_code == 302
    assert summary(events_since(acme, head)) == [
        (
            "auth.signed_out",
            "user",
            "manager@acme.example",
            "accounts.user",
            "Acme Manager <manager@acme.example>",
            "success",
        ),
    ]
    assert client.get("/").status_code == 302  # signed out


def test_anonymous_sign_out_records_nothing(acme):
    head = stream_head(acme)
    Client(HTTP_HOST="acme.localhost").post("/accounts/sign-out/")
    assert events_since(acme, head) == []


def test_hand_off_after_sign_up_records_a_sign_in(acme):
    result = _sign_up()
    head = stream_head(result.tenant)
    response = Client(HTTP_HOST="sunrise.localhost").get(
        f"/accounts/handoff/{result.handoff_token}/"
    )
    assert response.status_code == 302
    events = events_since(result.tenant, head)
    assert [(e.event_name, e.actor_email, e.additional_data) for e in events] == [
        ("auth.sign_in.succeeded", "dana@sunrise.example", {"method": "handoff"}),
    ]
