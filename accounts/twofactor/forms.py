"""Input validation for the two-factor pages; the rules live in ``services``."""

from __future__ import annotations

from django import forms

from . import crypto

CODE_FORMAT = "Enter the 6 digits your authenticator app shows."
EMAIL_CODE_FORMAT = "Enter the 6-digit code from the email."


def _digits_only(value: str) -> str:
    return "".join(value.split()).replace("-", "")


class SixDigitCodeField(forms.CharField):
    """A 6-digit one-time code; spaces and dashes people type are ignored."""

    def __init__(self, *, format_message: str = CODE_FORMAT, **kwargs):
        self.format_message = format_message
        kwargs.setdefault("max_length", 16)
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={
                    "inputmode": "numeric",
                    "autocomplete": "one-time-code",
                    "pattern": r"[0-9 \-]*",
                    "autofocus": True,
                    "spellcheck": "false",
                }
            ),
        )
        super().__init__(**kwargs)

    def clean(self, value):
        value = _digits_only(super().clean(value) or "")
        if len(value) != crypto.TOTP_DIGITS or not value.isascii() or not value.isdigit():
            raise forms.ValidationError(self.format_message, code="format")
        return value


class TotpCodeForm(forms.Form):
    code = SixDigitCodeField(label="Authentication code")


class RecoveryCodeForm(forms.Form):
    code = forms.CharField(
        label="Recovery code",
        max_length=32,
        help_text="One of the codes you saved when you set up two-factor authentication, "
        "like abcd-efgh-jkmn.",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autofocus": True, "spellcheck": "false"}
        ),
    )


class EnrollmentConfirmForm(forms.Form):
    """The first code from the app; the password too when the session is not fresh."""

    current_password = forms.CharField(
        label="Your current password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = SixDigitCodeField(label="6-digit code from the app")

    def __init__(self, *args, password_needed: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not password_needed:
            del self.fields["current_password"]
        else:
            self.fields["code"].widget.attrs.pop("autofocus", None)


class ReauthenticateForm(forms.Form):
    """Password and a second factor again, before changing 2FA."""

    current_password = forms.CharField(
        label="Your current password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label="Code from your authenticator app, or a recovery code",
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "spellcheck": "false"}),
    )


class ActionCodeForm(forms.Form):
    code = SixDigitCodeField(label="Confirmation code", format_message=EMAIL_CODE_FORMAT)
