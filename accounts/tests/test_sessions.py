"""Sessions: a new key at sign-in, tracked rows, idle and absolute timeouts in the gate, the
member's own list with revoke buttons, "sign out everywhere", and user_sessions_end."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts import services
from accounts.models import User, UserSession
from accounts.sessions import (
    SESSION_ABSOLUTE_MESSAGE,
    SESSION_COOKIE_GRACE_SECONDS,
    SESSION_ENDED_MESSAGE,
    SESSION_IDLE_MESSAGE,
    device_label,
    session_key_digest,
)
from audit.tests.streams import events_since, stream_head
from conftest import PASSWORD
from kernel.roles import Role
from rbac.models import Membership

pytestmark = pytest.mark.django_db

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def signed_in(
    slug: str = "acme",
    role: str = "owner",
    user_agent: str = FIREFOX_WINDOWS,
    ip: str = "198.51.100.20",
) -> Client:
    """A client signed in through the real sign-in page."""
    client = Client(HTTP_HOST=f"{slug}.localhost", HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip)
    response = client.post(
        "/accounts/sign-in/", {"email": f"{role}@{slug}.example", "password": PASSWORD}
    )
    assert response.status_code == 302, response.content
    return client


def session_key(client: Client) -> str:
    return client.cookies["sessionid"].value


def messages_on_next_page(response) -> str:
    return response.content.decode()


# --- Sign-in: a new key, a tracked row


def test_sign_in_replaces_the_session_key_the_visitor_arrived_with():
    client = Client(HTTP_HOST="acme.localhost")
    anonymous = client.session  # an anonymous session, as a visitor may already have
    anonymous["seen"] = True
    anonymous.save()
    before = session_key(client)
    client.post("/accounts/sign-in/", {"email": "owner@acme.example", "password": PASSWORD})
    after = session_key(client)
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()


def test_signing_in_again_as_the_same_user_still_gets_a_new_key():
    client = signed_in()
    first = session_key(client)
    client.post("/accounts/sign-in/", {"email": "owner@acme.example", "password": PASSWORD})
    assert session_key(client) != first
    # The old session's row went with it: one row, for the new key.
    rows = UserSession.objects.filter(user__email="owner@acme.example")
    assert [row.key_digest for row in rows] == [session_key_digest(session_key(client))]


def test_sign_in_tracks_the_session_by_digest_with_device_and_address(acme, member):
    client = signed_in(user_agent=SAFARI_IPHONE, ip="203.0.113.8")
    row = UserSession.objects.get(user=member("acme", "owner"))
    key = session_key(client)
    assert row.key_digest == session_key_digest(key) != key
    assert (row.tenant, row.ip, row.user_agent) == (acme, "203.0.113.8", SAFARI_IPHONE)
    assert row.created_at == row.last_seen_at


def test_session_cookie_outlives_the_absolute_timeout_only_by_the_grace_period(acme):
    acme.session_absolute_hours = 48
    acme.save()
    client = signed_in()
    assert client.cookies["sessionid"]["max-age"] == 48 * 3600 + SESSION_COOKIE_GRACE_SECONDS


def test_session_without_a_tracking_row_is_signed_out(acme, member):
    client = Client(HTTP_HOST="acme.localhost")
    client.force_login(member("acme", "owner"))  # bypasses session_sign_in
    session = client.session
    session["workspace_schema"] = acme.schema_name
    session.save()
    response = client.get("/", follow=True)
    assert response.redirect_chain[0] == ("/accounts/sign-in/?next=/", 302)
    assert SESSION_ENDED_MESSAGE in messages_on_next_page(response)


def test_sign_out_removes_the_tracking_row(member):
    client = signed_in()
    client.post("/accounts/sign-out/")
    assert not UserSession.objects.filter(user=member("acme", "owner")).exists()


# --- Timeouts, enforced by the gate


def test_idle_session_is_signed_out_with_a_message_and_audited(acme, member):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        client = signed_in()
        traveller.shift(timedelta(hours=2, seconds=1))  # default idle timeout: 2 hours
        head = stream_head(acme)
        response = client.get("/quotes/", follow=True)
    assert response.redirect_chain[0] == ("/accounts/sign-in/?next=/quotes/", 302)
    assert SESSION_IDLE_MESSAGE in messages_on_next_page(response)
    assert not UserSession.objects.filter(user=member("acme", "owner")).exists()
    (event,) = events_since(acme, head)
    assert (event.event_name, event.actor_email, event.additional_data) == (
        "auth.session.expired",
        "owner@acme.example",
        {"reason": "idle"},
    )


def test_activity_keeps_a_session_alive_and_is_noted_at_most_once_a_minute(member):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        client = signed_in()
        row = UserSession.objects.get(user=member("acme", "owner"))
        traveller.shift(timedelta(seconds=30))
        client.get("/")
        row.refresh_from_db()
        assert row.last_seen_at == start  # under a minute: not written
        traveller.shift(timedelta(hours=1, minutes=50))
        assert client.get("/").status_code == 200
        row.refresh_from_db()
        assert row.last_seen_at == start + timedelta(hours=1, minutes=50, seconds=30)
        traveller.shift(timedelta(hours=1, minutes=50))  # 3h40 after sign-in, 1h50 idle
        assert client.get("/").status_code == 200


def test_absolute_timeout_ends_even_an_active_session(acme):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        client = signed_in()
        for _ in range(11):
            traveller.shift(timedelta(hours=1))
            assert client.get("/").status_code == 200
        traveller.shift(timedelta(hours=1))  # 12 hours: the default absolute timeout
        response = client.get("/", follow=True)
    assert response.redirect_chain[0][0].startswith("/accounts/sign-in/")
    assert SESSION_ABSOLUTE_MESSAGE in messages_on_next_page(response)


def test_a_lowered_workspace_timeout_applies_to_running_sessions(acme):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        client = signed_in()
        acme.session_idle_minutes = 5
        acme.save()
        traveller.shift(timedelta(minutes=4))
        assert client.get("/").status_code == 200
        traveller.shift(timedelta(minutes=5, seconds=1))
        assert client.get("/").status_code == 302


# --- The member's Security page


def test_security_page_lists_own_sessions_in_this_workspace_with_device_and_marks_this_one(
    member,
):
    phone = signed_in(user_agent=SAFARI_IPHONE)
    laptop = signed_in(user_agent=FIREFOX_WINDOWS)
    signed_in(role="manager")  # someone else's session
    response = laptop.get("/accounts/security/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Safari on iPhone" in body
    assert "Firefox on Windows" in body
    assert body.count("This device") == 1
    assert body.count("/revoke/") == 2
    for client in (phone, laptop):  # no key, nor its digest, is ever shown
        assert session_key(client) not in body
        assert session_key_digest(session_key(client)) not in body


def test_revoking_one_session_signs_that_device_out_and_is_audited(acme, member):
    phone = signed_in(user_agent=SAFARI_IPHONE, ip="203.0.113.30")
    laptop = signed_in(user_agent=FIREFOX_WINDOWS)
    phone_row = UserSession.objects.get(key_digest=session_key_digest(session_key(phone)))
    head = stream_head(acme)
    response = laptop.post(f"/accounts/security/sessions/{phone_row.pk}/revoke/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/security/"
    assert phone.get("/").status_code == 302  # signed out
    assert laptop.get("/").status_code == 200  # still signed in
    (event,) = events_since(acme, head)
    assert (event.event_name, event.target_id, event.additional_data) == (
        "auth.session.revoked",
        str(member("acme", "owner").pk),
        {"device": "Safari on iPhone", "ip": "203.0.113.30", "current": False},
    )


def test_revoking_the_current_session_signs_this_request_out():
    client = signed_in()
    row = UserSession.objects.get(key_digest=session_key_digest(session_key(client)))
    response = client.post(f"/accounts/security/sessions/{row.pk}/revoke/")
    assert response["Location"] == "/accounts/sign-in/"
    assert client.get("/").status_code == 302


def test_revoke_needs_post():
    client = signed_in()
    row = UserSession.objects.get(key_digest=session_key_digest(session_key(client)))
    assert client.get(f"/accounts/security/sessions/{row.pk}/revoke/").status_code == 405
    assert UserSession.objects.filter(pk=row.pk).exists()


def test_another_members_session_id_is_the_same_404_as_a_missing_one():
    owner = signed_in()
    manager = signed_in(role="manager")
    manager_row = UserSession.objects.get(key_digest=session_key_digest(session_key(manager)))
    missing = owner.post("/accounts/security/sessions/999999999/revoke/")
    refused = owner.post(f"/accounts/security/sessions/{manager_row.pk}/revoke/")
    assert refused.status_code == missing.status_code == 404
    assert refused.content == missing.content
    assert manager.get("/").status_code == 200  # untouched


def test_own_session_in_another_workspace_is_the_same_404_as_a_missing_one(acme, globex):
    both = User.objects.create_user("both@example.com", PASSWORD, full_name="Both Ways")
    Membership.objects.create(user=both, tenant=acme, role=Role.EMPLOYEE)
    Membership.objects.create(user=both, tenant=globex, role=Role.EMPLOYEE)
    on_acme = Client(HTTP_HOST="acme.localhost")
    on_acme.post("/accounts/sign-in/", {"email": "both@example.com", "password": PASSWORD})
    on_globex = Client(HTTP_HOST="globex.localhost")
    on_globex.post("/accounts/sign-in/", {"email": "both@example.com", "password": PASSWORD})
    globex_row = UserSession.objects.get(user=both, tenant=globex)
    missing = on_acme.post("/accounts/security/sessions/999999999/revoke/")
    refused = on_acme.post(f"/accounts/security/sessions/{globex_row.pk}/revoke/")
    assert refused.status_code == missing.status_code == 404
    assert refused.content == missing.content
    assert "Globex" not in on_acme.get("/accounts/security/").content.decode()


def test_sign_out_everywhere_ends_every_session_in_every_workspace(acme, globex):
    both = User.objects.create_user("both@example.com", PASSWORD, full_name="Both Ways")
    Membership.objects.create(user=both, tenant=acme, role=Role.EMPLOYEE)
    Membership.objects.create(user=both, tenant=globex, role=Role.EMPLOYEE)
    clients = []
    for slug in ("acme", "acme", "globex"):
        client = Client(HTTP_HOST=f"{slug}.localhost")
        client.post("/accounts/sign-in/", {"email": "both@example.com", "password": PASSWORD})
        clients.append(client)
    acme_head, globex_head = stream_head(acme), stream_head(globex)
    response = clients[0].post("/accounts/security/sign-out-everywhere/")
    assert response["Location"] == "/accounts/sign-in/"
    assert [client.get("/").status_code for client in clients] == [302, 302, 302]
    assert not UserSession.objects.filter(user=both).exists()
    assert [(e.event_name, e.additional_data) for e in events_since(acme, acme_head)] == [
        ("auth.sessions.ended", {"reason": "signed_out_everywhere", "count": 2}),
    ]
    assert [(e.event_name, e.additional_data) for e in events_since(globex, globex_head)] == [
        ("auth.sessions.ended", {"reason": "signed_out_everywhere", "count": 1}),
    ]


# --- user_sessions_end: the service member management calls


def test_user_sessions_end_for_one_workspace_keeps_the_others(acme, globex):
    both = User.objects.create_user("both@example.com", PASSWORD, full_name="Both Ways")
    for tenant in (acme, globex):
        Membership.objects.create(user=both, tenant=tenant, role=Role.EMPLOYEE)
    on_acme = Client(HTTP_HOST="acme.localhost")
    on_acme.post("/accounts/sign-in/", {"email": "both@example.com", "password": PASSWORD})
    on_globex = Client(HTTP_HOST="globex.localhost")
    on_globex.post("/accounts/sign-in/", {"email": "both@example.com", "password": PASSWORD})
    head = stream_head(acme)
    ended = services.user_sessions_end(
        user=both, tenant=acme, reason=services.SessionEndReason.ROLE_CHANGED
    )
    assert ended == 1
    assert on_acme.get("/").status_code == 302
    assert on_globex.get("/").status_code == 200
    (event,) = events_since(acme, head)
    assert (event.event_name, event.target_id, event.additional_data) == (
        "auth.sessions.ended",
        str(both.pk),
        {"reason": "role_changed", "count": 1},
    )


def test_user_sessions_end_can_spare_the_callers_own_session(member):
    keep = signed_in()
    other = signed_in()
    ended = services.user_sessions_end(
        user=member("acme", "owner"), except_session_key=session_key(keep), reason="test"
    )
    assert ended == 1
    assert keep.get("/").status_code == 200
    assert other.get("/").status_code == 302


def test_user_sessions_end_with_nothing_to_end_records_nothing(acme, member):
    head = stream_head(acme)
    assert services.user_sessions_end(user=member("acme", "sales"), reason="test") == 0
    assert events_since(acme, head) == []


def test_user_sessions_end_is_undone_with_the_callers_transaction(member):
    from django.db import transaction

    def remove_then_fail():
        with transaction.atomic():
            services.user_sessions_end(user=member("acme", "owner"), reason="member_removed")
            raise RuntimeError("the removal failed")

    client = signed_in()
    with pytest.raises(RuntimeError):
        remove_then_fail()
    assert client.get("/").status_code == 200


# --- Device labels


@pytest.mark.parametrize(
    ("user_agent", "label"),
    [
        (FIREFOX_WINDOWS, "Firefox on Windows"),
        (SAFARI_IPHONE, "Safari on iPhone"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/126.0.0.0 Safari/537.36",
            "Chrome on macOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("curl/8.5.0", "curl"),
        ("", "Unknown device"),
    ],
)
def test_device_label_is_a_short_browser_and_system_name(user_agent, label):
    assert device_label(user_agent) == label
