"""Password reset by email: the same answer for every address, a single-use expiring link that
works only on its own workspace host, and a reset that ends every session and signs no one in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts import passwords, throttle
from accounts.models import PasswordResetToken, User, UserSession
from accounts.views import PASSWORD_RESET_DONE, PASSWORD_RESET_SENT
from audit.tests.streams import events_since, stream_head
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a fresh passphrase for acme"
OWNER = "owner@acme.example"
_CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"|"X-CSRFToken": "[^"]+"')
_LINK = re.compile(r"http://acme\.localhost:8000(/accounts/password-reset/link/[^/\s]+/)")


def _request_reset(email: str, host: str = "acme.localhost", ip: str = "198.51.100.40"):
    client = Client(HTTP_HOST=host, REMOTE_ADDR=ip)
    return client.post("/accounts/password-reset/", {"email": email})


@pytest.fixture
def reset_link(django_capture_on_commit_callbacks):
    """Ask for a reset of ``email`` on acme's host; returns the link's path from the email."""

    def ask(email: str = OWNER) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            response = _request_reset(email)
        assert response.status_code == 302
        return _LINK.search(mail.outbox[-1].body).group(1)

    return ask


def _choose(client: Client, link: str, password: str = NEW_PASSWORD):
    opened = client.get(link)
    if opened.status_code != 302:
        return opened
    return client.post(
        opened["Location"], {"new_password": password, "new_password_confirm": password}
    )


def test_reset_request_emails_a_link_for_a_member(acme, reset_link):
    link = reset_link()
    (message,) = mail.outbox
    assert message.to == [OWNER]
    assert message.subject == "Reset your Shopsafe password for Acme Signs"
    assert "expires in 60 minutes" in message.body
    token = link.rstrip("/").rsplit("/", 1)[1]
    stored = PasswordResetToken.objects.get(user__email=OWNER)
    assert stored.token_digest != token
    assert token not in stored.token_digest
    assert stored.tenant == acme


@pytest.mark.parametrize(
    "email",
    ["nobody@nowhere.example", "owner@globex.example"],  # no account; not a member of acme
)
def test_reset_request_answers_the_same_and_sends_nothing_for_a_non_member(
    email, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        member = _request_reset(OWNER, ip="198.51.100.41")
        other = _request_reset(email, ip="198.51.100.42")
    assert member.status_code == other.status_code == 302
    assert member["Location"] == other["Location"] == "/accounts/password-reset/sent/"
    assert [m.to for m in mail.outbox] == [[OWNER]]
    sent = Client(HTTP_HOST="acme.localhost").get("/accounts/password-reset/sent/")
    assert PASSWORD_RESET_SENT.encode() in sent.content


def test_reset_request_is_audited_naming_only_members(acme, member):
    head = stream_head(acme)
    _request_reset(OWNER)
    _request_reset("owner@globex.example")
    events = events_since(acme, head)
    assert [(e.event_name, e.target_id, e.additional_data) for e in events] == [
        ("account.password_reset.requested", str(member("acme", "owner").pk), {"email": OWNER}),
        ("account.password_reset.requested", "", {"email": "owner@globex.example"}),
    ]


def test_reset_requests_are_rate_limited_the_same_for_unknown_emails():
    for email in (OWNER, "nobody@nowhere.example"):
        for attempt in range(passwords.PASSWORD_RESET_PER_EMAIL):
            assert _request_reset(email, ip=f"198.51.100.{50 + attempt}").status_code == 302
    known = _request_reset(OWNER, ip="198.51.100.60")
    unknown = _request_reset("nobody@nowhere.example", ip="198.51.100.61")
    assert known.status_code == unknown.status_code == 429
    assert passwords.PASSWORD_RESET_THROTTLED_MESSAGE.encode() in known.content
    same = _CSRF.sub(b"", known.content).replace(OWNER.encode(), b"E")
    assert same == _CSRF.sub(b"", unknown.content).replace(b"nobody@nowhere.example", b"E")
    live = PasswordResetToken.objects.filter(user__email=OWNER, used_at__isnull=True)
    assert live.count() == 1  # each request spent the one before; the refused one made none


def test_reset_requests_are_rate_limited_per_address():
    # On a minute's boundary, so the wait is exact: the window (an hour) and the one-minute
    # slot the first request fell in (the limiter's window is counted in sixtieths).
    with time_machine.travel(datetime(2031, 5, 6, 7, 8, tzinfo=UTC), tick=False):
        for index in range(passwords.PASSWORD_RESET_PER_IP):
            assert _request_reset(f"person{index}@example.com").status_code == 302
        response = _request_reset("one-more@example.com")
    assert response.status_code == 429
    assert response["Retry-After"] == str(passwords.PASSWORD_RESET_WINDOW_SECONDS + 60)


def test_the_link_moves_into_the_session_so_the_token_leaves_the_address_bar(reset_link):
    link = reset_link()
    client = Client(HTTP_HOST="acme.localhost")
    response = client.get(link)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/new-password/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"Choose a new password" in page.content


def test_reset_sets_the_password_and_does_not_sign_in(reset_link, member):
    client = Client(HTTP_HOST="acme.localhost")
    response = _choose(client, reset_link())
    assert response.status_code == 302
    assert response["Location"] == "/accounts/sign-in/"
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302  # not signed in
    page = client.get("/accounts/sign-in/")
    assert PASSWORD_RESET_DONE in page.content.decode()
    owner = member("acme", "owner")
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    # Signing in is the normal way, with the new password.
    signed = client.post("/accounts/sign-in/", {"email": OWNER, "password": NEW_PASSWORD})
    assert signed.status_code == 302


def test_reset_link_works_once(reset_link):
    link = reset_link()
    assert _choose(Client(HTTP_HOST="acme.localhost"), link).status_code == 302
    again = Client(HTTP_HOST="acme.localhost").get(link)
    assert again.status_code == 400
    assert passwords.PASSWORD_RESET_LINK_INVALID.encode() in again.content


def test_reset_link_expires_after_an_hour(reset_link):
    link = reset_link()
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        response = Client(HTTP_HOST="acme.localhost").get(link)
    assert response.status_code == 400
    assert passwords.PASSWORD_RESET_LINK_INVALID.encode() in response.content


def test_link_expiring_between_opening_and_submitting_is_refused(reset_link, member):
    link = reset_link()
    client = Client(HTTP_HOST="acme.localhost")
    opened = client.get(link)
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        response = client.post(
            opened["Location"],
            {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD},
        )
    assert response.status_code == 400
    assert not member("acme", "owner").check_password(NEW_PASSWORD)


def test_a_newer_link_spends_the_older_one(reset_link):
    first = reset_link()
    second = reset_link()
    assert Client(HTTP_HOST="acme.localhost").get(first).status_code == 400
    assert Client(HTTP_HOST="acme.localhost").get(second).status_code == 302


def test_acme_link_on_globex_host_is_the_same_as_a_bogus_link(reset_link):
    link = reset_link()
    on_globex = Client(HTTP_HOST="globex.localhost").get(link)
    bogus = Client(HTTP_HOST="globex.localhost").get("/accounts/password-reset/link/bogus/")
    assert on_globex.status_code == bogus.status_code == 400
    assert _CSRF.sub(b"", on_globex.content) == _CSRF.sub(b"", bogus.content)


def test_new_password_page_without_a_link_is_refused():
    response = Client(HTTP_HOST="acme.localhost").get("/accounts/password-reset/new-password/")
    assert response.status_code == 400


def test_reset_ends_every_session_of_the_user(reset_link, client_for, acme, member):
    signed_in = client_for("acme", "owner")
    assert signed_in.get("/").status_code == 200
    link = reset_link()
    head = stream_head(acme)
    _choose(Client(HTTP_HOST="acme.localhost"), link)
    assert signed_in.get("/").status_code == 302
    assert not UserSession.objects.filter(user=member("acme", "owner")).exists()
    names = [e.event_name for e in events_since(acme, head)]
    assert names == ["auth.sessions.ended", "account.password_reset.completed"]


def test_reset_from_a_signed_in_browser_signs_it_out_too(reset_link, client_for):
    client = client_for("acme", "owner")
    response = _choose(client, reset_link())
    assert response["Location"] == "/accounts/sign-in/"
    assert client.get("/").status_code == 302


def test_reset_unlocks_a_locked_account(reset_link, member):
    for _ in range(throttle.LOCK_AFTER_FAILURES):
        throttle.sign_in_failure_record(email=OWNER, ip="203.0.113.1", factor="password")
    locked = Client(HTTP_HOST="acme.localhost", REMOTE_ADDR="203.0.113.2")
    blocked = locked.post("/accounts/sign-in/", {"email": OWNER, "password": PASSWORD})
    assert blocked.status_code == 429
    _choose(Client(HTTP_HOST="acme.localhost"), reset_link())
    owner = member("acme", "owner")
    owner.refresh_from_db()
    assert (owner.locked_at, owner.failed_sign_in_count) == (None, 0)


def test_reset_sends_a_password_changed_notice(reset_link, django_capture_on_commit_callbacks):
    link = reset_link()
    with django_capture_on_commit_callbacks(execute=True):
        _choose(Client(HTTP_HOST="acme.localhost"), link)
    assert [m.subject for m in mail.outbox][-1] == "Your Shopsafe password was changed"
    assert mail.outbox[-1].to == [OWNER]


def test_reset_form_errors_are_shown_next_to_the_field_and_the_link_stays_usable(reset_link):
    client = Client(HTTP_HOST="acme.localhost")
    link = reset_link()
    response = _choose(client, link, password="x" * 129)
    assert response.status_code == 400
    assert b'id="id_new_password_error"' in response.content
    assert b"Use at most 128 characters." in response.content
    response = client.post(
        "/accounts/password-reset/new-password/",
        {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302


def test_reset_is_refused_once_the_member_is_no_longer_in_the_workspace(reset_link, member):
    from rbac.models import Membership

    link = reset_link()
    Membership.objects.filter(user=member("acme", "owner")).update(is_active=False)
    assert Client(HTTP_HOST="acme.localhost").get(link).status_code == 400


def test_inactive_account_gets_no_link(django_capture_on_commit_callbacks):
    User.objects.filter(email=OWNER).update(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert _request_reset(OWNER).status_code == 302
    assert mail.outbox == []
