"""Input validation for the shop pages; business rules live in ``shop.services``.

Choice fields get their querysets from the selectors, so a form can only ever offer (and
accept) records the viewer may see: a forged id of another company's quote is just an
invalid choice.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User

from . import selectors, services, storage
from .models import (
    ADDRESS_MAX_LENGTH,
    NOTES_MAX_LENGTH,
    Company,
    Contact,
    Invoice,
    Order,
    Quote,
    StoredFile,
)


def _model_choice(form: forms.BaseForm, name: str) -> forms.ModelChoiceField[Any]:
    """The form's own copy of its model choice field ``name`` (``form.fields`` is typed as
    holding plain fields), to narrow its queryset to what the viewer may see."""
    return cast("forms.ModelChoiceField[Any]", form.fields[name])


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class CompanyForm(forms.ModelForm):
    class Meta:
        model = Company
        fields = ["name", "email", "phone", "billing_address", "site_address", "notes"]
        widgets = {
            "billing_address": forms.Textarea(attrs={"rows": 3}),
            "site_address": forms.Textarea(attrs={"rows": 3}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["name", "email", "phone", "role_title"]


class QuoteForm(forms.Form):
    company = forms.ModelChoiceField(queryset=Company.objects.none())
    title = forms.CharField(max_length=200)
    tax_rate = forms.DecimalField(
        label="Tax rate (%)",
        max_digits=5,
        decimal_places=2,
        initial=Decimal("0"),
        validators=[services.validate_tax_rate],
    )
    valid_until = forms.DateField(required=False, widget=_date_input())
    notes = forms.CharField(
        required=False, max_length=NOTES_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        _model_choice(self, "company").queryset = selectors.company_list(viewer=viewer)

    @classmethod
    def initial_for(cls, quote: Quote) -> dict:
        return {
            "company": quote.company_id,
            "title": quote.title,
            "tax_rate": quote.tax_rate,
            "valid_until": quote.valid_until,
            "notes": quote.notes,
        }


class QuoteLineForm(forms.Form):
    description = forms.CharField(max_length=500)
    quantity = forms.DecimalField(
        max_digits=9, decimal_places=2, validators=[services.validate_quantity]
    )
    unit_price = forms.DecimalField(
        max_digits=10, decimal_places=2, validators=[services.validate_unit_price]
    )


class BaseQuoteLineFormSet(forms.BaseFormSet):
    """Bound without ``initial``: a row the user left (or made) entirely blank is skipped."""

    def _construct_form(self, i, **kwargs):
        kwargs["empty_permitted"] = True
        # A private hook of Django's BaseFormSet that django-stubs does not declare.
        return super()._construct_form(i, **kwargs)  # type: ignore[misc]

    def line_inputs(self) -> list[services.LineInput]:
        """The filled-in lines in order; blank extra rows and rows marked deleted are skipped."""
        lines = []
        for form in self.forms:
            # _should_delete_form: Django's own test for the DELETE box, absent from django-stubs.
            deleted = self.can_delete and self._should_delete_form(form)  # type: ignore[attr-defined]
            if not form.has_changed() or deleted:
                continue
            data = form.cleaned_data
            lines.append(
                services.LineInput(
                    description=data["description"],
                    quantity=data["quantity"],
                    unit_price=data["unit_price"],
                )
            )
        return lines


# formset_factory returns a subclass of ``formset``; django-stubs types it as the base class.
QuoteLineFormSet = cast(
    type[BaseQuoteLineFormSet],
    forms.formset_factory(
        QuoteLineForm,
        formset=BaseQuoteLineFormSet,
        extra=1,
        can_delete=True,
        max_num=services.MAX_QUOTE_LINES,
        validate_max=True,
        absolute_max=services.MAX_QUOTE_LINES,
    ),
)


def quote_line_initial(quote: Quote) -> list[dict]:
    return [
        {"description": line.description, "quantity": line.quantity, "unit_price": line.unit_price}
        for line in quote.lines.all()
    ]


class _AssigneeChoiceField(forms.ModelChoiceField):
    """An order's assignee, shown by name (or email when there is none)."""

    def label_from_instance(self, obj: User) -> str:
        return f"{obj.full_name or obj.email}"


class OrderForm(forms.Form):
    assignee = _AssigneeChoiceField(queryset=None, required=False, empty_label="Not assigned yet")
    due_date = forms.DateField(required=False, widget=_date_input())
    site_address = forms.CharField(
        required=False, max_length=ADDRESS_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3})
    )
    notes = forms.CharField(
        label="Job notes",
        required=False,
        max_length=NOTES_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For the team and the installer; customers do not see these.",
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        _model_choice(self, "assignee").queryset = services.order_assignable_users(tenant=tenant)

    @classmethod
    def initial_for(cls, order: Order) -> dict:
        return {
            "assignee": order.assignee_id,
            "due_date": order.due_date,
            "site_address": order.site_address,
            "notes": order.notes,
        }


class OrderStatusForm(forms.Form):
    status = forms.ChoiceField(choices=Order.Status.choices)


class InvoiceForm(forms.Form):
    issue_date = forms.DateField(widget=_date_input())
    due_date = forms.DateField(widget=_date_input())
    notes = forms.CharField(
        required=False, max_length=NOTES_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3})
    )

    @classmethod
    def initial_new(cls) -> dict:
        today = timezone.localdate()
        return {"issue_date": today, "due_date": today + timedelta(days=30)}

    @classmethod
    def initial_for(cls, invoice: Invoice) -> dict:
        return {
            "issue_date": invoice.issue_date,
            "due_date": invoice.due_date,
            "notes": invoice.notes,
        }

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what Form.clean returns
        issue, due = cleaned.get("issue_date"), cleaned.get("due_date")
        if issue and due and due < issue:
            self.add_error("due_date", services.INVOICE_DUE_BEFORE_ISSUE)
        return cleaned


class _QuoteChoiceField(forms.ModelChoiceField):
    """A quote, shown by number and title."""

    def label_from_instance(self, obj: Quote) -> str:
        return f"{obj.number} · {obj.title}"


class _OrderChoiceField(forms.ModelChoiceField):
    """An order, shown by number and its quote's title."""

    def label_from_instance(self, obj: Order) -> str:
        return f"{obj.number} · {obj.quote.title}"


class FileUploadForm(forms.Form):
    upload = forms.FileField(label="File", help_text="")
    kind = forms.ChoiceField(choices=StoredFile.Kind.choices, initial=StoredFile.Kind.ARTWORK)
    company = forms.ModelChoiceField(queryset=Company.objects.none())
    quote = _QuoteChoiceField(queryset=Quote.objects.none(), required=False, empty_label="No quote")
    order = _OrderChoiceField(queryset=Order.objects.none(), required=False, empty_label="No order")

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        # The companies the viewer may file under: the company field's choices.
        self.companies: QuerySet[Company] = selectors.company_list(viewer=viewer)
        _model_choice(self, "company").queryset = self.companies
        _model_choice(self, "quote").queryset = selectors.quote_list(viewer=viewer, sort="number")
        _model_choice(self, "order").queryset = selectors.order_list(viewer=viewer, sort="number")
        limit = services.human_size(settings.FILE_UPLOAD_MAX_BYTES)
        self.fields["upload"].help_text = (
            f"{storage.ALLOWED_TYPE_NAMES}, up to {limit}. "
            "We check what the file really is, whatever its name says."
        )

    def clean_upload(self):
        upload = self.cleaned_data["upload"]
        if upload.size > settings.FILE_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(services.file_too_large_message())
        return upload

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what Form.clean returns
        company, quote, order = cleaned.get("company"), cleaned.get("quote"), cleaned.get("order")
        if company and quote and quote.company_id != company.pk:
            self.add_error("quote", services.FILE_QUOTE_OTHER_COMPANY)
        if company and order and order.company_id != company.pk:
            self.add_error("order", services.FILE_ORDER_OTHER_COMPANY)
        return cleaned
