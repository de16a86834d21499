"""Shop services: business rules, the messages people see, and that a refusal writes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from rbac.authz import ACTOR_NOT_IN_WORKSPACE
from shop import services
from shop.models import Company, Invoice, NumberSequence, Order, Quote, QuoteLine
from shop.services import LineInput
from shop.tests import factories
from shop.tests.factories import line, make_company, make_invoice, make_order, make_quote

pytestmark = pytest.mark.django_db


def messages_of(excinfo) -> list[str]:
    return excinfo.value.messages


def sequence_value(kind: str) -> int:
    row = NumberSequence.objects.filter(name=kind).first()
    return row.last_value if row else 0


# Money (pure rules, no database) is tested in test_money.py.


# --- Actor checks --------------------------------------------------------------------------


def test_member_of_another_workspace_cannot_act_in_this_one(in_acme, globex):
    intruder = factories.membership(globex, "owner")
    with pytest.raises(PermissionDenied, match=ACTOR_NOT_IN_WORKSPACE):
        services.company_create(tenant=in_acme, actor=intruder, name="Sneaky Co")
    assert not Company.objects.filter(name="Sneaky Co").exists()


def test_inactive_member_cannot_act(in_acme, as_role):
    sales = as_role("sales")
    sales.is_active = False
    with pytest.raises(PermissionDenied):
        services.company_create(tenant=in_acme, actor=sales, name="Ghost Co")


def test_service_refuses_to_run_outside_its_workspace_schema(acme, owner):
    with pytest.raises(RuntimeError, match="called with schema public"):
        services.company_create(tenant=acme, actor=owner, name="Nowhere Co")


def test_role_without_the_capability_is_refused_by_the_service_itself(in_acme, as_role):
    with pytest.raises(PermissionDenied, match="companies:create"):
        services.company_create(tenant=in_acme, actor=as_role("installer"), name="Nope Co")


# --- Companies and contacts ----------------------------------------------------------------


def test_company_create_strips_and_saves(in_acme, owner):
    company = services.company_create(
        tenant=in_acme, actor=owner, name="  Harbor Cafe ", email="hi@harbor.example"
    )
    assert Company.objects.get(pk=company.pk).name == "Harbor Cafe"


def test_company_needs_a_name(in_acme, owner):
    with pytest.raises(ValidationError) as excinfo:
        services.company_create(tenant=in_acme, actor=owner, name="   ")
    assert excinfo.value.message_dict == {"name": [services.COMPANY_NAME_REQUIRED]}


def test_company_with_a_bad_email_is_refused_by_field_validation(in_acme, owner):
    with pytest.raises(ValidationError) as excinfo:
        services.company_create(tenant=in_acme, actor=owner, name="X", email="not-an-email")
    assert "email" in excinfo.value.message_dict


def test_company_with_quotes_cannot_be_deleted(in_acme, owner):
    company = make_company(in_acme)
    make_quote(in_acme, company=company)
    with pytest.raises(ValidationError) as excinfo:
        services.company_delete(tenant=in_acme, actor=owner, company=company)
    assert messages_of(excinfo) == [services.COMPANY_HAS_RECORDS]
    assert Company.objects.filter(pk=company.pk).exists()


def test_company_with_customer_members_cannot_be_deleted(in_acme, owner):
    company = make_company(in_acme, name="Portal Users Inc")
    from rbac.models import Membership

    customer = factories.membership(in_acme, "customer")
    Membership.objects.filter(pk=customer.pk).update(company_id=company.pk)
    with pytest.raises(ValidationError) as excinfo:
        services.company_delete(tenant=in_acme, actor=owner, company=company)
    assert messages_of(excinfo) == [services.COMPANY_HAS_CUSTOMER_MEMBERS]


def test_company_without_records_is_deleted_with_its_contacts(in_acme, owner):
    company = make_company(in_acme, name="Short Lived LLC")
    services.contact_create(tenant=in_acme, actor=owner, company=company, name="Pat")
    services.company_delete(tenant=in_acme, actor=owner, company=company)
    assert not Company.objects.filter(pk=company.pk).exists()


def test_contact_update_and_delete(in_acme, owner):
    company = make_company(in_acme)
    contact = services.contact_create(
        tenant=in_acme, actor=owner, company=company, name="Ann", role_title="Owner"
    )
    contact = services.contact_update(
        tenant=in_acme, actor=owner, contact=contact, name="Ann Lee", email="ann@example.com"
    )
    assert (contact.name, contact.email) == ("Ann Lee", "ann@example.com")
    services.contact_delete(tenant=in_acme, actor=owner, contact=contact)
    assert not company.contacts.exists()


# --- Quotes --------------------------------------------------------------------------------


def test_quote_numbers_are_sequential_per_workspace(in_acme):
    company = make_company(in_acme)
    first = make_quote(in_acme, company=company)
    second = make_quote(in_acme, company=company)
    assert first.number.startswith("Q-")
    assert len(first.number) == 7
    assert int(second.number[2:]) == int(first.number[2:]) + 1


def test_quote_stores_the_totals_of_its_lines(in_acme):
    company = make_company(in_acme)
    quote = make_quote(
        in_acme,
        company=company,
        tax_rate="8.25",
        lines=[line("Channel letters", "12", "89.50"), line("Install", "3.5", "95.00")],
    )
    assert [row.position for row in quote.lines.all()] == [1, 2]
    assert quote.subtotal == Decimal("1406.50")
    assert quote.tax_amount == Decimal("116.04")  # 116.03625
    assert quote.total == Decimal("1522.54")
    assert quote.computed_totals().total == quote.total


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        (
            LineInput("Banner", Decimal("0"), Decimal("10")),
            services.QUOTE_LINE_QUANTITY_NOT_POSITIVE,
        ),
        (
            LineInput("Banner", Decimal("-2"), Decimal("10")),
            services.QUOTE_LINE_QUANTITY_NOT_POSITIVE,
        ),
        (
            LineInput("Banner", Decimal("1"), Decimal("-0.01")),
            services.QUOTE_LINE_UNIT_PRICE_NEGATIVE,
        ),
        (LineInput("Banner", Decimal("NaN"), Decimal("1")), services.QUOTE_NOT_A_NUMBER),
        (LineInput("   ", Decimal("1"), Decimal("1")), services.QUOTE_LINE_DESCRIPTION_REQUIRED),
    ],
)
def test_invalid_line_is_refused_and_nothing_is_written(in_acme, owner, bad_line, message):
    company = make_company(in_acme)
    quotes_before, lines_before = Quote.objects.count(), QuoteLine.objects.count()
    number_before = sequence_value("quote")
    with pytest.raises(ValidationError) as excinfo:
        services.quote_create(
            tenant=in_acme,
            actor=owner,
            company=company,
            title="Window graphics",
            lines=[line(), bad_line],
        )
    assert message in messages_of(excinfo)
    assert (Quote.objects.count(), QuoteLine.objects.count()) == (quotes_before, lines_before)
    assert sequence_value("quote") == number_before


@pytest.mark.parametrize("tax_rate", ["100.01", "-1", "250"])
def test_tax_rate_outside_0_to_100_is_refused(in_acme, owner, tax_rate):
    company = make_company(in_acme)
    before = Quote.objects.count()
    with pytest.raises(ValidationError) as excinfo:
        services.quote_create(
            tenant=in_acme,
            actor=owner,
            company=company,
            title="Wrap",
            tax_rate=Decimal(tax_rate),
            lines=[line()],
        )
    assert excinfo.value.message_dict == {"tax_rate": [services.QUOTE_TAX_RATE_OUT_OF_RANGE]}
    assert Quote.objects.count() == before


def test_too_many_decimal_places_are_refused_not_silently_rounded(in_acme, owner):
    company = make_company(in_acme)
    with pytest.raises(ValidationError) as excinfo:
        services.quote_create(
            tenant=in_acme,
            actor=owner,
            company=company,
            title="Wrap",
            lines=[LineInput("Film", Decimal("1"), Decimal("9.999"))],
        )
    assert "unit_price" in excinfo.value.message_dict


def test_database_itself_refuses_impossible_lines_and_tax(in_acme):
    company = make_company(in_acme)
    quote = make_quote(in_acme, company=company)
    with pytest.raises(IntegrityError), transaction.atomic():
        QuoteLine.objects.create(quote=quote, position=9, description="x", quantity=0, unit_price=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        QuoteLine.objects.create(
            quote=quote, position=9, description="x", quantity=1, unit_price=-1
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Quote.objects.filter(pk=quote.pk).update(tax_rate=Decimal("101"))


def test_draft_quote_update_replaces_lines_and_recomputes_totals(in_acme, owner):
    company = make_company(in_acme)
    quote = make_quote(in_acme, company=company, lines=[line(), line()])
    quote = services.quote_update(
        tenant=in_acme,
        actor=owner,
        quote=quote,
        company=company,
        title="Revised",
        tax_rate=Decimal("0"),
        lines=[line("Decal", "4", "2.50")],
    )
    assert list(quote.lines.values_list("description", flat=True)) == ["Decal"]
    assert (quote.title, quote.total) == ("Revised", Decimal("10.00"))


def test_sent_quote_cannot_be_edited(in_acme, owner):
    company = make_company(in_acme)
    quote = make_quote(in_acme, company=company, status=Quote.Status.SENT)
    with pytest.raises(ValidationError) as excinfo:
        services.quote_update(
            tenant=in_acme,
            actor=owner,
            quote=quote,
            company=company,
            title="Sneaky change",
            tax_rate=Decimal("0"),
            lines=[line()],
        )
    assert messages_of(excinfo) == [services.QUOTE_NOT_EDITABLE]
    quote.refresh_from_db()
    assert quote.title == "Storefront sign"


def test_quote_without_lines_cannot_be_sent(in_acme, owner):
    quote = make_quote(in_acme, company=make_company(in_acme), lines=[])
    with pytest.raises(ValidationError) as excinfo:
        services.quote_send(tenant=in_acme, actor=owner, quote=quote)
    assert messages_of(excinfo) == [services.QUOTE_HAS_NO_LINES]
    quote.refresh_from_db()
    assert quote.status == Quote.Status.DRAFT


def test_quote_past_its_valid_until_date_cannot_be_sent(in_acme, owner):
    quote = make_quote(in_acme, company=make_company(in_acme))
    Quote.objects.filter(pk=quote.pk).update(valid_until=timezone.localdate() - timedelta(days=1))
    with pytest.raises(ValidationError) as excinfo:
        services.quote_send(tenant=in_acme, actor=owner, quote=quote)
    assert messages_of(excinfo) == [services.QUOTE_VALID_UNTIL_PAST]


def test_sending_a_quote_emails_the_company_after_commit(
    in_acme, owner, mailoutbox, django_capture_on_commit_callbacks
):
    company = make_company(in_acme, email="buyer@harbor.example")
    quote = make_quote(in_acme, company=company)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.quote_send(tenant=in_acme, actor=owner, quote=quote)
    assert mailoutbox == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["buyer@harbor.example"]
    assert quote.number in mailoutbox[0].subject
    assert "Total: 319.00" in mailoutbox[0].body
    quote.refresh_from_db()
    assert (quote.status, quote.sent_at is not None) == (Quote.Status.SENT, True)


def test_customer_accepts_a_quote_sent_to_their_company(in_acme, as_role, company_one):
    quote = make_quote(in_acme, company=company_one, status=Quote.Status.SENT)
    services.quote_accept(tenant=in_acme, actor=as_role("customer"), quote=quote)
    quote.refresh_from_db()
    assert quote.status == Quote.Status.ACCEPTED
    assert quote.responded_at is not None


def test_customer_cannot_answer_another_companys_quote(in_acme, as_role, company_two):
    quote = make_quote(in_acme, company=company_two, status=Quote.Status.SENT)
    with pytest.raises(PermissionDenied):
        services.quote_accept(tenant=in_acme, actor=as_role("customer"), quote=quote)
    quote.refresh_from_db()
    assert quote.status == Quote.Status.SENT


def test_customer_cannot_answer_a_draft(in_acme, as_role, company_one):
    quote = make_quote(in_acme, company=company_one)
    with pytest.raises(PermissionDenied):
        services.quote_decline(tenant=in_acme, actor=as_role("company_admin"), quote=quote)


def test_quote_that_was_already_answered_cannot_be_answered_again(in_acme, owner):
    quote = make_quote(in_acme, company=make_company(in_acme), status=Quote.Status.DECLINED)
    with pytest.raises(ValidationError) as excinfo:
        services.quote_accept(tenant=in_acme, actor=owner, quote=quote)
    assert messages_of(excinfo) == [services.QUOTE_NOT_SENT]


def test_expired_quote_cannot_be_accepted_but_can_be_declined(in_acme, as_role, company_one):
    quote = make_quote(in_acme, company=company_one, status=Quote.Status.SENT)
    Quote.objects.filter(pk=quote.pk).update(valid_until=timezone.localdate() - timedelta(days=1))
    customer = as_role("customer")
    with pytest.raises(ValidationError) as excinfo:
        services.quote_accept(tenant=in_acme, actor=customer, quote=quote)
    assert messages_of(excinfo) == [services.QUOTE_EXPIRED]
    services.quote_decline(tenant=in_acme, actor=customer, quote=quote)
    quote.refresh_from_db()
    assert quote.status == Quote.Status.DECLINED


def test_staff_without_send_capability_cannot_record_an_answer(in_acme, as_role):
    quote = make_quote(in_acme, company=make_company(in_acme), status=Quote.Status.SENT)
    with pytest.raises(PermissionDenied, match="quotes:send"):
        services.quote_accept(tenant=in_acme, actor=as_role("employee"), quote=quote)


def test_accepted_quote_cannot_be_deleted_but_a_draft_can(in_acme, owner):
    company = make_company(in_acme)
    accepted = make_quote(in_acme, company=company, status=Quote.Status.ACCEPTED)
    with pytest.raises(ValidationError) as excinfo:
        services.quote_delete(tenant=in_acme, actor=owner, quote=accepted)
    assert messages_of(excinfo) == [services.QUOTE_ACCEPTED_NOT_DELETABLE]
    draft = make_quote(in_acme, company=company)
    services.quote_delete(tenant=in_acme, actor=owner, quote=draft)
    assert not Quote.objects.filter(pk=draft.pk).exists()
    assert not QuoteLine.objects.filter(quote_id=draft.pk).exists()


# --- Orders --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Quote.Status.DRAFT, Quote.Status.SENT, Quote.Status.DECLINED])
def test_order_from_a_quote_that_is_not_accepted_is_refused_and_nothing_written(
    in_acme, owner, status
):
    quote = make_quote(in_acme, company=make_company(in_acme), status=status)
    orders_before, number_before = Order.objects.count(), sequence_value("order")
    with pytest.raises(ValidationError) as excinfo:
        services.order_create_from_quote(tenant=in_acme, actor=owner, quote=quote)
    assert messages_of(excinfo) == [services.ORDER_QUOTE_NOT_ACCEPTED]
    assert Order.objects.count() == orders_before
    assert sequence_value("order") == number_before


def test_order_from_accepted_quote_copies_company_and_site_address(in_acme, owner, member):
    company = make_company(in_acme, site_address="9 Dock Road")
    quote = make_quote(in_acme, company=company, status=Quote.Status.ACCEPTED)
    installer = member("acme", "installer")
    order = services.order_create_from_quote(
        tenant=in_acme, actor=owner, quote=quote, assignee=installer
    )
    assert order.number.startswith("O-")
    assert (order.company_id, order.site_address, order.assignee_id) == (
        company.pk,
        "9 Dock Road",
        installer.pk,
    )
    assert order.status == Order.Status.SCHEDULED


def test_second_order_for_the_same_quote_is_refused(in_acme, owner):
    order = make_order(in_acme, company=make_company(in_acme))
    with pytest.raises(ValidationError) as excinfo:
        services.order_create_from_quote(tenant=in_acme, actor=owner, quote=order.quote)
    assert messages_of(excinfo) == [services.ORDER_ALREADY_EXISTS]
    assert Order.objects.filter(quote=order.quote).count() == 1


@pytest.mark.parametrize(("slug", "role"), [("acme", "customer"), ("globex", "installer")])
def test_order_assignee_must_be_staff_of_this_workspace(in_acme, owner, member, slug, role):
    quote = make_quote(in_acme, company=make_company(in_acme), status=Quote.Status.ACCEPTED)
    with pytest.raises(ValidationError) as excinfo:
        services.order_create_from_quote(
            tenant=in_acme, actor=owner, quote=quote, assignee=member(slug, role)
        )
    assert excinfo.value.message_dict == {"assignee": [services.ORDER_ASSIGNEE_NOT_STAFF]}
    assert not Order.objects.filter(quote=quote).exists()


def _all_status_pairs():
    statuses = list(Order.Status.values)
    return [(current, target) for current in statuses for target in statuses]


@pytest.mark.parametrize(("current", "target"), _all_status_pairs())
def test_order_status_changes_follow_the_transition_table(in_acme, owner, current, target):
    order = make_order(in_acme, company=make_company(in_acme), status=current)
    allowed = target in services.ORDER_STATUS_TRANSITIONS[current]
    if allowed:
        order = services.order_change_status(
            tenant=in_acme, actor=owner, order=order, status=target
        )
        assert order.status == target
    else:
        with pytest.raises(ValidationError) as excinfo:
            services.order_change_status(tenant=in_acme, actor=owner, order=order, status=target)
        assert messages_of(excinfo) == [services.ORDER_STATUS_CHANGE_NOT_ALLOWED]
        order.refresh_from_db()
        assert order.status == current


def test_unknown_order_status_is_refused_with_a_clear_message(in_acme, owner):
    order = make_order(in_acme, company=make_company(in_acme))
    with pytest.raises(ValidationError) as excinfo:
        services.order_change_status(tenant=in_acme, actor=owner, order=order, status="flying")
    assert messages_of(excinfo) == [services.ORDER_STATUS_UNKNOWN]


def test_installer_cannot_change_order_status(in_acme, as_role, member):
    order = make_order(in_acme, company=make_company(in_acme), assignee=member("acme", "installer"))
    with pytest.raises(PermissionDenied):
        services.order_change_status(
            tenant=in_acme, actor=as_role("installer"), order=order, status="in_progress"
        )


def test_closed_order_cannot_be_edited(in_acme, owner):
    order = make_order(in_acme, company=make_company(in_acme), status="done")
    with pytest.raises(ValidationError) as excinfo:
        services.order_update(
            tenant=in_acme, actor=owner, order=order, assignee=None, due_date=None, site_address=""
        )
    assert messages_of(excinfo) == [services.ORDER_CLOSED]


def test_order_with_an_invoice_cannot_be_deleted(in_acme, owner):
    order = make_order(in_acme, company=make_company(in_acme))
    make_invoice(in_acme, order=order)
    with pytest.raises(ValidationError) as excinfo:
        services.order_delete(tenant=in_acme, actor=owner, order=order)
    assert messages_of(excinfo) == [services.ORDER_HAS_INVOICES]
    assert Order.objects.filter(pk=order.pk).exists()


# --- Invoices ------------------------------------------------------------------------------


def test_invoice_copies_the_quote_totals_and_freezes_them(in_acme, owner):
    order = make_order(in_acme, company=make_company(in_acme))
    invoice = make_invoice(in_acme, order=order)
    quote = order.quote
    assert invoice.number.startswith("INV-")
    assert (invoice.subtotal, invoice.tax_rate, invoice.tax_amount, invoice.total) == (
        quote.subtotal,
        quote.tax_rate,
        quote.tax_amount,
        quote.total,
    )
    assert invoice.total == Decimal("319.00")  # 2 x 145.00 + 10 %
    assert (invoice.company_id, invoice.status) == (order.company_id, Invoice.Status.OPEN)


def test_cancelled_order_cannot_be_invoiced_and_nothing_is_written(in_acme, owner):
    order = make_order(in_acme, company=make_company(in_acme), status="cancelled")
    before, number_before = Invoice.objects.count(), sequence_value("invoice")
    with pytest.raises(ValidationError) as excinfo:
        make_invoice(in_acme, order=order)
    assert messages_of(excinfo) == [services.INVOICE_ORDER_CANCELLED]
    assert (Invoice.objects.count(), sequence_value("invoice")) == (before, number_before)


def test_order_cannot_be_invoiced_twice_until_the_first_invoice_is_void(in_acme, owner):
    order = make_order(in_acme, company=make_company(in_acme))
    first = make_invoice(in_acme, order=order)
    with pytest.raises(ValidationError) as excinfo:
        make_invoice(in_acme, order=order)
    assert messages_of(excinfo) == [services.INVOICE_ALREADY_EXISTS]
    assert order.invoices.count() == 1
    services.invoice_void(tenant=in_acme, actor=owner, invoice=first)
    second = make_invoice(in_acme, order=order)
    assert second.number != first.number


def test_database_allows_only_one_live_invoice_per_order(in_acme, owner):
    invoice = make_invoice(in_acme, order=make_order(in_acme, company=make_company(in_acme)))
    duplicate = Invoice(
        order=invoice.order,
        company=invoice.company,
        number="INV-X",
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        subtotal=0,
        tax_rate=0,
        tax_amount=0,
        total=0,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_invoice_due_before_issue_is_refused(in_acme, owner):
    order = make_order(in_acme, company=make_company(in_acme))
    today = timezone.localdate()
    with pytest.raises(ValidationError) as excinfo:
        services.invoice_create_from_order(
            tenant=in_acme,
            actor=owner,
            order=order,
            issue_date=today,
            due_date=today - timedelta(days=1),
        )
    assert excinfo.value.message_dict == {"due_date": [services.INVOICE_DUE_BEFORE_ISSUE]}
    assert not order.invoices.exists()


def test_paying_an_invoice_records_when_and_only_once(in_acme, as_role):
    accountant = as_role("accountant")
    invoice = make_invoice(in_acme, order=make_order(in_acme, company=make_company(in_acme)))
    invoice = services.invoice_mark_paid(tenant=in_acme, actor=accountant, invoice=invoice)
    assert (invoice.status, invoice.paid_at is not None) == (Invoice.Status.PAID, True)
    with pytest.raises(ValidationError) as excinfo:
        services.invoice_mark_paid(tenant=in_acme, actor=accountant, invoice=invoice)
    assert messages_of(excinfo) == [services.INVOICE_NOT_OPEN]
    with pytest.raises(ValidationError):
        services.invoice_void(tenant=in_acme, actor=accountant, invoice=invoice)


def test_paid_invoice_cannot_be_deleted(in_acme, owner):
    invoice = make_invoice(in_acme, order=make_order(in_acme, company=make_company(in_acme)))
    services.invoice_mark_paid(tenant=in_acme, actor=owner, invoice=invoice)
    with pytest.raises(ValidationError) as excinfo:
        services.invoice_delete(tenant=in_acme, actor=owner, invoice=invoice)
    assert messages_of(excinfo) == [services.INVOICE_PAID_NOT_DELETABLE]


def test_accountant_cannot_delete_invoices(in_acme, as_role):
    invoice = make_invoice(in_acme, order=make_order(in_acme, company=make_company(in_acme)))
    with pytest.raises(PermissionDenied, match="invoices:delete"):
        services.invoice_delete(tenant=in_acme, actor=as_role("accountant"), invoice=invoice)
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_void_invoice_can_be_deleted(in_acme, owner):
    invoice = make_invoice(in_acme, order=make_order(in_acme, company=make_company(in_acme)))
    services.invoice_void(tenant=in_acme, actor=owner, invoice=invoice)
    services.invoice_delete(tenant=in_acme, actor=owner, invoice=invoice)
    assert not Invoice.objects.filter(pk=invoice.pk).exists()
