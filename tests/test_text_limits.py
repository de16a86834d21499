"""Every free-text column of every app has a length limit (kernel.text), and the services' one
check enforces it and refuses what PostgreSQL cannot store. The checks of the rule itself are
pure (no database); the services' own are at the end."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
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

# Every app of ours, whenever one is added: the top-level packages of this repository.
PROJECT_ROOT = Path(settings.BASE_DIR).resolve()
# TextFields nobody types into, with why they need no limit.
UNLIMITED_TEXT = {
    # Ciphertext of a TOTP seed, written only by accounts.twofactor.crypto.
    "accounts.EncryptedTOTPDevice.encrypted_seed",
    # Written only by exports.services, from its message constants and an error's class name.
    "exports.ExportJob.error_message",
    # The API's own serialised response, stored by api.idempotency for a retried POST.
    "api.IdempotentRequest.body",
}


def _text_fields():
    for config in apps.get_app_configs():
        if Path(config.path).resolve().parent != PROJECT_ROOT:
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


def _form_text_fields():
    """Every text field of every form class our apps define (ModelForms included: a field
    from a model column carries the column's limit)."""
    import importlib
    import inspect

    from django import forms

    for config in apps.get_app_configs():
        app_path = Path(config.path).resolve()
        if app_path.parent != PROJECT_ROOT:
            continue
        for source in sorted(app_path.rglob("*.py")):
            parts = source.relative_to(PROJECT_ROOT).with_suffix("").parts
            if {"tests", "migrations", "management"} & set(parts):
                continue
            module = importlib.import_module(".".join(parts))
            for name, form in vars(module).items():
                if not (inspect.isclass(form) and issubclass(form, forms.BaseForm)):
                    continue
                if form.__module__ != module.__name__:
                    continue
                for field_name, field in getattr(form, "base_fields", {}).items():
                    if isinstance(field, forms.CharField):
                        yield f"{module.__name__}.{name}.{field_name}", field


def _limits_length(field) -> bool:
    from django.core.validators import MaxLengthValidator

    if field.max_length is not None:
        return True
    return any(
        isinstance(validator, MaxLengthValidator)
        or "too_long" in getattr(validator, "__name__", "")
        for validator in field.validators
    )


def test_every_text_field_of_every_form_declares_a_length_limit():
    """A form field without a limit lets a visitor send megabytes into a hash, a comparison
    or a column check (the support console's password had none)."""
    found = list(_form_text_fields())
    assert len(found) > 50, "the forms were not found"
    assert sorted(name for name, field in found if not _limits_length(field)) == []


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


# --- The services outside the shop (the shop's: shop/tests/test_unstorable_input.py) -----------


@pytest.mark.django_db
def test_an_account_name_or_address_that_cannot_be_stored_is_refused_whoever_creates_it():
    from accounts.models import User

    with pytest.raises(ValidationError) as refused:
        User.objects.create_user(
            email="long.name@example.com", password="irrelevant", full_name="N" * 151
        )
    assert refused.value.message_dict == {"full_name": [text_too_long_message(150, 151)]}
    with pytest.raises(ValidationError) as refused:
        User.objects.create_user(email="nul\x00@example.com", full_name="Nul")
    assert refused.value.message_dict == {"email": [TEXT_NUL]}
    assert not User.objects.filter(email__in=["long.name@example.com"]).exists()


@pytest.mark.django_db
def test_a_workspace_name_that_cannot_be_stored_is_refused_before_any_schema_is_made():
    from tenants.models import Tenant
    from tenants.services import tenant_provision

    for name, message in (("W" * 101, text_too_long_message(100, 101)), ("A\x00B", TEXT_NUL)):
        with pytest.raises(ValidationError) as refused:
            tenant_provision(slug="unstorable-name", name=name)
        assert refused.value.message_dict == {"name": [message]}
    assert not Tenant.objects.filter(slug="unstorable-name").exists()


@pytest.mark.django_db
def test_a_support_grant_or_session_refuses_text_it_would_have_cut_or_could_not_store(acme):
    from rbac.models import Membership
    from support import services
    from support.models import ImpersonationSession, SupportAccessGrant
    from support.tests.factories import grant_for, owner_membership, support_agent

    with pytest.raises(ValidationError) as refused:
        services.grant_create(
            tenant=acme,
            actor=owner_membership(acme),
            hours=4,
            allow_write=False,
            ticket_ref="T" * 65,
        )
    assert refused.value.message_dict == {"ticket_ref": [text_too_long_message(64, 65)]}
    assert not SupportAccessGrant.objects.filter(ticket_ref__startswith="TTTT").exists()
    grant_for(acme)
    member = Membership.objects.get(tenant=acme, role="manager")
    with pytest.raises(ValidationError) as refused:
        services.impersonation_start(
            agent=support_agent(),
            tenant=acme,
            acting_as_id=member.pk,
            reason="R" * 501,
            ticket_ref="SUP\x00-1",
            write=False,
        )
    assert refused.value.message_dict == {
        "reason": [text_too_long_message(500, 501)],
        "ticket_ref": [TEXT_NUL],
    }
    assert not ImpersonationSession.objects.exists()


@pytest.mark.django_db
def test_an_invitation_to_a_valid_address_longer_than_its_column_is_refused(acme):
    from rbac import services
    from rbac.models import Invitation, Membership

    owner = Membership.objects.get(tenant=acme, role="owner")
    address = f"{'a' * 60}@{'b' * 60}.{'c' * 60}.{'d' * 60}.{'e' * 10}.example"  # valid: 262
    with pytest.raises(ValidationError) as refused:
        services.membership_invite(tenant=acme, actor=owner, email=address, role="sales")
    assert refused.value.message_dict == {"email": [text_too_long_message(254, len(address))]}
    assert not Invitation.objects.filter(email=address).exists()
