"""Every new account page, asked for on another workspace's host or with another member's
ids, answers exactly like a missing page or object."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import UserSession
from conftest import sign_in_client

pytestmark = pytest.mark.django_db

MEMBER_PAGES = [
    ("get", "/accounts/security/"),
    ("get", "/accounts/password/change/"),
    ("post", "/accounts/password/change/"),
    ("post", "/accounts/security/sign-out-everywhere/"),
]


@pytest.fixture
def missing(client_for):
    return client_for("acme", "owner").get("/no-such-page/")


@pytest.mark.parametrize(("method", "path"), MEMBER_PAGES)
def test_globex_member_on_acme_host_gets_the_missing_page_404(acme, member, missing, method, path):
    outsider = sign_in_client(Client(), member("globex", "owner"), acme)
    response = getattr(outsider, method)(path)
    assert response.status_code == 404
    assert response.content == missing.content


def test_globex_member_on_acme_host_cannot_revoke_an_acme_session(
    acme, member, client_for, missing
):
    client_for("acme", "owner")
    acme_session = UserSession.objects.filter(tenant=acme).first()
    outsider = sign_in_client(Client(), member("globex", "owner"), acme)
    response = outsider.post(f"/accounts/security/sessions/{acme_session.pk}/revoke/")
    assert response.status_code == 404
    assert response.content == missing.content
    assert UserSession.objects.filter(pk=acme_session.pk).exists()


def test_acme_session_ids_on_globex_host_are_missing_objects(acme, client_for):
    acme_owner = client_for("acme", "owner")
    assert acme_owner.get("/").status_code == 200
    acme_session = UserSession.objects.filter(tenant=acme).first()
    globex_owner = client_for("globex", "owner")
    missing = globex_owner.post("/accounts/security/sessions/999999999/revoke/")
    refused = globex_owner.post(f"/accounts/security/sessions/{acme_session.pk}/revoke/")
    assert refused.status_code == missing.status_code == 404
    assert refused.content == missing.content
    assert acme_owner.get("/").status_code == 200  # untouched


def test_sign_out_everywhere_by_an_outsider_on_acme_host_runs_nothing(acme, member, client_for):
    acme_owner = client_for("acme", "owner")
    outsider = sign_in_client(Client(), member("globex", "owner"), acme)
    outsider.post("/accounts/security/sign-out-everywhere/")
    assert acme_owner.get("/").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/password-reset/",
        "/accounts/password-reset/sent/",
        "/accounts/password-reset/new-password/",
        "/accounts/password-reset/link/anything/",
    ],
)
def test_public_reset_pages_show_nothing_of_another_workspace(path):
    body = Client(HTTP_HOST="globex.localhost").get(path).content
    assert b"Acme" not in body
