"""Input validation for the workspace settings pages; business rules live in the services."""

from __future__ import annotations

from django import forms

from .models import (
    SESSION_ABSOLUTE_HOURS_MAX,
    SESSION_ABSOLUTE_HOURS_MIN,
    SESSION_IDLE_MINUTES_MAX,
    SESSION_IDLE_MINUTES_MIN,
)
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
