"""Forms of the desk's pages: input checks only (the services hold the rules)."""

from __future__ import annotations

from datetime import date

from django import forms
from django.core.exceptions import ValidationError

from kernel.roles import CUSTOMER_ROLES
from rbac.models import Membership

from . import selectors, services
from .models import Asset, Priority, SlaOverride, Ticket

MAX_TEXT = 20_000


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if len(files) > services.MAX_ATTACHMENTS:
            raise ValidationError(services.TOO_MANY_ATTACHMENTS)
        return [super(AttachmentsField, self).clean(item, initial) for item in files]


def uploads_of(files) -> list[services.Upload]:
    return [services.Upload(stream=item, name=item.name) for item in files or []]


def _category_choices():
    return [("", "—"), *[(c, c) for c in selectors.sla_policy().categories]]


class RequestForm(forms.Form):
    """A customer's request (the portal)."""

    subject = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea, max_length=MAX_TEXT)
    priority = forms.ChoiceField()
    category = forms.ChoiceField(required=False)
    asset = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Asset")
    attachments = AttachmentsField(required=False)

    def __init__(self, *args, viewer: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        policy = selectors.sla_policy()
        self.fields["priority"].choices = [  # type: ignore[attr-defined]  # a ChoiceField
            (value, label)
            for value, label in Priority.choices
            if value in policy.customer_priorities
        ]
        self.fields["priority"].initial = Priority.NORMAL
        self.fields["category"].choices = _category_choices()  # type: ignore[attr-defined]  # a ChoiceField
        self.fields["asset"].choices = [("", "—")] + [  # type: ignore[attr-defined]  # a ChoiceField
            (a.pk, str(a)) for a in selectors.assets_visible(viewer)
        ]


class TicketCreateForm(forms.Form):
    """Staff open a ticket on behalf of a company's person."""

    company = forms.TypedChoiceField(coerce=int)
    requester = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="For (one of the company's people)"
    )
    requester_name = forms.CharField(max_length=150, required=False, label="Or a contact's name")
    requester_email = forms.EmailField(required=False, label="Contact's email")
    subject = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea, max_length=MAX_TEXT)
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.NORMAL)
    category = forms.ChoiceField(required=False)
    attachments = AttachmentsField(required=False)

    def __init__(self, *args, viewer: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        self.viewer = viewer
        self.fields["company"].choices = selectors.company_choices(viewer)  # type: ignore[attr-defined]  # a ChoiceField
        self.fields["category"].choices = _category_choices()  # type: ignore[attr-defined]  # a ChoiceField
        people = Membership.objects.filter(
            tenant=viewer.tenant, is_active=True, role__in=CUSTOMER_ROLES
        ).select_related("user")
        self.people = {m.pk: m for m in people}
        self.fields["requester"].choices = [("", "—")] + [  # type: ignore[attr-defined]  # a ChoiceField
            (m.pk, f"{m.user.full_name or m.user.email}") for m in people
        ]


class ReplyForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea, max_length=MAX_TEXT, label="Message")
    internal = forms.BooleanField(required=False, label="Internal note (staff only)")
    attachments = AttachmentsField(required=False)


class PortalReplyForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea, max_length=MAX_TEXT, label="Your reply")
    attachments = AttachmentsField(required=False)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Ticket.Status.choices)


class AssignForm(forms.Form):
    assignee = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", "Nobody")] + [  # type: ignore[attr-defined]  # a ChoiceField
            (u.pk, u.full_name or u.email) for u in services.assignable_users(tenant)
        ]


class MergeForm(forms.Form):
    into = forms.CharField(max_length=20, label="Merge into ticket number (T-00012)")


class BulkForm(forms.Form):
    ACTIONS = (("assign", "Assign"), ("close", "Close"))
    action = forms.ChoiceField(choices=ACTIONS)
    tickets = forms.TypedMultipleChoiceField(coerce=int)
    assignee = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args, tenant, ticket_ids, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tickets"].choices = [(pk, pk) for pk in ticket_ids]  # type: ignore[attr-defined]  # a ChoiceField
        self.fields["assignee"].choices = [("", "Nobody")] + [  # type: ignore[attr-defined]  # a ChoiceField
            (u.pk, u.full_name or u.email) for u in services.assignable_users(tenant)
        ]


class TicketEditForm(forms.Form):
    subject = forms.CharField(max_length=200)
    priority = forms.ChoiceField(choices=Priority.choices)
    category = forms.ChoiceField(required=False)
    tags = forms.CharField(
        required=False, max_length=400, help_text="Separated by spaces or commas."
    )
    watchers = forms.TypedMultipleChoiceField(coerce=int, required=False)
    assets = forms.TypedMultipleChoiceField(coerce=int, required=False)

    def __init__(self, *args, ticket: Ticket, viewer: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        choices = _category_choices()
        if ticket.category and (ticket.category, ticket.category) not in choices:
            choices.append((ticket.category, ticket.category))
        self.fields["category"].choices = choices  # type: ignore[attr-defined]  # a ChoiceField
        self.fields["watchers"].choices = [  # type: ignore[attr-defined]  # a ChoiceField
            (u.pk, u.full_name or u.email) for u in services.assignable_users(viewer.tenant)
        ]
        self.fields["assets"].choices = [  # type: ignore[attr-defined]  # a ChoiceField
            (a.pk, str(a))
            for a in selectors.assets_visible(viewer).filter(company_id=ticket.company_id)
        ]

    def clean_tags(self):
        raw = self.cleaned_data["tags"].replace(",", " ")
        return [tag for tag in raw.split() if tag]


class OverrideForm(forms.Form):
    target = forms.ChoiceField(choices=SlaOverride.Target.choices)
    kind = forms.ChoiceField(choices=SlaOverride.Kind.choices)
    new_due_at = forms.DateTimeField(
        required=False,
        label="New due time (for an extension)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    reason = forms.CharField(widget=forms.Textarea, max_length=2000)


WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class SlaPolicyForm(forms.Form):
    name = forms.CharField(max_length=100)
    time_zone = forms.CharField(
        max_length=64, help_text="An IANA time zone, such as Europe/Amsterdam."
    )
    business_days = forms.TypedMultipleChoiceField(
        coerce=int, choices=WEEKDAYS, widget=forms.CheckboxSelectMultiple
    )
    day_start = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}))
    day_end = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}))
    holidays = forms.CharField(
        widget=forms.Textarea,
        required=False,
        max_length=5000,
        help_text="One date per line (2025-12-25).",
    )
    at_risk_percent = forms.IntegerField(min_value=1, max_value=99)
    customer_priorities = forms.MultipleChoiceField(
        choices=Priority.choices, widget=forms.CheckboxSelectMultiple
    )
    categories = forms.CharField(
        widget=forms.Textarea, required=False, max_length=2000, help_text="One per line."
    )
    reopen_window_days = forms.IntegerField(min_value=0, max_value=365)
    recompute_open_tickets = forms.BooleanField(
        required=False,
        label="Also recompute the due times of open tickets",
        help_text=(
            "Counts each open ticket's unmet targets again from its opening under this policy, "
            "keeping its paused time and any target extended or waived by hand. Each ticket "
            "that moves shows its old and new due times in its history."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for value, label in Priority.choices:
            self.fields[f"{value}_first_response_minutes"] = forms.IntegerField(
                min_value=1, max_value=525_600, label=f"{label}: first response (business minutes)"
            )
            self.fields[f"{value}_resolution_minutes"] = forms.IntegerField(
                min_value=1, max_value=525_600, label=f"{label}: resolution (business minutes)"
            )

    @staticmethod
    def initial_for(policy) -> dict:
        initial = {
            name: getattr(policy, name)
            for name in (
                "name",
                "time_zone",
                "business_days",
                "day_start",
                "day_end",
                "at_risk_percent",
                "customer_priorities",
                "reopen_window_days",
            )
        }
        initial["holidays"] = "\n".join(policy.holidays)
        initial["categories"] = "\n".join(policy.categories)
        for value in Priority.values:
            for kind in ("first_response", "resolution"):
                initial[f"{value}_{kind}_minutes"] = getattr(policy, f"{value}_{kind}_minutes")
        return initial

    def clean_holidays(self):
        days = []
        for line in self.cleaned_data["holidays"].split():
            try:
                days.append(date.fromisoformat(line.strip()))
            except ValueError:
                raise ValidationError(services.SLA_HOLIDAY_INVALID) from None
        return days

    def clean_categories(self):
        return [
            line.strip() for line in self.cleaned_data["categories"].splitlines() if line.strip()
        ]

    def service_arguments(self) -> dict:
        data = dict(self.cleaned_data)
        targets = {
            value: (
                data.pop(f"{value}_first_response_minutes"),
                data.pop(f"{value}_resolution_minutes"),
            )
            for value in Priority.values
        }
        return {**data, "targets": targets}


class AssetForm(forms.ModelForm):
    company = forms.TypedChoiceField(coerce=int)

    class Meta:
        model = Asset
        fields = ["asset_type", "name", "serial", "location", "notes", "status"]

    def __init__(self, *args, viewer: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            del self.fields["company"]
        else:
            self.fields["company"].choices = selectors.company_choices(viewer)  # type: ignore[attr-defined]  # a ChoiceField
            self.order_fields(["company"])
