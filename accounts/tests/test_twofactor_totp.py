"""TOTP arithmetic and verification: the RFC test vectors, window edges, replay, bad input."""

from __future__ import annotations

import time

import pytest
import time_machine
from django_otp.oath import hotp

from accounts.twofactor import crypto
from accounts.twofactor.models import EncryptedTOTPDevice

from .twofactor_helpers import enroll

RFC_SEED = b"12345678901234567890"


@pytest.mark.parametrize(
    ("counter", "expected"),
    # RFC 4226 Appendix D: HOTP values for the ASCII seed "12345678901234567890".
    list(
        enumerate([755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489])
    ),
)
def test_hotp_matches_the_rfc_4226_test_vectors(counter, expected):
    assert hotp(RFC_SEED, counter, digits=6) == expected


@pytest.mark.parametrize(
    ("unix_time", "expected"),
    # RFC 6238 Appendix B, the SHA-1 column (8 digits).
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_totp_matches_the_rfc_6238_test_vectors(unix_time, expected):
    assert crypto.totp_code(RFC_SEED, unix_time, digits=8) == expected


@pytest.mark.parametrize(
    ("unix_time", "expected"),
    # The same vectors at the 6 digits we use: the last six digits of the 8-digit values.
    [
        (59, "287082"),
        (1111111109, "081804"),
        (1111111111, "050471"),
        (1234567890, "005924"),
        (2000000000, "279037"),
        (20000000000, "353130"),
    ],
)
def test_six_digit_codes_are_the_rfc_values_truncated(unix_time, expected):
    assert crypto.totp_code(RFC_SEED, unix_time) == expected


def test_time_step_is_thirty_seconds_from_the_epoch():
    assert [crypto.time_step(t) for t in (0, 29, 30, 59, 60, 1111111109)] == [
        0,
        0,
        1,
        1,
        2,
        37037036,
    ]


# --- Window edges: the current step and one either side, nothing further.

NOW = 1_700_000_010  # 10 s into step 56666667


@pytest.mark.parametrize(
    ("offset_steps", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)]
)
def test_codes_one_step_either_side_are_accepted_two_steps_are_not(offset_steps, accepted):
    code = crypto.totp_code(RFC_SEED, NOW + offset_steps * 30)
    matched = crypto.totp_match(RFC_SEED, code, at=NOW)
    assert (matched is not None) is accepted
    if accepted:
        assert matched == crypto.time_step(NOW) + offset_steps


def test_window_moves_exactly_on_the_step_boundary():
    step_start = crypto.time_step(NOW) * 30  # first second of the current step
    two_back = crypto.totp_code(RFC_SEED, step_start - 31)  # last second of step - 2
    assert crypto.totp_match(RFC_SEED, two_back, at=step_start - 1) is not None  # still t - 1
    assert crypto.totp_match(RFC_SEED, two_back, at=step_start) is None  # now t - 2
    next_step = crypto.totp_code(RFC_SEED, step_start + 60)  # step + 2
    assert crypto.totp_match(RFC_SEED, next_step, at=step_start + 29) is None
    assert crypto.totp_match(RFC_SEED, next_step, at=step_start + 30) is not None


FULL_WIDTH_DIGITS = "\uff11\uff12\uff13\uff14\uff15\uff16"  # "123456" in full-width digits


@pytest.mark.parametrize(
    "typed", ["", "12345", "1234567", "abcdef", "12 456", FULL_WIDTH_DIGITS, "-12345", "123456\n"]
)
def test_malformed_codes_never_match(typed):
    assert crypto.totp_match(RFC_SEED, typed, at=NOW) is None


# --- The device: each code once.


@pytest.mark.django_db
def test_a_code_is_accepted_once_and_its_replay_fails(member):
    user = member("acme", "designer")
    seed, _ = enroll(user)
    device = EncryptedTOTPDevice.objects.get(user=user)
    with time_machine.travel(NOW, tick=False):
        code = crypto.totp_code(seed, NOW)
        assert device.verify_token(code) is True
        assert device.verify_token(code) is False  # the same code, same window
        fresh = EncryptedTOTPDevice.objects.get(pk=device.pk)
        assert fresh.verify_token(code) is False  # from another request too
        assert fresh.last_t == crypto.time_step(NOW)


@pytest.mark.django_db
def test_an_older_code_fails_after_a_newer_one_was_accepted(member):
    user = member("acme", "designer")
    seed, _ = enroll(user)
    device = EncryptedTOTPDevice.objects.get(user=user)
    with time_machine.travel(NOW, tick=False):
        assert device.verify_token(crypto.totp_code(seed, NOW + 30)) is True  # t + 1
        assert device.verify_token(crypto.totp_code(seed, NOW)) is False  # t, still in window
        assert device.verify_token(crypto.totp_code(seed, NOW - 30)) is False  # t - 1


@pytest.mark.django_db
def test_the_next_step_code_works_after_the_current_one(member):
    user = member("acme", "designer")
    seed, _ = enroll(user)
    device = EncryptedTOTPDevice.objects.get(user=user)
    with time_machine.travel(NOW, tick=False) as traveller:
        assert device.verify_token(crypto.totp_code(seed, NOW)) is True
        traveller.shift(30)
        assert device.verify_token(crypto.totp_code(seed, NOW + 30)) is True


@pytest.mark.django_db
def test_a_wrong_code_does_not_consume_the_step(member):
    user = member("acme", "designer")
    seed, _ = enroll(user)
    device = EncryptedTOTPDevice.objects.get(user=user)
    right = crypto.totp_code(seed, time.time())
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert device.verify_token(wrong) is False
    assert device.verify_token(right) is True


# --- The device is django-otp's TOTP device over an encrypted seed.


@pytest.mark.django_db
def test_the_device_offers_django_otps_totp_device_api_over_the_decrypted_seed(member):
    user = member("acme", "designer")
    seed, _ = enroll(user)
    device = EncryptedTOTPDevice.objects.get(user=user)
    assert device.bin_key == seed
    assert device.key == seed.hex()
    assert (device.step, device.t0, device.digits, device.tolerance, device.drift) == (
        30,
        0,
        6,
        1,
        0,
    )
    assert device.config_url == crypto.provisioning_uri(
        seed=seed, account=user.email, issuer="Shopsafe"
    )


@pytest.mark.django_db
def test_an_early_code_moves_the_window_only_when_drift_sync_is_on(member, settings):
    user = member("acme", "designer")
    seed, _ = enroll(user)
    with time_machine.travel(NOW, tick=False):
        device = EncryptedTOTPDevice.objects.get(user=user)
        assert device.verify_token(crypto.totp_code(seed, NOW + 30)) is True  # t + 1
        assert EncryptedTOTPDevice.objects.get(pk=device.pk).drift == 0

        settings.OTP_TOTP_SYNC = True
        seed, _ = enroll(user)
        device = EncryptedTOTPDevice.objects.get(user=user)
        assert device.verify_token(crypto.totp_code(seed, NOW + 30)) is True
        assert EncryptedTOTPDevice.objects.get(pk=device.pk).drift == 1
