"""Input validation for the console and the workspace's support settings."""

from __future__ import annotations

from django import forms

from .services import GRANT_HOURS_MAX, GRANT_HOURS_MIN

GRANT_WINDOWS = [
    (1, "1 hour"),
    (4, "4 hours"),
    (24, "1 day"),
    (72, "3 days"),
    (GRANT_HOURS_MAX, "7 days"),
]


class ConsoleSignInForm(forms.Form):
    email = forms.EmailField()
    password = forms.CharField(
        max_length=128, widget=forms.PasswordInput(render_value=False), strip=False
    )
    code = forms.CharField(
        label="Authenticator code",
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class GrantForm(forms.Form):
    hours = forms.TypedChoiceField(
        label="For how long", choices=GRANT_WINDOWS, coerce=int, initial=24
    )
    allow_write = forms.BooleanField(
        label="Allow support to make changes (otherwise read-only)", required=False
    )
    ticket_ref = forms.CharField(label="Ticket reference (optional)", max_length=64, required=False)

    def clean_hours(self):
        hours = self.cleaned_data["hours"]
        if not GRANT_HOURS_MIN <= hours <= GRANT_HOURS_MAX:
            raise forms.ValidationError("Choose a window between 1 hour and 7 days.")
        return hours


class ImpersonationStartForm(forms.Form):
    acting_as = forms.TypedChoiceField(label="Act as member", coerce=int, choices=())
    reason = forms.CharField(
        label="Reason", max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )
    ticket_ref = forms.CharField(label="Ticket reference", max_length=64)
    write = forms.BooleanField(label="Ask for write access", required=False)

    def __init__(self, *args, targets, **kwargs):
        super().__init__(*args, **kwargs)
        acting_as = self.fields["acting_as"]
        assert isinstance(acting_as, forms.TypedChoiceField)  # noqa: S101 - narrows the type
        acting_as.choices = targets


class WorkspaceRestoreForm(forms.Form):
    """Bringing a cancelled or archived workspace back; the reason goes into the audit."""

    reason = forms.CharField(
        label="Reason for restoring", max_length=450, widget=forms.Textarea(attrs={"rows": 3})
    )
    ticket_ref = forms.CharField(label="Ticket reference", max_length=40)
