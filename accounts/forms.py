"""Input validation for account pages; business rules live in services."""

from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import (
    get_default_password_validators,
    validate_password,
)
from django.core.exceptions import ValidationError

from tenants.services import slug_normalise, slug_validate

from .validators import MaximumLengthValidator

# Messages users see (S105 sees "PASSWORD" in the names; these are not secrets).
PASSWORDS_DIFFER = "The two passwords do not match."
PASSWORD_HELP = (
    "At least 12 characters, at most 128. Long passphrases are welcome; no special characters "  # noqa: S105
    "are required. Very common passwords are refused."
)


def _password_max_length() -> int:
    for validator in get_default_password_validators():
        if isinstance(validator, MaximumLengthValidator):
            return validator.max_length
    return 128


def _not_too_long(value: str) -> None:
    MaximumLengthValidator(_password_max_length()).validate(value)


class NewPasswordField(forms.CharField):
    """A password being chosen. No HTML maxlength (a browser would silently cut a pasted
    passphrase); an over-long one gets the validator's clear message instead."""

    def __init__(self, **kwargs):
        kwargs.setdefault("strip", False)
        kwargs.setdefault("widget", forms.PasswordInput(attrs={"autocomplete": "new-password"}))
        kwargs.setdefault("validators", [_not_too_long])
        super().__init__(**kwargs)


class SignInForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class SignUpForm(forms.Form):
    full_name = forms.CharField(label="Your name", max_length=150)
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = NewPasswordField(help_text=PASSWORD_HELP)
    workspace_name = forms.CharField(label="Workspace name", max_length=100)
    slug = forms.CharField(
        label="Workspace address",
        max_length=60,
        help_text="Lowercase letters, digits and hyphens; your workspace lives at <address>.",
    )

    def clean_slug(self) -> str:
        slug = slug_normalise(self.cleaned_data["slug"])
        slug_validate(slug)
        return slug

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        from .models import User

        email = (cleaned.get("email") or "").lower()
        password = cleaned.get("password")
        # The same rules whether or not the address has an account: the form must not tell.
        if password and email:
            candidate = User(email=email, full_name=cleaned.get("full_name", ""))
            try:
                validate_password(password, candidate)
            except ValidationError as error:
                self.add_error("password", error)
        return cleaned


class SignUpConfirmForm(forms.Form):
    """The sign-up link's page: the workspace's address again (another if it was taken since),
    and the password when the address has an account."""

    slug = forms.CharField(
        label="Workspace address",
        max_length=60,
        help_text="Lowercase letters, digits and hyphens; your workspace lives at <address>.",
    )
    password = forms.CharField(
        label="Your account's password",
        max_length=128,
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def clean_slug(self) -> str:
        return slug_normalise(self.cleaned_data["slug"])  # the service validates it

    def __init__(self, *args, needs_password: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if needs_password:
            self.fields["password"].required = True
        else:
            del self.fields["password"]


class FindWorkspacesForm(forms.Form):
    email = forms.EmailField(max_length=254)


class _NewPasswordForm(forms.Form):
    """A new password typed twice, checked against the password rules for ``user``."""

    new_password = NewPasswordField(label="New password", help_text=PASSWORD_HELP)
    new_password_confirm = NewPasswordField(label="New password again")

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        new_password = cleaned.get("new_password")
        if new_password is None:
            return cleaned
        if new_password != cleaned.get("new_password_confirm"):
            self.add_error("new_password_confirm", PASSWORDS_DIFFER)
            return cleaned
        try:
            validate_password(new_password, self.user)
        except ValidationError as error:
            self.add_error("new_password", error)
        return cleaned


class PasswordChangeForm(_NewPasswordForm):
    current_password = forms.CharField(
        label="Current password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["current_password", "new_password", "new_password_confirm"]


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class PasswordResetForm(_NewPasswordForm):
    """Choosing a new password from a reset link."""
