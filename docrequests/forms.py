"""Input checks of the document-request pages; the business rules are the services'."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from .models import MAX_LIFETIME_DAYS, MESSAGE_MAX_LENGTH, MIN_LIFETIME_DAYS
from .services import ACCEPTABLE_TYPES, TYPE_NAMES, ItemSpec

ITEMS_HELP = (
    "One document per line. Start a line with “?” for an optional document, e.g. "
    "“Passport (both pages)” or “? Last payslip”."
)


class RequestCreateForm(forms.Form):
    company_id = forms.TypedChoiceField(label="Company", coerce=int)
    recipients = forms.CharField(
        label="Contacts' email addresses",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One address per line; each gets their own email with the link.",
        max_length=5_000,
    )
    title = forms.CharField(max_length=200)
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=MESSAGE_MAX_LENGTH
    )
    items = forms.CharField(
        label="Documents asked for",
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=ITEMS_HELP,
        max_length=20_000,
    )
    accepted_types = forms.MultipleChoiceField(
        label="Accepted kinds of file",
        choices=[(kind, TYPE_NAMES[kind]) for kind in ACCEPTABLE_TYPES],
        widget=forms.CheckboxSelectMultiple,
        initial=["pdf", "jpg", "png"],
    )
    max_size_mb = forms.IntegerField(label="Largest file (MB)", initial=10, min_value=1)
    lifetime_days = forms.IntegerField(
        label="Link lifetime (days)",
        initial=30,
        help_text=f"From {MIN_LIFETIME_DAYS} to {MAX_LIFETIME_DAYS} days.",
    )
    require_code = forms.BooleanField(
        label="The client must confirm a code emailed to them", required=False, initial=True
    )

    def __init__(self, *args, company_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        company_field = self.fields["company_id"]
        assert isinstance(company_field, forms.TypedChoiceField)  # noqa: S101 - declared above
        company_field.choices = [("", "Choose a company"), *company_choices]

    def clean_recipients(self) -> list[str]:
        lines = self.cleaned_data["recipients"].replace(",", "\n").splitlines()
        addresses = [line.strip() for line in lines if line.strip()]
        field = forms.EmailField()
        for address in addresses:
            try:
                field.clean(address)
            except ValidationError as error:
                raise ValidationError(f"“{address[:100]}” is not an email address.") from error
        return addresses

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        specs = []
        for line in data["items"].splitlines():
            text = line.strip()
            if not text:
                continue
            optional = text.startswith("?")
            description = text.lstrip("?").strip()[:300]
            if description:
                specs.append(
                    ItemSpec(
                        description=description,
                        required=not optional,
                        accepted_types=tuple(data["accepted_types"]),
                        max_size_mb=data["max_size_mb"],
                    )
                )
        return {
            "company_id": data["company_id"],
            "recipients": data["recipients"],
            "title": data["title"],
            "message": data["message"],
            "items": specs,
            "lifetime_days": data["lifetime_days"],
            "require_code": data["require_code"],
        }


class ExtendForm(forms.Form):
    days = forms.IntegerField(label="Extend by (days)", min_value=1, max_value=MAX_LIFETIME_DAYS)


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    comment = forms.CharField(
        required=False, max_length=2_000, widget=forms.Textarea(attrs={"rows": 2})
    )


class EmailForm(forms.Form):
    email = forms.EmailField(label="Your email address", max_length=254)


class CodeForm(forms.Form):
    code = forms.CharField(label="The 6-digit code from the email", max_length=12)


class UploadForm(forms.Form):
    file = forms.FileField()
