"""Password hashing parameters: hashes made with Django's old argon2 parameters keep signing in
and are re-hashed with the current ones; a failed check costs what the costliest stored hash
costs, so it does not tell which addresses have accounts."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher, make_password
from django.test import Client

from accounts import hashers
from accounts.models import User
from conftest import PASSWORD

# Django's own Argon2 parameters before OWASP's recommendation (m=64 MiB, t=3, p=8): what
# accounts made before the change hold.
OLD_PARAMETERS = "m=65536,t=3,p=8"


class OldParametersHasher(Argon2PasswordHasher):
    time_cost = 3
    memory_cost = 65536
    parallelism = 8


def _current_parameters() -> str:
    return (
        f"m={settings.ARGON2_MEMORY_COST_KIB},t={settings.ARGON2_TIME_COST},"
        f"p={settings.ARGON2_PARALLELISM}"
    )


def _parameters(encoded: str) -> str:
    return encoded.split("$")[3]


def _give_old_hash(email: str) -> User:
    user = User.objects.get(email=email)
    user.password = make_password(PASSWORD, hasher=OldParametersHasher())
    user.save(update_fields=["password"])
    hashers.stored_parameters_forget()
    return user


def _sign_in(email: str, password: str = PASSWORD):
    client = Client(HTTP_HOST="acme.localhost", REMOTE_ADDR="198.51.100.31")
    return client.post("/accounts/sign-in/", {"email": email, "password": password})


@pytest.fixture
def spent(monkeypatch):
    """The extra hashes a failed check spends, as (memory KiB, passes, lanes)."""
    calls: list[tuple[int, int, int]] = []
    real = hashers._spend

    def recording(password, memory_kib, time_cost, parallelism):
        calls.append((memory_kib, time_cost, parallelism))
        real(password, memory_kib, time_cost, parallelism)

    monkeypatch.setattr(hashers, "_spend", recording)
    hashers.stored_parameters_forget()
    yield calls
    hashers.stored_parameters_forget()


@pytest.mark.django_db
def test_a_hash_with_the_old_parameters_signs_in_and_is_rehashed_with_the_current_ones():
    user = _give_old_hash("owner@acme.example")
    assert _parameters(user.password) == OLD_PARAMETERS

    response = _sign_in("owner@acme.example")

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$")
    assert _parameters(user.password) == _current_parameters()
    assert user.check_password(PASSWORD)


@pytest.mark.django_db
def test_a_wrong_password_leaves_the_old_hash_in_place():
    user = _give_old_hash("owner@acme.example")
    old = user.password

    response = _sign_in("owner@acme.example", "not the password at all")

    assert response.status_code == 400  # the form again, with the one sign-in error
    user.refresh_from_db()
    assert user.password == old


@pytest.mark.django_db
def test_while_an_old_hash_is_stored_a_failed_sign_in_for_an_unknown_address_costs_as_much(spent):
    _give_old_hash("owner@acme.example")

    response = _sign_in("nobody@acme.example")

    assert response.status_code == 400  # the form again, with the one sign-in error
    # The old hash costs 65536 KiB x 3 passes; the unknown address spent one hash at the
    # current parameters already, the pad spends the rest at the old memory size.
    current = settings.ARGON2_MEMORY_COST_KIB * settings.ARGON2_TIME_COST
    assert spent == [(65536, -(-(65536 * 3 - current) // 65536), 8)]


@pytest.mark.django_db
def test_while_an_old_hash_is_stored_a_wrong_password_on_a_current_hash_costs_as_much(spent):
    _give_old_hash("owner@acme.example")

    _sign_in("manager@acme.example", "not the password at all")

    current = settings.ARGON2_MEMORY_COST_KIB * settings.ARGON2_TIME_COST
    assert spent == [(65536, -(-(65536 * 3 - current) // 65536), 8)]


@pytest.mark.django_db
def test_a_wrong_password_on_the_old_hash_itself_needs_no_pad(spent):
    _give_old_hash("owner@acme.example")

    _sign_in("owner@acme.example", "not the password at all")

    assert spent == []


@pytest.mark.django_db
def test_once_every_hash_has_the_current_parameters_failures_are_not_padded(spent):
    response = _sign_in("nobody@acme.example")

    assert response.status_code == 400  # the form again, with the one sign-in error
    assert spent == []


def test_a_failed_check_of_a_cheaper_hash_is_padded_up_to_the_current_parameters(spent, settings):
    settings.ARGON2_TIME_COST = 2
    settings.ARGON2_MEMORY_COST_KIB = 1024
    cheaper = make_password("a long enough password", hasher=_hasher(memory=512, time=1))
    current = hashers.Argon2idPasswordHasher()

    assert not current.verify("another password", cheaper)
    current.harden_runtime("another password", cheaper)

    # 1024 x 2 current against 512 x 1 stored: 1536 KiB-passes missing, two passes at 1024.
    assert spent == [(1024, 2, settings.ARGON2_PARALLELISM)]


def test_a_failed_check_of_a_costlier_hash_is_not_padded_by_the_hasher(spent, settings):
    settings.ARGON2_TIME_COST = 1
    settings.ARGON2_MEMORY_COST_KIB = 1024
    costlier = make_password("a long enough password", hasher=_hasher(memory=2048, time=2))

    hashers.Argon2idPasswordHasher().harden_runtime("another password", costlier)

    assert spent == []


def _hasher(*, memory: int, time: int) -> Argon2PasswordHasher:
    hasher = Argon2PasswordHasher()
    hasher.memory_cost = memory
    hasher.time_cost = time
    hasher.parallelism = 1
    return hasher
