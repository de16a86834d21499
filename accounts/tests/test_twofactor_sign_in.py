"""Signing in with two-factor authentication: password, then the second factor on its own
step; the half-signed-in state grants nothing and lasts five minutes; recovery codes work
once and rotate on use; every factor's failures feed the same delay and lockout."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts import throttle
from accounts.models import User, UserSession
from accounts.services import handoff_create
from accounts.twofactor import services
from accounts.twofactor.action_codes import Action, action_code_confirm
from accounts.twofactor.models import RecoveryCode
from audit.events import Event
from audit.tests.streams import events_since, stream_head
from rbac.models import Membership

from .twofactor_helpers import (
    IP,
    code_now,
    enroll,
    post_password,
    recovery_codes_in,
    workspace_client,
)

pytestmark = pytest.mark.django_db

VERIFY = "/accounts/2fa/verify/"
RECOVERY = "/accounts/2fa/verify/recovery/"


@pytest.fixture
def enrolled(member):
    user = member("acme", "manager")
    seed, codes = enroll(user)
    return user, seed, codes


def _wrong(code: str) -> str:
    return f"{(int(code) + 500_000) % 1_000_000:06d}"


def _signed_in_user_id(client) -> str | None:
    return client.session.get("_auth_user_id")


# --- The two steps


def test_password_alone_does_not_sign_in_a_member_with_2fa(acme, enrolled):
    user, _, _ = enrolled
    client = workspace_client(acme)
    head = stream_head(acme)
    response = post_password(client, user, next_url="/quotes/")
    assert response.status_code == 302
    assert response["Location"] == f"{VERIFY}?next=%2Fquotes%2F"
    assert _signed_in_user_id(client) is None
    assert not UserSession.objects.filter(user=user).exists()
    assert [e.event_type for e in events_since(acme, head)] == [
        Event.SIGN_IN_SECOND_FACTOR_REQUIRED
    ]
    assert User.objects.get(pk=user.pk).failed_sign_in_count == 0


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/quotes/",
        "/accounts/security/",
        "/accounts/2fa/",
        "/accounts/2fa/setup/",
        "/settings/two-factor/",
        "/settings/two-factor/off/",  # the emailed-code step is never reachable signed out
        "/settings/members/",
    ],
)
def test_the_half_signed_in_state_grants_nothing(acme, enrolled, path):
    user, _, _ = enrolled
    client = workspace_client(acme)
    post_password(client, user)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/sign-in/")
    assert client.post(path).status_code in (302, 405)
    assert _signed_in_user_id(client) is None


def test_the_right_code_signs_in_with_a_new_session_key(acme, enrolled):
    user, seed, _ = enrolled
    client = workspace_client(acme)
    post_password(client, user)
    half_key = client.session.session_key
    head = stream_head(acme)
    response = client.post(VERIFY, {"code": code_now(seed), "next": "/quotes/"})
    assert response.status_code == 302
    assert response["Location"] == "/quotes/"
    assert _signed_in_user_id(client) == str(user.pk)
    assert client.session.session_key != half_key
    assert services.PENDING_SESSION_KEY not in client.session
    assert UserSession.objects.filter(user=user, tenant=acme).count() == 1
    success = [e for e in events_since(acme, head) if e.event_type == Event.SIGN_IN_SUCCEEDED]
    assert [e.additional_data for e in success] == [{"method": "password+totp"}]
    assert client.get("/quotes/").status_code == 200


def test_the_verify_page_names_the_account_and_offers_recovery(acme, enrolled):
    user, _, _ = enrolled
    client = workspace_client(acme)
    post_password(client, user)
    response = client.get(VERIFY)
    assert response.status_code == 200
    body = response.content.decode()
    assert user.email in body
    assert 'autocomplete="one-time-code"' in body
    assert 'href="/accounts/2fa/verify/recovery/"' in body
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_foreign_next_url_is_ignored(acme, enrolled):
    user, seed, _ = enrolled
    client = workspace_client(acme)
    post_password(client, user)
    response = client.post(VERIFY, {"code": code_now(seed), "next": "https://evil.example/"})
    assert response["Location"] == "/"


@pytest.mark.parametrize("typed", ["", "12345", "abcdef", "1234567"])
def test_malformed_codes_are_refused_next_to_the_field_without_counting(acme, enrolled, typed):
    user, _, _ = enrolled
    client = workspace_client(acme)
    post_password(client, user)
    response = client.post(VERIFY, {"code": typed})
    assert response.status_code == 400
    assert 'id="id_code_error"' in response.content.decode()
    assert _signed_in_user_id(client) is None
    assert User.objects.get(pk=user.pk).failed_sign_in_count == 0


def test_a_wrong_code_is_refused_counted_and_audited(acme, enrolled):
    user, seed, _ = enrolled
    client = workspace_client(acme)
    post_password(client, user)
    head = stream_head(acme)
    response = client.post(VERIFY, {"code": _wrong(code_now(seed))})
    assert response.status_code == 400
    assert services.CODE_INVALID in response.content.decode()
    assert _signed_in_user_id(client) is None
    assert User.objects.get(pk=user.pk).failed_sign_in_count == 1
    failed = [
        e for e in events_since(acme, head) if e.event_type == Event.SIGN_IN_SECOND_FACTOR_FAILED
    ]
    assert len(failed) == 1
    assert failed[0].outcome == "failure"
    assert failed[0].additional_data == {"factor": "totp"}
    # The password step is not repeated: the right code still works.
    assert client.post(VERIFY, {"code": code_now(seed)}).status_code == 302
    assert _signed_in_user_id(client) == str(user.pk)
    assert User.objects.get(pk=user.pk).failed_sign_in_count == 0


def test_five_wrong_codes_end_the_half_signed_in_state(acme, enrolled):
    user, seed, _ = enrolled
    client = workspace_client(acme)
    post_password(client, user)
    wrong = _wrong(code_now(seed))
    for _ in range(services.PENDING_MAX_ATTEMPTS - 1):
        assert client.post(VERIFY, {"code": wrong}).status_code == 400
    response = client.post(VERIFY, {"code": wrong}, follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/sign-in/"
    assert services.PENDING_TOO_MANY_ATTEMPTS in response.content.decode()
    response = client.post(VERIFY, {"code": code_now(seed)})
    assert response["Location"] == "/accounts/sign-in/"
    assert _signed_in_user_id(client) is None


def test_the_half_signed_in_state_expires_after_five_minutes(acme, enrolled):
    user, seed, _ = enrolled
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        client = workspace_client(acme)
        post_password(client, user)
        traveller.shift(timedelta(seconds=services.PENDING_SECONDS - 1))
        assert client.get(VERIFY).status_code == 200  # still within the five minutes
        traveller.shift(timedelta(seconds=1))
        response = client.post(VERIFY, {"code": code_now(seed)}, follow=True)
    assert response.redirect_chain[0][0] == "/accounts/sign-in/"
    assert services.PENDING_EXPIRED in response.content.decode()
    assert _signed_in_user_id(client) is None
    assert services.PENDING_SESSION_KEY not in client.session


def test_the_verify_page_without_a_password_step_sends_to_sign_in(acme):
    client = workspace_client(acme)
    assert client.get(VERIFY)["Location"] == "/accounts/sign-in/"
    assert client.post(VERIFY, {"code": "123456"})["Location"] == "/accounts/sign-in/"
    assert client.get(RECOVERY)["Location"] == "/accounts/sign-in/"


def test_the_half_signed_in_state_is_bound_to_its_workspace_host(acme, globex, member):
    user = member("acme", "owner")
    Membership.objects.create(user=user, tenant=globex, role="employee")
    seed, _ = enroll(user)
    client = workspace_client(acme)
    post_password(client, user)
    client.defaults["HTTP_HOST"] = "globex.localhost"  # the same cookie presented elsewhere
    response = client.post(VERIFY, {"code": code_now(seed)})
    assert response["Location"] == "/accounts/sign-in/"
    assert _signed_in_user_id(client) is None


def test_a_member_removed_between_the_steps_cannot_finish(acme, enrolled):
    user, seed, _ = enrolled
    client = workspace_client(acme)
    post_password(client, user)
    Membership.objects.filter(user=user, tenant=acme).update(is_active=False)
    response = client.post(VERIFY, {"code": code_now(seed)})
    assert response["Location"] == "/accounts/sign-in/"
    assert _signed_in_user_id(client) is None


def test_a_code_used_to_sign_in_cannot_be_replayed_at_the_next_sign_in(acme, enrolled):
    user, seed, _ = enrolled
    with time_machine.travel(timezone.now(), tick=False):
        code = code_now(seed)
        first = workspace_client(acme)
        post_password(first, user)
        assert first.post(VERIFY, {"code": code}).status_code == 302
        second = workspace_client(acme, ip="203.0.113.10")  # an onlooker with the password
        post_password(second, user)
        response = second.post(VERIFY, {"code": code})
    assert response.status_code == 400
    assert _signed_in_user_id(second) is None


def test_a_member_without_2fa_signs_in_with_the_password_alone(acme, member):
    user = member("acme", "sales")
    client = workspace_client(acme)
    response = post_password(client, user)
    assert response["Location"] == "/"
    assert _signed_in_user_id(client) == str(user.pk)


def test_an_unconfirmed_enrollment_does_not_ask_for_a_second_factor(acme, member):
    user = member("acme", "sales")
    services.totp_enrollment_start(user=user)
    client = workspace_client(acme)
    post_password(client, user)
    assert _signed_in_user_id(client) == str(user.pk)


def test_a_sign_in_hand_off_still_asks_for_the_second_factor(acme, enrolled):
    """An existing account that adds a workspace at sign-up proved only its password."""
    user, seed, _ = enrolled
    token = handoff_create(user=user, tenant=acme)
    client = workspace_client(acme)
    response = client.get(f"/accounts/handoff/{token}/")
    assert response["Location"] == VERIFY
    assert _signed_in_user_id(client) is None
    client.post(VERIFY, {"code": code_now(seed)})
    assert _signed_in_user_id(client) == str(user.pk)


# --- Recovery codes at sign-in


def test_a_recovery_code_signs_in_once_and_the_whole_set_rotates(
    acme, enrolled, django_capture_on_commit_callbacks
):
    user, _, old_codes = enrolled
    client = workspace_client(acme)
    post_password(client, user)
    head = stream_head(acme)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RECOVERY, {"code": old_codes[3].upper(), "next": "/orders/"})
    assert response.status_code == 200  # the new set is shown right away
    assert _signed_in_user_id(client) == str(user.pk)
    new_codes = recovery_codes_in(response)
    assert len(new_codes) == 10
    assert not set(new_codes) & set(old_codes)
    assert 'href="/orders/"' in response.content.decode()
    assert response["Cache-Control"].startswith("max-age=0")
    assert "no-store" in response["Cache-Control"]
    assert RecoveryCode.objects.filter(user=user).count() == 10
    assert not RecoveryCode.objects.filter(user=user, used_at__isnull=False).exists()
    events = [e.event_type for e in events_since(acme, head)]
    assert Event.SIGN_IN_SUCCEEDED in events
    assert Event.RECOVERY_CODE_USED in events
    notices = [m for m in mail.outbox if m.to == [user.email]]
    assert [m.subject for m in notices] == [
        "A recovery code was used to sign in to your Shopsafe account"
    ]

    # Every earlier code is dead: the one used and the nine that were never used.
    for dead in (old_codes[3], old_codes[0], old_codes[9]):
        other = workspace_client(acme)
        post_password(other, user)
        assert other.post(RECOVERY, {"code": dead}).status_code == 400
        assert _signed_in_user_id(other) is None
    fresh = workspace_client(acme)
    post_password(fresh, user)
    assert fresh.post(RECOVERY, {"code": new_codes[0]}).status_code == 200
    assert _signed_in_user_id(fresh) == str(user.pk)


@pytest.mark.parametrize(
    "typed", ["", "abcd-efgh", "not a code at all", "abcd-efgh-jkmn-pqrs", "abcd-efgh-jkmu"]
)
def test_malformed_or_unknown_recovery_codes_are_refused(acme, enrolled, typed):
    user, _, _ = enrolled
    client = workspace_client(acme)
    post_password(client, user)
    response = client.post(RECOVERY, {"code": typed})
    assert response.status_code == 400
    assert _signed_in_user_id(client) is None
    assert RecoveryCode.objects.filter(user=user, used_at__isnull=True).count() == 10


def test_recovery_codes_are_read_forgivingly(acme, enrolled):
    """Case, spaces, dashes and the letters o, i, l (read as 0, 1, 1) do not matter."""
    user, _, codes = enrolled
    typed = codes[0].replace("-", " ").upper().replace("0", "O").replace("1", "l")
    client = workspace_client(acme)
    post_password(client, user)
    assert client.post(RECOVERY, {"code": typed}).status_code == 200
    assert _signed_in_user_id(client) == str(user.pk)


def test_a_totp_code_is_not_a_recovery_code_and_vice_versa(acme, enrolled):
    user, seed, codes = enrolled
    client = workspace_client(acme)
    post_password(client, user)
    assert client.post(RECOVERY, {"code": code_now(seed)}).status_code == 400
    assert client.post(VERIFY, {"code": codes[0]}).status_code == 400
    assert _signed_in_user_id(client) is None


# --- One guessing defence for every factor


def _email_code_failure(acme, user):
    owner_membership = Membership.objects.get(user=user, tenant=acme)
    with pytest.raises(Exception):  # noqa: B017, PT011 - ValidationError
        action_code_confirm(
            actor=owner_membership,
            tenant=acme,
            action=Action.WORKSPACE_DELETE,
            target=acme,
            code="000000",
            ip=IP,
        )


def test_failures_of_every_factor_add_up_to_one_delay(acme, enrolled):
    user, seed, _ = enrolled
    with time_machine.travel(timezone.now(), tick=False):
        client = workspace_client(acme)
        assert post_password(client, user, password="wrong password!").status_code == 400
        post_password(client, user)
        assert client.post(VERIFY, {"code": _wrong(code_now(seed))}).status_code == 400
        assert client.post(RECOVERY, {"code": "zzzz-zzzz-zzzz"}).status_code == 400
        _email_code_failure(acme, user)
        assert User.objects.get(pk=user.pk).failed_sign_in_count == 4
        assert client.post(VERIFY, {"code": _wrong(code_now(seed))}).status_code == 400
        assert User.objects.get(pk=user.pk).failed_sign_in_count == 5
        # The fifth failure opens a delay that every factor respects, the right ones too.
        response = client.post(VERIFY, {"code": code_now(seed)})
        assert response.status_code == 429
        assert response["Retry-After"] == "1"
        assert throttle.SIGN_IN_THROTTLED_MESSAGE in response.content.decode()
        assert post_password(workspace_client(acme), user).status_code == 429
        assert _signed_in_user_id(client) is None


def test_the_lockout_counts_every_factor_and_then_refuses_the_right_ones(
    acme, enrolled, django_capture_on_commit_callbacks
):
    user, seed, _ = enrolled
    User.objects.filter(pk=user.pk).update(failed_sign_in_count=throttle.LOCK_AFTER_FAILURES - 4)
    wait = timedelta(seconds=throttle.MAX_DELAY_SECONDS + 1)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = workspace_client(acme)
        post_password(client, user, password="wrong password!")  # 97
        traveller.shift(wait)
        post_password(client, user)
        client.post(VERIFY, {"code": _wrong(code_now(seed))})  # 98
        traveller.shift(wait)
        post_password(client, user)  # the half-signed-in state lasts only five minutes
        client.post(RECOVERY, {"code": "zzzz-zzzz-zzzz"})  # 99
        traveller.shift(wait)
        with django_capture_on_commit_callbacks(execute=True):
            _email_code_failure(acme, user)  # 100: locked
        locked = User.objects.get(pk=user.pk)
        assert locked.locked_at is not None
        assert any(m.to == [user.email] and "locked" in m.body for m in mail.outbox)
        traveller.shift(wait)
        # Locked: the right password is refused until a password reset, with the same 429.
        assert post_password(client, user).status_code == 429
        assert _signed_in_user_id(client) is None
        assert services.PENDING_SESSION_KEY not in client.session


def test_a_locked_account_cannot_finish_a_half_done_sign_in(acme, enrolled):
    user, seed, _ = enrolled
    client = workspace_client(acme)
    post_password(client, user)
    User.objects.filter(pk=user.pk).update(locked_at=timezone.now())
    response = client.post(VERIFY, {"code": code_now(seed)})
    assert response.status_code == 429
    assert _signed_in_user_id(client) is None


def test_no_code_or_seed_appears_in_any_page_of_the_sign_in(acme, enrolled):
    user, seed, codes = enrolled
    client = workspace_client(acme)
    pages = [post_password(client, user), client.get(VERIFY), client.get(RECOVERY)]
    for page in pages:
        body = page.content.decode()
        assert code_now(seed) not in body
        for code in codes:
            assert code not in body
        assert not re.search(r"[A-Z2-7]{32}", body)
