"""Sign-up on the public host: the form answers the same for every address, nothing exists
until the emailed link is opened, and one address creates only a few workspaces an hour."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client, TestCase
from django.utils import timezone

from accounts.models import SignUpRequest, User
from accounts.tasks import SIGN_UP_LINK_HOURS
from rbac.models import Membership
from tenants.models import Tenant
from tenants.services import SLUG_TAKEN
from workspace import signup

from .signup_helpers import LINK, sign_up_emailed, token_in

pytestmark = pytest.mark.django_db

IP = "203.0.113.90"
EXISTING = "owner@acme.example"  # has an account (acme's owner)
PASSWORD = "a long passphrase for a new shop"
TOO_SHORT = "This password is too short. It must contain at least 12 characters."
_CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"|"X-CSRFToken": "[^"]+"')


def _form(email: str, slug: str, password: str = PASSWORD) -> dict:
    return {
        "full_name": "Sam Shop",
        "email": email,
        "password": password,
        "workspace_name": "Sam's Signs",
        "slug": slug,
    }


def _post_form(email: str, slug: str, *, ip: str = IP, password: str = PASSWORD, follow=False):
    client = Client(HTTP_HOST="localhost", REMOTE_ADDR=ip)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post("/signup/", _form(email, slug, password), follow=follow)
    return client, response


def _emails_to(address: str) -> list:
    return [message for message in mail.outbox if message.to == [address]]


def _sign_up_over_http(email: str, slug: str, *, ip: str = IP):
    """The whole flow as a visitor clicks it: the form, the link in the email, the button.
    Returns the last response (the form's, if no link came)."""
    client, response = _post_form(email, slug, ip=ip)
    links = [LINK.search(message.body) for message in _emails_to(email)]
    if not links or links[-1] is None:
        return response
    client.get(f"/signup/confirm/{links[-1].group(1)}/")
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post("/signup/confirm/", {"slug": slug})


# --- The findings


def test_one_address_creates_at_most_the_allowed_workspaces_an_hour(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "sign_up_confirm.ip": (2, 60 * 60)}
    before = Tenant.objects.count()
    responses = [_sign_up_over_http(f"shop{n}@many.example", f"many-{n}") for n in range(3)]
    assert [r.status_code for r in responses] == [302, 302, 429]
    assert Tenant.objects.count() == before + 2
    assert not Tenant.objects.filter(slug="many-2").exists()
    refused = responses[-1]
    assert signup.SIGN_UP_WORKSPACES_THROTTLED.encode() in refused.content
    assert 3600 <= int(refused["Retry-After"]) <= 3600 + 60
    assert b'<form method="post"' in refused.content  # the page again, with the message


def test_by_default_an_address_creates_three_workspaces_an_hour():
    assert settings.SIGN_UP_WORKSPACES_PER_IP_PER_HOUR == 3
    assert settings.RATE_LIMITS["sign_up_confirm.ip"] == (3, 60 * 60)


def test_sign_up_answers_the_same_for_a_new_and_an_existing_address():
    with time_machine.travel(timezone.now(), tick=False):
        new_client, new = _post_form("fresh@new.example", "fresh-shop", ip="198.51.100.70")
        old_client, old = _post_form(EXISTING, "other-shop", ip="198.51.100.71")
    assert new.status_code == old.status_code == 302
    assert new["Location"] == old["Location"] == "/signup/sent/"
    new_page, old_page = new_client.get("/signup/sent/"), old_client.get("/signup/sent/")
    assert new_page.status_code == old_page.status_code == 200
    same = _CSRF.sub(b"", new_page.content).replace(b"fresh@new.example", b"EMAIL")
    assert same == _CSRF.sub(b"", old_page.content).replace(EXISTING.encode(), b"EMAIL")


def test_the_holder_of_an_existing_address_gets_a_notice_and_nothing_is_created(member):
    tenants = Tenant.objects.count()
    _post_form(EXISTING, "other-shop")
    assert Tenant.objects.count() == tenants
    assert not Membership.objects.filter(tenant__slug="other-shop").exists()
    (notice,) = _emails_to(EXISTING)
    assert notice.subject == "Someone tried to sign up to Shopsafe with your address"
    assert "No workspace has been created and\nyour account has not changed." in notice.body
    assert "sign in: http://acme.localhost:8000/accounts/sign-in/" in notice.body
    assert "forgot your password: http://acme.localhost:8000/accounts/password-reset/" in (
        notice.body
    )
    assert "enter your password" in notice.body
    assert LINK.search(notice.body)
    (pending,) = SignUpRequest.objects.filter(email=EXISTING)
    assert pending.password_hash == ""  # the typed password is not kept for an account
    assert member("acme", "owner").check_password("correct horse battery staple")


def test_a_password_the_rules_refuse_is_refused_the_same_for_an_existing_address():
    _, new = _post_form("fresh@new.example", "fresh-shop", password="short one")
    _, old = _post_form(EXISTING, "other-shop", password="short one")
    assert new.status_code == old.status_code == 400
    assert TOO_SHORT.encode() in new.content
    assert TOO_SHORT.encode() in old.content
    assert mail.outbox == []


def test_an_address_typed_gets_at_most_three_sign_up_emails_an_hour():
    statuses = [
        _post_form("target@victim.example", f"shop-{n}", ip=f"198.51.100.{n}")[1].status_code
        for n in range(1, 5)
    ]
    assert statuses == [302, 302, 302, 429]
    assert len(_emails_to("target@victim.example")) == 3


def test_one_address_sends_at_most_ten_sign_up_emails_an_hour():
    statuses = [_post_form(f"s{n}@spray.example", f"spray-{n}")[1].status_code for n in range(11)]
    assert statuses == [302] * 10 + [429]
    assert len(mail.outbox) == 10


# --- The link


def test_nothing_exists_until_the_link_is_opened_then_the_workspace_and_account_do():
    client, _ = _post_form("Fresh@New.example", "fresh-shop")
    assert not User.objects.filter(email="fresh@new.example").exists()
    assert not Tenant.objects.filter(slug="fresh-shop").exists()
    (message,) = _emails_to("fresh@new.example")
    assert message.subject == "Confirm your new Shopsafe workspace Sam's Signs"
    assert "at http://fresh-shop.localhost:8000/ with this email address" in message.body
    token = token_in(message.body)
    assert token not in str(SignUpRequest.objects.values_list())  # only its digest is stored
    page = client.get(f"/signup/confirm/{token}/")
    assert page["Location"] == "/signup/confirm/"  # the token leaves the address bar
    form = client.get("/signup/confirm/")
    assert form.status_code == 200
    assert b'value="fresh-shop"' in form.content
    assert b"id_password" not in form.content  # a new account: its password was chosen
    with TestCase.captureOnCommitCallbacks(execute=True):
        done = client.post("/signup/confirm/", {"slug": "fresh-shop"})
    assert done.status_code == 302
    assert done["Location"].startswith("http://fresh-shop.localhost:8000/accounts/handoff/")
    user = User.objects.get(email="fresh@new.example")
    assert user.check_password(PASSWORD)
    assert user.full_name == "Sam Shop"
    assert Membership.objects.get(tenant__slug="fresh-shop").user == user
    assert SignUpRequest.objects.get(email="fresh@new.example").password_hash == ""
    assert _emails_to("fresh@new.example")[-1].subject == "Welcome to Sam's Signs on Shopsafe"


def test_the_link_works_once():
    client, _ = _post_form("fresh@new.example", "fresh-shop")
    token = token_in(_emails_to("fresh@new.example")[0].body)
    client.get(f"/signup/confirm/{token}/")
    assert client.post("/signup/confirm/", {"slug": "fresh-shop"}).status_code == 302
    again = Client(HTTP_HOST="localhost", REMOTE_ADDR=IP)
    again.get(f"/signup/confirm/{token}/")
    response = again.post("/signup/confirm/", {"slug": "fresh-shop-2"})
    assert response.status_code == 400
    assert signup.SIGN_UP_LINK_INVALID.encode() in response.content
    assert not Tenant.objects.filter(slug="fresh-shop-2").exists()


def test_the_link_expires_after_a_day():
    assert SIGN_UP_LINK_HOURS * 60 * 60 == signup.SIGN_UP_LINK_SECONDS
    client, _ = _post_form("fresh@new.example", "fresh-shop")
    token = token_in(_emails_to("fresh@new.example")[0].body)
    with time_machine.travel(timezone.now() + timedelta(hours=24, seconds=1)):
        client.get(f"/signup/confirm/{token}/")
        response = client.get("/signup/confirm/")
    assert response.status_code == 400
    assert signup.SIGN_UP_LINK_INVALID.encode() in response.content


def test_a_newer_sign_up_spends_the_older_link():
    older = token_in(sign_up_emailed(email="fresh@new.example", slug="first-try").body)
    sign_up_emailed(email="fresh@new.example", slug="second-try")
    with pytest.raises(ValidationError) as refused:
        signup.sign_up_confirm(token=older, slug="first-try", ip=IP)
    assert refused.value.code == "invalid_link"


def test_an_address_taken_meanwhile_is_refused_next_to_the_field_and_another_can_be_chosen(
    settings,
):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "sign_up_confirm.ip": (1, 60 * 60)}
    client, _ = _post_form("fresh@new.example", "acme")  # refused by the form: taken
    assert mail.outbox == []
    client, _ = _post_form("fresh@new.example", "fresh-shop")
    token = token_in(_emails_to("fresh@new.example")[0].body)
    client.get(f"/signup/confirm/{token}/")
    taken = client.post("/signup/confirm/", {"slug": "acme"})
    assert taken.status_code == 400
    assert b'id="id_slug_error"' in taken.content
    assert SLUG_TAKEN.encode() in taken.content
    # The refused attempt did not use up the address's one workspace of the hour.
    assert client.post("/signup/confirm/", {"slug": "fresh-shop"}).status_code == 302


def test_the_holder_of_an_existing_address_adds_the_workspace_with_their_password(member):
    owner = member("acme", "owner")
    client, _ = _post_form(EXISTING, "second-shop")
    token = token_in(_emails_to(EXISTING)[0].body)
    client.get(f"/signup/confirm/{token}/")
    page = client.get("/signup/confirm/")
    assert signup.SIGN_UP_EXISTING_PASSWORD.encode() in page.content
    assert b"id_password" in page.content
    wrong = client.post("/signup/confirm/", {"slug": "second-shop", "password": PASSWORD})
    assert wrong.status_code == 400
    assert signup.SIGN_UP_EXISTING_PASSWORD_WRONG.encode() in wrong.content
    owner.refresh_from_db()
    assert owner.failed_sign_in_count == 1  # the sign-in guessing defence counted it
    right = client.post(
        "/signup/confirm/", {"slug": "second-shop", "password": "correct horse battery staple"}
    )
    assert right.status_code == 302
    assert Membership.objects.get(tenant__slug="second-shop").user == owner
    assert User.objects.filter(email=EXISTING).count() == 1
