"""The gate: host resolution, membership, anonymous visitors, session binding."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from conftest import PASSWORD, sign_in_client

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_the_workspace_sign_in_page(acme):
    response = Client(HTTP_HOST="acme.localhost").get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/sign-in/?next=/"


def test_unknown_workspace_host_gets_friendly_404():
    response = Client(HTTP_HOST="nosuchshop.localhost").get("/")
    assert response.status_code == 404
    assert b"find that workspace" in response.content


def test_member_of_other_workspace_gets_same_404_as_missing_page(acme, globex, member):
    outsider = sign_in_client(Client(), member("globex", "owner"), acme)
    missing = sign_in_client(Client(), member("acme", "owner"), acme).get("/no-such-page/")
    refused = outsider.get("/")
    assert refused.status_code == 404
    assert refused.content == missing.content


def test_member_reaches_workspace_home(client_for):
    response = client_for("acme", "employee").get("/")
    assert response.status_code == 200
    assert b"Acme Signs" in response.content


def test_session_copied_to_another_workspace_host_is_worthless(acme, globex, member):
    client = sign_in_client(Client(), member("acme", "owner"), acme)
    # The same cookie jar presented at globex's host: the session is bound to acme.
    client.defaults["HTTP_HOST"] = "globex.localhost"
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/sign-in/")


def test_user_without_membership_cannot_sign_in_to_workspace(acme, globex):
    User.objects.create_user("drifter@example.com", PASSWORD, full_name="Drifter")
    response = Client(HTTP_HOST="acme.localhost").post(
        "/accounts/sign-in/", {"email": "drifter@example.com", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert b"The email or password is incorrect." in response.content
