"""What the database holds: no TOTP seed, recovery code or emailed code in clear; seeds
encrypted with keys from the environment, rotatable."""

from __future__ import annotations

import binascii
import io
from base64 import b32encode

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import tenant_context

from accounts.twofactor import crypto
from accounts.twofactor.action_codes import Action, action_code_request
from accounts.twofactor.models import ActionCode, EncryptedTOTPDevice, RecoveryCode
from accounts.twofactor.services import totp_seeds_rotate

from .twofactor_helpers import enroll

pytestmark = pytest.mark.django_db


def _raw_rows(table: str) -> str:
    """Every column of every row of ``table`` as text, the way a database dump shows them."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT t::text FROM {connection.ops.quote_name(table)} t")  # noqa: S608
        return "\n".join(row[0] for row in cursor.fetchall())


def _spellings(secret: bytes) -> list[str]:
    b32 = b32encode(secret).decode()
    return [
        secret.hex(),
        secret.hex().upper(),
        b32,
        b32.rstrip("="),
        binascii.b2a_base64(secret).decode().strip(),
    ]


def test_seed_is_stored_only_encrypted(member):
    user = member("acme", "sales")
    seed, _ = enroll(user)
    stored = EncryptedTOTPDevice.objects.get(user=user).encrypted_seed
    raw = _raw_rows(EncryptedTOTPDevice._meta.db_table)
    for spelling in _spellings(seed):
        assert spelling not in raw
        assert spelling not in stored
    assert Fernet(_newest_key()).decrypt(stored.encode()) == seed


def _newest_key() -> bytes:
    from django.conf import settings

    return settings.TOTP_ENCRYPTION_KEYS[0].encode()


def test_recovery_codes_are_stored_only_as_salted_slow_hashes(member):
    user = member("acme", "sales")
    _, codes = enroll(user)
    rows = list(RecoveryCode.objects.filter(user=user))
    assert len(rows) == 10
    raw = _raw_rows(RecoveryCode._meta.db_table)
    for code in codes:
        assert code not in raw
        assert code.replace("-", "") not in raw
    hashes = [row.code_hash for row in rows]
    assert all(value.startswith("argon2$argon2id$") for value in hashes)
    salts = {value.split("$")[4] for value in hashes}
    assert len(salts) == 10  # each hash has its own salt


def test_emailed_action_codes_are_stored_only_as_keyed_digests(
    member, acme, mailoutbox, django_capture_on_commit_callbacks
):
    owner = member("acme", "owner")
    with django_capture_on_commit_callbacks(execute=True):
        action_code_request(actor=owner, tenant=acme, action=Action.WORKSPACE_DELETE, target=acme)
    code = _code_from(mailoutbox[-1].body)
    row = ActionCode.objects.get(user=owner)
    assert code not in _raw_rows(ActionCode._meta.db_table)
    assert len(row.code_digest) == 64
    assert code not in row.code_digest


def _code_from(body: str) -> str:
    import re

    return re.search(r"^\s+(\d{6})$", body, re.M).group(1)


def test_sessions_table_holds_no_seed_or_code_after_enrollment(client_for, acme, member):
    """The setup page and recovery codes page keep their secrets out of the session store."""
    client = client_for("acme", "employee")
    user = member("acme", "employee")
    response = client.get("/accounts/2fa/setup/")
    assert response.status_code == 200
    seed = EncryptedTOTPDevice.objects.get(user=user).seed
    code = crypto.totp_code(seed)
    response = client.post("/accounts/2fa/setup/", {"code": code})
    assert response.status_code == 200
    codes = [
        line
        for line in response.content.decode().split()
        if line.count("-") == 2 and len(line) > 14
    ]
    sessions = _raw_rows("django_session")
    for spelling in _spellings(seed):
        assert spelling not in sessions
    for snippet in codes:
        assert snippet not in sessions


# --- Keys from the environment, rotation


def test_new_seeds_use_the_newest_key_and_old_keys_still_decrypt(settings, member):
    old_key = settings.TOTP_ENCRYPTION_KEYS[0]
    user = member("acme", "sales")
    seed, _ = enroll(user)
    old_token = EncryptedTOTPDevice.objects.get(user=user).encrypted_seed

    new_key = Fernet.generate_key().decode()
    settings.TOTP_ENCRYPTION_KEYS = [new_key, old_key]
    assert EncryptedTOTPDevice.objects.get(user=user).seed == seed  # old key still decrypts
    fresh = crypto.seed_encrypt(b"x" * 20)
    assert Fernet(new_key.encode()).decrypt(fresh.encode()) == b"x" * 20
    with pytest.raises(Exception):  # noqa: B017, PT011 - cryptography's InvalidToken
        Fernet(old_key.encode()).decrypt(fresh.encode())

    result = totp_seeds_rotate()
    assert result.rotated >= 1
    assert result.unreadable == 0
    rotated = EncryptedTOTPDevice.objects.get(user=user).encrypted_seed
    assert rotated != old_token
    assert Fernet(new_key.encode()).decrypt(rotated.encode()) == seed

    settings.TOTP_ENCRYPTION_KEYS = [new_key]  # the old key can now be dropped
    assert EncryptedTOTPDevice.objects.get(user=user).seed == seed


def test_rotation_command_refuses_to_bless_dropping_a_key_that_is_still_needed(settings, member):
    user = member("acme", "sales")
    enroll(user)
    settings.TOTP_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # old key dropped too early
    with pytest.raises(crypto.SeedUnreadable):
        _ = EncryptedTOTPDevice.objects.get(user=user).seed
    with pytest.raises(CommandError, match="could not be decrypted"):
        call_command("totp_keys_rotate", stdout=io.StringIO())


def test_rotation_command_reports_what_it_did(member):
    enroll(member("acme", "sales"))
    out = io.StringIO()
    call_command("totp_keys_rotate", stdout=out)
    assert "Re-encrypted" in out.getvalue()


def test_workspace_schemas_hold_no_second_factor_tables(acme):
    """Devices, recovery codes and action codes live in the public schema only."""
    with tenant_context(acme), connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            [acme.schema_name],
        )
        tables = {row[0] for row in cursor.fetchall()}
    for model in (EncryptedTOTPDevice, RecoveryCode, ActionCode):
        assert model._meta.db_table not in tables


def test_a_seed_no_key_can_read_refuses_codes_without_crashing(settings, member, acme):
    from .twofactor_helpers import code_now, post_password, workspace_client

    user = member("acme", "sales")
    seed, codes = enroll(user)
    settings.TOTP_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    client = workspace_client(acme)
    post_password(client, user)
    assert client.post("/accounts/2fa/verify/", {"code": code_now(seed)}).status_code == 400
    # Recovery codes do not depend on the key: the member can still get in.
    assert client.post("/accounts/2fa/verify/recovery/", {"code": codes[0]}).status_code == 200


def test_an_unfinished_setup_under_a_dropped_key_starts_over(settings, member, client_for):
    client = client_for("acme", "designer")
    assert client.get("/accounts/2fa/setup/").status_code == 200
    settings.TOTP_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert client.get("/accounts/2fa/setup/").status_code == 200
    device = EncryptedTOTPDevice.objects.get(user=member("acme", "designer"))
    assert len(device.seed) == 20  # readable with the current key
