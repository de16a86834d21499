"""Input validation for the workspace settings pages; business rules live in the services."""

from __future__ import annotations

from django import forms

from tenants.models import (
    SESSION_ABSOLUTE_HOURS_MAX,
    SESSION_ABSOLUTE_HOURS_MIN,
    SESSION_IDLE_MINUTES_MAX,
    SESSION_IDLE_MINUTES_MIN,
)

from .lifecycle import TYPED_SLUG_MISMATCH
from .settings_services import ABSOLUTE_OUT_OF_BOUNDS, IDLE_OUT_OF_BOUNDS


class WorkspaceSecurityForm(forms.Form):
    session_idle_minutes = forms.IntegerField(
        label="Sign out after inactivity (minutes)",
        min_value=SESSION_IDLE_MINUTES_MIN,
        max_value=SESSION_IDLE_MINUTES_MAX,
        error_messages={"min_value": IDLE_OUT_OF_BOUNDS, "max_value": IDLE_OUT_OF_BOUNDS},
        help_text="From 5 minutes to 24 hours (1440). Default: 120 (2 hours).",
    )
    session_absolute_hours = forms.IntegerField(
        label="Maximum session length (hours)",
        min_value=SESSION_ABSOLUTE_HOURS_MIN,
        max_value=SESSION_ABSOLUTE_HOURS_MAX,
        error_messages={"min_value": ABSOLUTE_OUT_OF_BOUNDS, "max_value": ABSOLUTE_OUT_OF_BOUNDS},
        help_text="From 1 hour to 30 days (720). Default: 12. Members then sign in again.",
    )
    first_sign_in_password_change = forms.BooleanField(
        label="Members given a temporary password by an admin must choose their own at first "
        "sign-in",
        required=False,
    )


class WorkspaceDeleteForm(forms.Form):
    """The owner types the workspace's slug, so an immediate deletion is never one stray click.

    The comparison here only spares the member an emailed code for a typo; the service checks
    the typed slug again before anything is deleted.
    """

    typed_slug = forms.CharField(
        label="Type the workspace's address name to confirm",
        max_length=40,
        strip=True,
    )

    def __init__(self, *args, slug: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.slug = slug
        self.fields["typed_slug"].help_text = f"Type {slug} exactly as shown."

    def clean_typed_slug(self) -> str:
        typed = self.cleaned_data["typed_slug"]
        if typed != self.slug:
            raise forms.ValidationError(TYPED_SLUG_MISMATCH)
        return typed
