"""Turning 2FA on (QR + manual key, confirmed by a code), recovery codes shown once,
regenerating them and turning 2FA off (password and a code), with their emails and events."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.models import User, UserSession
from accounts.twofactor import crypto, services
from accounts.twofactor.models import EncryptedTOTPDevice, RecoveryCode
from accounts.twofactor.selectors import user_has_2fa
from audit.events import Event
from audit.tests.streams import events_since, stream_head
from conftest import PASSWORD

from .twofactor_helpers import code_now, enroll, post_password, recovery_codes_in, workspace_client

pytestmark = pytest.mark.django_db

SETUP = "/accounts/2fa/setup/"
REGENERATE = "/accounts/2fa/recovery-codes/"
DISABLE = "/accounts/2fa/disable/"


def _manual_key(response) -> str:
    match = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)</code>', response.content.decode())
    return match.group(1).replace(" ", "")


def _seed_of(user) -> bytes:
    return EncryptedTOTPDevice.objects.filter(user=user).latest("created_at").seed


def _age_session(user, minutes: int = 60) -> None:
    UserSession.objects.filter(user=user).update(
        created_at=timezone.now() - timedelta(minutes=minutes)
    )


# --- Enrollment


def test_setup_page_shows_a_qr_code_and_the_manual_key(client_for, member):
    client = client_for("acme", "designer")
    user = member("acme", "designer")
    response = client.get(SETUP)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<svg" in body
    assert "<title>QR code for your authenticator app</title>" in body
    key = _manual_key(response)
    assert key == crypto.seed_base32(_seed_of(user))
    assert len(key) == 32  # 160-bit seed
    assert "no-store" in response["Cache-Control"]
    assert not user_has_2fa(user)  # nothing counts before confirmation
    # Opening the page again keeps the same key, so an app that scanned it keeps working.
    assert _manual_key(client.get(SETUP)) == key


def test_an_abandoned_setup_gets_a_new_key_after_an_hour(client_for):
    client = client_for("acme", "designer")
    first = _manual_key(client.get(SETUP))
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        second = _manual_key(client.get(SETUP))
    assert first != second
    assert EncryptedTOTPDevice.objects.filter(confirmed=False).count() == 1


def test_the_provisioning_uri_names_the_issuer_account_and_parameters():
    uri = crypto.provisioning_uri(seed=b"\x00" * 20, account="a@b.example", issuer="Shopsafe")
    assert uri == (
        "otpauth://totp/Shopsafe%3Aa%40b.example?secret=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "&issuer=Shopsafe&algorithm=SHA1&digits=6&period=30"
    )


def test_a_valid_code_turns_2fa_on_and_shows_ten_recovery_codes_once(
    client_for, member, acme, django_capture_on_commit_callbacks
):
    client = client_for("acme", "designer")
    user = member("acme", "designer")
    client.get(SETUP)
    head, platform_head = stream_head(acme), stream_head("public")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(SETUP, {"code": code_now(_seed_of(user))})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    codes = recovery_codes_in(response)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    body = response.content.decode()
    assert 'download="shopsafe-recovery-codes-acme.txt"' in body
    assert "data:text/plain;charset=utf-8," in body
    device = EncryptedTOTPDevice.objects.get(user=user)
    assert device.confirmed is True
    assert device.confirmed_at is not None
    assert RecoveryCode.objects.filter(user=user).count() == 10
    assert [m.subject for m in mail.outbox if m.to == [user.email]] == [
        "Two-factor authentication is now on for your Shopsafe account"
    ]
    assert Event.TWO_FACTOR_ENABLED in [e.event_type for e in events_since(acme, head)]
    assert Event.TWO_FACTOR_ENABLED in [e.event_type for e in events_since("public", platform_head)]
    # The codes are not shown again anywhere.
    overview = client.get("/accounts/2fa/")
    assert "10 of 10" in overview.content.decode()
    for code in codes:
        assert code not in overview.content.decode()


@pytest.mark.parametrize("typed", ["", "12345", "abcdef", "1234567"])
def test_setup_refuses_malformed_codes_next_to_the_field(client_for, member, typed):
    client = client_for("acme", "designer")
    client.get(SETUP)
    response = client.post(SETUP, {"code": typed})
    assert response.status_code == 400
    assert 'id="id_code_error"' in response.content.decode()
    assert not user_has_2fa(member("acme", "designer"))


def test_setup_refuses_a_wrong_code_and_keeps_the_same_key(client_for, member):
    client = client_for("acme", "designer")
    user = member("acme", "designer")
    key = _manual_key(client.get(SETUP))
    right = code_now(_seed_of(user))
    response = client.post(SETUP, {"code": f"{(int(right) + 1) % 1_000_000:06d}"})
    assert response.status_code == 400
    assert services.CODE_INVALID in response.content.decode()
    assert _manual_key(response) == key
    assert not user_has_2fa(user)
    assert not RecoveryCode.objects.filter(user=user).exists()


def test_setup_without_an_enrollment_in_progress_asks_to_scan_again(client_for, member):
    client = client_for("acme", "designer")
    response = client.post(SETUP, {"code": "123456"})
    assert response.status_code == 400
    assert services.SETUP_MISSING in response.content.decode()


def test_an_older_session_must_confirm_the_password_to_enroll(client_for, member):
    client = client_for("acme", "designer")
    user = member("acme", "designer")
    _age_session(user)
    response = client.get(SETUP)
    assert 'name="current_password"' in response.content.decode()
    code = code_now(_seed_of(user))
    response = client.post(SETUP, {"code": code})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    response = client.post(SETUP, {"code": code, "current_password": "not my password"})
    assert response.status_code == 400
    assert services.CURRENT_PASSWORD_WRONG in response.content.decode()
    assert User.objects.get(pk=user.pk).failed_sign_in_count == 1
    assert not user_has_2fa(user)
    response = client.post(SETUP, {"code": code, "current_password": PASSWORD})
    assert response.status_code == 200
    assert user_has_2fa(user)


def test_a_fresh_session_needs_no_password_to_enroll(client_for):
    response = client_for("acme", "designer").get(SETUP)
    assert 'name="current_password"' not in response.content.decode()


def test_setup_when_2fa_is_already_on_goes_to_the_overview(client_for, member):
    enroll(member("acme", "designer"))
    client = client_for("acme", "designer")
    assert client.get(SETUP)["Location"] == "/accounts/2fa/"
    assert client.post(SETUP, {"code": "123456"})["Location"] == "/accounts/2fa/"


def test_after_enrolling_the_next_sign_in_asks_for_a_code(client_for, member, acme):
    client = client_for("acme", "designer")
    user = member("acme", "designer")
    client.get(SETUP)
    client.post(SETUP, {"code": code_now(_seed_of(user))})
    fresh = workspace_client(acme)
    assert post_password(fresh, user)["Location"] == "/accounts/2fa/verify/"


# --- Regenerating recovery codes


@pytest.fixture
def enrolled_client(client_for, member):
    user = member("acme", "accountant")
    seed, codes = enroll(user, last_t=-1)
    return client_for("acme", "accountant"), user, seed, codes


def test_regenerating_needs_the_password_and_a_code(enrolled_client):
    client, user, seed, _ = enrolled_client
    assert client.get(REGENERATE).status_code == 200
    response = client.post(REGENERATE, {"current_password": "wrong", "code": code_now(seed)})
    assert response.status_code == 400
    assert services.CURRENT_PASSWORD_WRONG in response.content.decode()
    response = client.post(REGENERATE, {"current_password": PASSWORD, "code": "000000"})
    assert response.status_code == 400
    assert services.CODE_INVALID in response.content.decode()
    response = client.post(REGENERATE, {"current_password": PASSWORD, "code": ""})
    assert response.status_code == 400
    assert User.objects.get(pk=user.pk).failed_sign_in_count == 2
    assert RecoveryCode.objects.filter(user=user).count() == 10  # nothing changed


def test_regenerating_replaces_every_code_and_emails_the_user(
    enrolled_client, acme, django_capture_on_commit_callbacks
):
    client, user, seed, old_codes = enrolled_client
    head = stream_head(acme)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(REGENERATE, {"current_password": PASSWORD, "code": code_now(seed)})
    assert response.status_code == 200
    new_codes = recovery_codes_in(response)
    assert len(new_codes) == 10
    assert not set(new_codes) & set(old_codes)
    assert [m.subject for m in mail.outbox if m.to == [user.email]] == [
        "New recovery codes for your Shopsafe account"
    ]
    assert Event.RECOVERY_CODES_REGENERATED in [e.event_type for e in events_since(acme, head)]
    # Old codes no longer sign in; new ones do.
    other = workspace_client(acme)
    post_password(other, user)
    assert other.post("/accounts/2fa/verify/recovery/", {"code": old_codes[0]}).status_code == 400
    assert other.post("/accounts/2fa/verify/recovery/", {"code": new_codes[0]}).status_code == 200


def test_a_recovery_code_can_prove_it_is_you_when_regenerating(enrolled_client):
    client, _, _, old_codes = enrolled_client
    response = client.post(REGENERATE, {"current_password": PASSWORD, "code": old_codes[5]})
    assert response.status_code == 200
    assert not set(recovery_codes_in(response)) & set(old_codes)


# --- Turning 2FA off


@pytest.mark.parametrize(
    ("password", "code_kind"),
    [("wrong password", "right"), (PASSWORD, "wrong"), (PASSWORD, "empty"), ("", "right")],
)
def test_turning_2fa_off_needs_the_right_password_and_a_right_code(
    enrolled_client, password, code_kind
):
    client, user, seed, _ = enrolled_client
    code = {"right": code_now(seed), "wrong": "000000", "empty": ""}[code_kind]
    response = client.post(DISABLE, {"current_password": password, "code": code})
    assert response.status_code == 400
    assert user_has_2fa(user)
    assert RecoveryCode.objects.filter(user=user).count() == 10


def test_turning_2fa_off_removes_device_and_codes_and_emails_the_user(
    enrolled_client, acme, django_capture_on_commit_callbacks
):
    client, user, seed, _ = enrolled_client
    head = stream_head(acme)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(DISABLE, {"current_password": PASSWORD, "code": code_now(seed)})
    assert response["Location"] == "/accounts/2fa/"
    assert not EncryptedTOTPDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(user=user).exists()
    assert [m.subject for m in mail.outbox if m.to == [user.email]] == [
        "Two-factor authentication was turned off for your Shopsafe account"
    ]
    disabled = [e for e in events_since(acme, head) if e.event_type == Event.TWO_FACTOR_DISABLED]
    assert [e.additional_data for e in disabled] == [{"proved_with": "totp"}]
    fresh = workspace_client(acme)
    assert post_password(fresh, user)["Location"] == "/"


def test_turning_2fa_off_with_a_recovery_code_works_for_a_lost_phone(enrolled_client):
    client, user, _, codes = enrolled_client
    response = client.post(DISABLE, {"current_password": PASSWORD, "code": codes[2]})
    assert response.status_code == 302
    assert not user_has_2fa(user)


def test_pages_for_changing_2fa_send_a_member_without_it_to_the_overview(client_for):
    client = client_for("acme", "designer")
    assert client.get(REGENERATE)["Location"] == "/accounts/2fa/"
    assert client.get(DISABLE)["Location"] == "/accounts/2fa/"
    assert client.post(DISABLE, {"current_password": PASSWORD, "code": "1"})["Location"] == (
        "/accounts/2fa/"
    )


def test_a_locked_account_cannot_change_2fa(enrolled_client):
    client, user, seed, _ = enrolled_client
    User.objects.filter(pk=user.pk).update(locked_at=timezone.now())
    response = client.post(DISABLE, {"current_password": PASSWORD, "code": code_now(seed)})
    assert response.status_code == 429
    assert user_has_2fa(user)


def test_overview_shows_the_state_and_links(client_for, member):
    client = client_for("acme", "designer")
    body = client.get("/accounts/2fa/").content.decode()
    assert "Set up two-factor authentication" in body
    enroll(member("acme", "designer"))
    body = client.get("/accounts/2fa/").content.decode()
    assert "10 of 10" in body
    assert REGENERATE in body
    assert DISABLE in body
