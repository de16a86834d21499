"""Input validation for the Audit page and its export; bad input is a form error, not a 500."""

from __future__ import annotations

from typing import cast

from django import forms

from .events import event_choices
from .selectors import AuditFilters

EXPORT_FORMATS = (("csv", "CSV"), ("jsonl", "JSON Lines"))
DATE_ORDER_ERROR = "The end date must not be before the start date."


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label="Actor (name or email)", max_length=254, required=False)
    event_type = forms.TypedChoiceField(
        label="Event",
        choices=[("", "Any event")],
        coerce=int,
        empty_value=None,
        required=False,
    )
    target = forms.CharField(label="Target (name, id or type)", max_length=200, required=False)
    date_from = forms.DateField(
        label="From",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Empty: the last 90 days.",
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        event_type = cast(forms.TypedChoiceField, self.fields["event_type"])
        event_type.choices = [("", "Any event"), *event_choices()]

    def clean(self):
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", DATE_ORDER_ERROR)
        return cleaned

    def filters(self) -> AuditFilters:
        data = self.cleaned_data
        return AuditFilters(
            actor=data.get("actor") or "",
            event_type=data.get("event_type"),
            target=data.get("target") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )


class PageForm(forms.Form):
    """The page number travels beside the filters, not inside the filter form's fields."""

    page = forms.IntegerField(min_value=1, max_value=1_000_000, required=False)


class AuditExportForm(AuditFilterForm):
    format = forms.ChoiceField(choices=EXPORT_FORMATS, required=False)

    def clean_format(self) -> str:
        return self.cleaned_data.get("format") or "csv"
