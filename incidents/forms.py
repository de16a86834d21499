"""Incident forms of the support console: input checks only (rules are in services)."""

from __future__ import annotations

from django import forms

from tenants.models import Tenant

from .models import Component, Impact, UpdateStatus

OPEN_STATUSES = [choice for choice in UpdateStatus.choices if choice[0] != UpdateStatus.RESOLVED]


class IncidentOpenForm(forms.Form):
    title = forms.CharField(max_length=200)
    impact = forms.ChoiceField(choices=Impact.choices)
    components = forms.MultipleChoiceField(
        choices=Component.choices, widget=forms.CheckboxSelectMultiple
    )
    affects_all = forms.BooleanField(required=False, label="Affects every workspace")
    workspaces = forms.ModelMultipleChoiceField(
        queryset=Tenant.objects.exclude(schema_name="public").order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="When it does not affect every workspace: the ones it does.",
    )
    status = forms.ChoiceField(choices=OPEN_STATUSES)
    body = forms.CharField(max_length=2000, widget=forms.Textarea, label="First update")

    def clean(self):
        cleaned = super().clean() or {}
        if not cleaned.get("affects_all") and not cleaned.get("workspaces"):
            self.add_error("workspaces", "Choose the affected workspaces, or all of them.")
        return cleaned


class IncidentUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=UpdateStatus.choices)
    body = forms.CharField(max_length=2000, widget=forms.Textarea, label="Update")


class IncidentEmailPreferenceForm(forms.Form):
    updates = forms.BooleanField(required=False, label="Email me every update of incidents")
