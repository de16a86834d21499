"""Every free-text column of every app has a length limit (kernel.text), and the services' one
check enforces it and refuses what PostgreSQL cannot store. Pure: no database."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models

from kernel.text import (
    TEXT_NUL,
    TEXT_UNSTORABLE,
    text_fields_check,
    text_storable,
    text_too_long_message,
)
from shop.models import NOTES_MAX_LENGTH, Company

OUR_APPS = {"kernel", "tenants", "audit", "accounts", "rbac", "shop", "exports", "support"}
# TextFields nobody types into, with why they need no limit.
UNLIMITED_TEXT = {
    # Ciphertext of a TOTP seed, written only by accounts.twofactor.crypto.
    "accounts.EncryptedTOTPDevice.encrypted_seed",
    # Written only by exports.services, from its message constants and an error's class name.
    "exports.ExportJob.error_message",
}


def _text_fields():
    for config in apps.get_app_configs():
        if config.name.split(".")[0] not in OUR_APPS:
            continue
        for model in config.get_models():
            for field in model._meta.concrete_fields:
                if isinstance(field, models.TextField):
                    yield f"{model._meta.label}.{field.name}", field


def test_every_free_text_column_declares_a_length_limit():
    unlimited = sorted(
        name
        for name, field in _text_fields()
        if field.max_length is None and name not in UNLIMITED_TEXT
    )
    assert unlimited == []


def test_the_list_of_unlimited_columns_names_only_columns_that_exist():
    assert {name for name, _ in _text_fields()} >= UNLIMITED_TEXT


def test_the_service_check_names_each_field_with_its_reason():
    company = Company(
        name="Fine",
        phone="\x00",
        site_address="\udfff",
        notes="n" * (NOTES_MAX_LENGTH + 1),
        email="e" * 300 + "\x00",
    )
    with pytest.raises(ValidationError) as refused:
        text_fields_check(company)
    assert refused.value.message_dict == {
        "phone": [TEXT_NUL],
        "site_address": [TEXT_UNSTORABLE],
        "notes": [text_too_long_message(NOTES_MAX_LENGTH, NOTES_MAX_LENGTH + 1)],
        "email": [TEXT_NUL, text_too_long_message(254, 301)],
    }


def test_the_service_check_passes_text_postgresql_stores_even_when_odd():
    company = Company(
        name="\u202eRTL\u202c 👍🏽 مرحبا \ufffd \x01\x1b", notes="n" * NOTES_MAX_LENGTH
    )
    text_fields_check(company)


def test_the_service_check_can_look_at_some_fields_only():
    text_fields_check(Company(name="ok", notes="\x00"), fields=["name"])


def test_storable_text_excludes_nul_and_lone_surrogates_only():
    assert [text_storable(v) for v in ("", "a\x00", "\ud800", "\udfff", "\ufffd", "😀")] == [
        True,
        False,
        False,
        False,
        True,
        True,
    ]


def test_too_long_reads_as_the_form_field_says_it():
    assert text_too_long_message(10, 12) == (
        "Ensure this value has at most 10 characters (it has 12)."
    )
    assert str(TEXT_NUL) == "Null characters are not allowed."
