"""Second-factor secrets: recovery codes from the CSPRNG and the seed key settings (pure rules:
no database)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts.twofactor import crypto, recovery


def test_recovery_codes_have_at_least_fifty_bits_from_the_csprng():
    codes = {recovery.recovery_code_generate() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        normalised = recovery.recovery_code_normalise(code)
        assert normalised is not None
        assert len(normalised) * 5 >= 50  # 32-symbol alphabet: 5 bits per character


@pytest.mark.parametrize("keys", [[], ["not-a-fernet-key"], ["c2hvcnQ="]])
def test_unusable_key_settings_stop_with_a_clear_message(settings, keys):
    settings.TOTP_ENCRYPTION_KEYS = keys
    with pytest.raises(ImproperlyConfigured, match="TOTP_ENCRYPTION_KEYS"):
        crypto.seed_encrypt(b"seed")
