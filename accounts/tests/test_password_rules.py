"""Password rules (NIST SP 800-63B): argon2id, at least 12 and at most 128 characters, common
passwords refused, no composition rules - with the form errors a person sees."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client

from accounts.forms import PasswordResetForm, SignUpForm
from accounts.models import User
from tests.test_deployment import production_environment, run_python

pytestmark = pytest.mark.django_db

TOO_SHORT = "This password is too short. It must contain at least 12 characters."
TOO_LONG = "Use at most 128 characters."
TOO_COMMON = "This password is too common."
PASSPHRASE_128 = ("correct horse battery staple " * 5)[:128]


def test_production_hashes_with_argon2id_first_at_owasp_strength_or_more():
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'hashers': s.PASSWORD_HASHERS, 'time': s.ARGON2_TIME_COST,"
        "'memory': s.ARGON2_MEMORY_COST_KIB,"
        "'validators': [v['NAME'].rsplit('.', 1)[1] for v in s.AUTH_PASSWORD_VALIDATORS]}))"
    )
    result = run_python(code, production_environment())
    assert result.returncode == 0, result.stderr
    production = json.loads(result.stdout)
    assert production["hashers"][0] == "accounts.hashers.Argon2idPasswordHasher"
    # OWASP's argon2id floor is m=19 MiB, t=2.
    assert production["time"] >= 2
    assert production["memory"] >= 19 * 1024
    # Length, common passwords and similarity to the account; no composition rule.
    assert production["validators"] == [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "MaximumLengthValidator",
    ]


def test_stored_passwords_are_argon2id_hashes():
    user = User.objects.create_user("hash@example.com", PASSPHRASE_128, full_name="Hash")
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password(PASSPHRASE_128)
    assert settings.PASSWORD_HASHERS[0] == "accounts.hashers.Argon2idPasswordHasher"


def _reset_form_errors(password: str) -> list[str]:
    user = User(email="rules@example.com", full_name="Rita Rules")
    form = PasswordResetForm(
        {"new_password": password, "new_password_confirm": password}, user=user
    )
    form.is_valid()
    return form.errors.get("new_password", [])


@pytest.mark.parametrize(
    ("password", "errors"),
    [
        ("eleven char", [TOO_SHORT]),
        ("twelve chars", []),  # exactly the minimum
        (PASSPHRASE_128, []),  # a 128-character passphrase
        (PASSPHRASE_128 + "x", [TOO_LONG]),  # 129
        ("password1234", [TOO_COMMON]),
        ("qwertyuiop123", [TOO_COMMON]),
        ("alllowercaseletters", []),  # no composition rules
        ("🔒 émoji passphrase ünïcode", []),  # any characters
        ("rules@example.com", ["The password is too similar to the email."]),
    ],
)
def test_each_password_rule_with_its_form_error(password, errors):
    assert _reset_form_errors(password) == errors


def test_new_password_fields_have_no_html_maxlength_so_nothing_is_cut_silently():
    form = PasswordResetForm(user=User(email="x@example.com"))
    assert "maxlength" not in str(form["new_password"])


def test_mismatched_confirmation_is_an_error_on_the_confirmation_field():
    form = PasswordResetForm(
        {"new_password": "one long passphrase", "new_password_confirm": "another one"},
        user=User(email="x@example.com"),
    )
    assert not form.is_valid()
    assert form.errors == {"new_password_confirm": ["The two passwords do not match."]}


def _sign_up(password: str):
    return Client().post(
        "/signup/",
        {
            "full_name": "Pat Rules",
            "email": "pat@rules.example",
            "password": password,
            "workspace_name": "Rules Signs",
            "slug": "rules-signs",
        },
        HTTP_HOST="localhost",
    )


def test_sign_up_refuses_a_129_character_password_with_the_error_next_to_the_field():
    response = _sign_up(PASSPHRASE_128 + "x")
    assert response.status_code == 400
    assert b'id="id_password_error"' in response.content
    assert TOO_LONG.encode() in response.content
    assert not User.objects.filter(email="pat@rules.example").exists()


def test_sign_up_form_accepts_a_128_character_passphrase():
    form = SignUpForm(
        {
            "full_name": "Pat Rules",
            "email": "pat@rules.example",
            "password": PASSPHRASE_128,
            "workspace_name": "Rules Signs",
            "slug": "rules-signs",
        }
    )
    assert form.is_valid(), form.errors


def test_sign_up_refuses_a_short_password_with_the_error_next_to_the_field():
    response = _sign_up("short one")
    assert response.status_code == 400
    assert TOO_SHORT.encode() in response.content
