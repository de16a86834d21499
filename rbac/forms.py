"""Input validation for the member pages; the rules (who may grant what) live in services."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html

from accounts.twofactor.forms import EMAIL_CODE_FORMAT, SixDigitCodeField
from kernel.roles import CUSTOMER_ROLES, Role

from .passwords import TEMPORARY_PASSWORD_TYPE_ONE
from .services import COMPANY_REQUIRED

_ROLE_HELP = "You can give only roles whose permissions you hold yourself."


def _role_choices(roles) -> list[tuple[str, str]]:
    return [(Role(role).value, Role(role).label) for role in roles]


class _RoleAndCompanyForm(forms.Form):
    """A role, and for customer roles the company they belong to."""

    role = forms.ChoiceField(help_text=_ROLE_HELP)
    company = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        help_text="Customers and company administrators see only this company's records.",
    )

    def __init__(self, *args, roles, companies, show_company: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["role"]).choices = _role_choices(roles)
        if show_company:
            company = cast(forms.TypedChoiceField, self.fields["company"])
            company.choices = [("", "— staff, no company —"), *companies]
        else:
            del self.fields["company"]

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        role = cleaned.get("role")
        if "company" not in self.fields:
            return cleaned
        if role in CUSTOMER_ROLES and cleaned.get("company") is None:
            self.add_error("company", COMPANY_REQUIRED)
        elif role and role not in CUSTOMER_ROLES:
            cleaned["company"] = None
        return cleaned


class InviteForm(_RoleAndCompanyForm):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    field_order = ["email", "role", "company"]


class RoleChangeForm(_RoleAndCompanyForm):
    pass


class InvitationNewAccountForm(forms.Form):
    """Accepting as someone without an account: the same password rules as sign-up."""

    full_name = forms.CharField(label="Your name", max_length=150)
    password = forms.CharField(
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html,
    )


class InvitationExistingAccountForm(forms.Form):
    """Accepting with an existing account: its password proves it is theirs."""

    password = forms.CharField(
        label="Your password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class OwnershipTransferChooseForm(forms.Form):
    member = forms.TypedChoiceField(coerce=int, label="New owner")

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["member"]).choices = [
            (m.pk, f"{m.user.full_name or m.user.email} ({m.user.email}, {m.get_role_display()})")
            for m in candidates
        ]


class OwnershipTransferConfirmForm(OwnershipTransferChooseForm):
    """The confirmation step before an irreversible hand-over.

    Each entry of ``confirmation_fields`` is one proof the owner gives: the current password
    and the emailed one-time code (whose check, in the view, spends it).
    """

    confirmation_fields = ("password", "code")

    password = forms.CharField(
        label="Your password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Confirm that it is really you handing the workspace over.",
    )
    understood = forms.BooleanField(
        label="I understand that I will become an admin and can no longer delete the "
        "workspace, manage billing or transfer ownership.",
    )
    # Checked by the view with accounts.twofactor.action_codes.action_code_confirm (it is
    # bound to this owner and the chosen member, and counted by the sign-in defence).
    code = SixDigitCodeField(
        label="Confirmation code from your email",
        format_message=EMAIL_CODE_FORMAT,
        help_text="Press “Email me a confirmation code” above; the code works once, only for "
        "this transfer, for 10 minutes.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["member"].widget = forms.HiddenInput()
        self.fields["code"].widget.attrs.pop("autofocus", None)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(PASSWORD_INCORRECT)
        return password


PASSWORD_INCORRECT = "The password is incorrect."  # noqa: S105 (a message, not a secret)


class TemporaryPasswordForm(forms.Form):
    """Generate a temporary password, or type one (the service checks it against the password
    rules and puts their messages next to the field)."""

    GENERATE = "generate"
    TYPE = "type"

    mode = forms.ChoiceField(
        label="Temporary password",
        choices=[
            (GENERATE, "Generate a strong one for me (shown once, on the next page)"),
            (TYPE, "I will type one"),
        ],
        initial=GENERATE,
        widget=forms.RadioSelect,
    )
    password = forms.CharField(
        label="The password you will give them",
        required=False,
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html,
    )

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("mode") == self.TYPE and not cleaned.get("password"):
            self.add_error("password", TEMPORARY_PASSWORD_TYPE_ONE)
        return cleaned
