"""The console's form for publishing a change of the sub-processor list."""

from __future__ import annotations

from django import forms

from .models import SubProcessorChange
from .services import ChangeInput


class ChangeForm(forms.Form):
    kind = forms.ChoiceField(choices=SubProcessorChange.Kind.choices, label="Change")
    name = forms.CharField(max_length=100, label="Vendor")
    purpose = forms.CharField(max_length=300, required=False)
    data_involved = forms.CharField(max_length=300, required=False, label="Data involved")
    region = forms.CharField(max_length=100, required=False)
    note = forms.CharField(max_length=300, required=False, label="Note for customers")
    effective_on = forms.DateField(
        label="Effective on",
        help_text="YYYY-MM-DD. At least 30 days ahead while any workspace is on an annual plan.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def change_input(self) -> ChangeInput:
        data = self.cleaned_data
        return ChangeInput(
            kind=data["kind"],
            name=data["name"],
            purpose=data["purpose"],
            data_involved=data["data_involved"],
            region=data["region"],
            note=data["note"],
            effective_on=data["effective_on"],
        )
