"""The token creation form on the member's API tokens page (input shape only; the rules are
``api.services``')."""

from __future__ import annotations

from django import forms

from kernel.capabilities import CAPABILITY_LABELS, CAPABILITY_ORDER

EXPIRY_CHOICES = [("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year")]


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name", help_text="What the token is for.")
    read_only = forms.BooleanField(
        required=False, label="Read-only: every read permission you have, nothing else"
    )
    scopes = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Or choose permissions"
    )
    expires_days = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES, coerce=int, initial="90", label="Expires after"
    )
    code = forms.CharField(
        required=False,
        max_length=20,
        label="Code from your authenticator app",
        help_text="Asked for when you signed in more than a few minutes ago.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args, held: frozenset[str], ask_code: bool, **kwargs):
        super().__init__(*args, **kwargs)
        scopes = self.fields["scopes"]
        assert isinstance(scopes, forms.MultipleChoiceField)  # noqa: S101 - declared above
        scopes.choices = [
            (capability, f"{capability}: {CAPABILITY_LABELS[capability]}")
            for capability in CAPABILITY_ORDER
            if capability in held
        ]
        if not ask_code:
            del self.fields["code"]
