"""Input validation for account pages; business rules live in services."""

from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from tenants.services import slug_validate


class SignInForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))
    password = forms.CharField(
        max_length=128, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class SignUpForm(forms.Form):
    full_name = forms.CharField(label="Your name", max_length=150)
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters. Long passphrases are welcome.",
    )
    workspace_name = forms.CharField(label="Workspace name", max_length=100)
    slug = forms.CharField(
        label="Workspace address",
        max_length=60,
        help_text="Lowercase letters, digits and hyphens; your workspace lives at <address>.",
    )

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        slug_validate(slug)
        return slug

    def clean(self):
        cleaned = super().clean()
        from .models import User

        email = (cleaned.get("email") or "").lower()
        password = cleaned.get("password")
        if password and email and not User.objects.filter(email=email).exists():
            try:
                validate_password(password, User(email=email, full_name=cleaned.get("full_name", "")))
            except ValidationError as error:
                self.add_error("password", error)
        return cleaned


class FindWorkspacesForm(forms.Form):
    email = forms.EmailField(max_length=254)
