"""Shop pages: declared capabilities, the whole flow by hand, bad input, customer isolation."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from kernel import capabilities as caps
from kernel.decorators import declared_capability
from shop import services
from shop.models import Company, Invoice, Order, Quote, QuoteLine, StoredFile
from shop.tests.factories import line, make_company, make_invoice, make_order, make_quote
from tests.urls import tenant_urls

pytestmark = pytest.mark.django_db

EXPECTED_CAPABILITIES = {
    "home": caps.WORKSPACE_VIEW,
    "company-list": caps.COMPANIES_VIEW,
    "company-create": caps.COMPANIES_CREATE,
    "company-detail": caps.COMPANIES_VIEW,
    "company-edit": caps.COMPANIES_EDIT,
    "company-delete": caps.COMPANIES_DELETE,
    "company-delete-all": caps.COMPANIES_DELETE,
    "contact-create": caps.COMPANIES_EDIT,
    "contact-edit": caps.COMPANIES_EDIT,
    "contact-delete": caps.COMPANIES_EDIT,
    "quote-list": caps.QUOTES_VIEW,
    "quote-create": caps.QUOTES_CREATE,
    "quote-detail": caps.QUOTES_VIEW,
    "quote-edit": caps.QUOTES_EDIT,
    "quote-delete": caps.QUOTES_DELETE,
    "quote-send": caps.QUOTES_SEND,
    "quote-accept": caps.QUOTES_RESPOND,
    "quote-decline": caps.QUOTES_RESPOND,
    "quote-mark-accepted": caps.QUOTES_SEND,
    "quote-mark-declined": caps.QUOTES_SEND,
    "order-list": caps.ORDERS_VIEW,
    "order-create": caps.ORDERS_CREATE,
    "order-detail": caps.ORDERS_VIEW,
    "order-edit": caps.ORDERS_EDIT,
    "order-status": caps.ORDERS_EDIT,
    "order-delete": caps.ORDERS_DELETE,
    "invoice-list": caps.INVOICES_VIEW,
    "invoice-create": caps.INVOICES_CREATE,
    "invoice-detail": caps.INVOICES_VIEW,
    "invoice-edit": caps.INVOICES_EDIT,
    "invoice-pay": caps.INVOICES_EDIT,
    "invoice-void": caps.INVOICES_VOID,
    "invoice-delete": caps.INVOICES_DELETE,
    "file-list": caps.FILES_VIEW,
    "file-upload": caps.FILES_UPLOAD,
    "file-detail": caps.FILES_VIEW,
    "file-download": caps.FILES_VIEW,
    "file-delete": caps.FILES_DELETE,
}
POST_ONLY = {
    "quote-send",
    "quote-accept",
    "quote-decline",
    "quote-mark-accepted",
    "quote-mark-declined",
    "order-status",
    "invoice-pay",
    "invoice-void",
}


def url(name: str, pk: int | None = None, **query) -> str:
    path = reverse(f"shop:{name}", urlconf="config.urls_tenant", args=[pk] if pk else [])
    if query:
        from urllib.parse import urlencode

        path += "?" + urlencode(query)
    return path


def messages_text(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


# --- Declarations --------------------------------------------------------------------------


def test_every_shop_url_declares_the_capability_it_needs():
    shop_urls = {
        u.name.removeprefix("shop:"): u for u in tenant_urls() if u.name.startswith("shop:")
    }
    assert set(shop_urls) == set(EXPECTED_CAPABILITIES)
    declared = {name: declared_capability(u.callback) for name, u in shop_urls.items()}
    assert declared == EXPECTED_CAPABILITIES


def test_object_urls_take_an_integer_pk():
    for tenant_url in tenant_urls():
        if tenant_url.name.startswith("shop:") and tenant_url.converters:
            assert list(tenant_url.converters) == ["pk"]
            assert type(tenant_url.converters["pk"]).__name__ == "IntConverter"


@pytest.mark.parametrize("name", sorted(POST_ONLY))
def test_state_changes_refuse_get(in_acme, client_for, name):
    quote = Quote.objects.first()
    order = Order.objects.first()
    invoice = Invoice.objects.first()
    pk = {"quote": quote.pk, "order": order.pk, "invoice": invoice.pk}[name.split("-")[0]]
    role = "customer" if name in {"quote-accept", "quote-decline"} else "owner"
    assert client_for("acme", role).get(url(name, pk)).status_code == 405


def test_every_page_renders_for_the_owner(in_acme, client_for):
    """A smoke sweep over every GET page with real objects: no template error anywhere."""
    client = client_for("acme", "owner")
    draft = Quote.objects.filter(status="draft").first()
    accepted = make_quote(in_acme, company=draft.company, status=Quote.Status.ACCEPTED)
    objects = {
        "company": Company.objects.first().pk,
        "contact": Company.objects.get(name="MARKER-acme-COMPANY").contacts.first().pk,
        "quote": draft.pk,
        "order": Order.objects.first().pk,
        "invoice": Invoice.objects.first().pk,
        "file": StoredFile.objects.first().pk,
    }
    for name in EXPECTED_CAPABILITIES:
        if name in POST_ONLY:
            continue
        kind = name.split("-")[0]
        if name in ("home", "company-create", "quote-create") or name.endswith(
            ("-list", "-upload")
        ):
            pk = None
        elif name == "contact-create":
            pk = objects["company"]
        elif name == "order-create":
            pk = accepted.pk
        elif name == "invoice-create":
            pk = objects["order"]
        else:
            pk = objects[kind]
        response = client.get(url(name, pk))
        assert response.status_code in (200, 302), name
        if name == "file-download":
            b"".join(response.streaming_content)


# --- The flow, by hand ---------------------------------------------------------------------


def test_owner_goes_from_company_to_paid_invoice_through_the_pages(in_acme, client_for, member):
    client = client_for("acme", "owner")
    response = client.post(url("company-create"), {"name": "Sunset Dental", "email": "a@b.example"})
    company = Company.objects.get(name="Sunset Dental")
    assert response["Location"] == url("company-detail", company.pk)

    response = client.post(
        url("quote-create"),
        {
            "company": company.pk,
            "title": "Lobby sign",
            "tax_rate": "7.5",
            "valid_until": "",
            "notes": "",
            "lines-TOTAL_FORMS": "3",
            "lines-INITIAL_FORMS": "0",
            "lines-0-description": "Acrylic lobby sign 48x24",
            "lines-0-quantity": "1",
            "lines-0-unit_price": "1850.00",
            "lines-1-description": "Standoffs",
            "lines-1-quantity": "8",
            "lines-1-unit_price": "12.50",
            "lines-2-description": "",
            "lines-2-quantity": "",
            "lines-2-unit_price": "",
        },
    )
    quote = Quote.objects.get(company=company)
    assert response["Location"] == url("quote-detail", quote.pk)
    assert quote.lines.count() == 2
    assert quote.total == Decimal("2096.25")  # 1950.00 + 7.5 %

    page = client.get(url("quote-detail", quote.pk))
    assert b"2,096.25" in page.content
    assert b"1,850.00" in page.content

    assert client.post(url("quote-send", quote.pk)).status_code == 302
    assert client.post(url("quote-mark-accepted", quote.pk)).status_code == 302
    quote.refresh_from_db()
    assert quote.status == Quote.Status.ACCEPTED

    installer = member("acme", "installer")
    response = client.post(
        url("order-create", quote.pk),
        {"assignee": installer.pk, "due_date": "2030-05-01", "site_address": "1 Main St"},
    )
    order = Order.objects.get(quote=quote)
    assert response["Location"] == url("order-detail", order.pk)
    assert (order.assignee, order.site_address) == (installer, "1 Main St")

    client.post(url("order-status", order.pk), {"status": "in_progress"})
    client.post(url("order-status", order.pk), {"status": "done"})
    order.refresh_from_db()
    assert order.status == Order.Status.DONE

    response = client.post(
        url("invoice-create", order.pk), {"issue_date": "2030-05-02", "due_date": "2030-06-01"}
    )
    invoice = Invoice.objects.get(order=order)
    assert response["Location"] == url("invoice-detail", invoice.pk)
    assert invoice.total == Decimal("2096.25")
    client.post(url("invoice-pay", invoice.pk))
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID


def test_add_a_line_button_adds_a_blank_row_without_saving(in_acme, client_for):
    before = Quote.objects.count()
    response = client_for("acme", "owner").post(
        url("quote-create"),
        {
            "company": "",
            "title": "",
            "tax_rate": "0",
            "lines-TOTAL_FORMS": "2",
            "lines-INITIAL_FORMS": "0",
            "add_line": "1",
        },
    )
    assert response.status_code == 200
    assert b'name="lines-TOTAL_FORMS" value="3"' in response.content
    assert Quote.objects.count() == before


def test_editing_a_draft_keeps_unchanged_lines_and_drops_removed_ones(in_acme, client_for):
    quote = make_quote(
        in_acme, company=make_company(in_acme), lines=[line("Keep", "1", "5"), line("Drop")]
    )
    response = client_for("acme", "owner").post(
        url("quote-edit", quote.pk),
        {
            "company": quote.company_id,
            "title": quote.title,
            "tax_rate": "0",
            "lines-TOTAL_FORMS": "3",
            "lines-INITIAL_FORMS": "2",
            "lines-0-description": "Keep",
            "lines-0-quantity": "1",
            "lines-0-unit_price": "5",
            "lines-1-description": "Drop",
            "lines-1-quantity": "2",
            "lines-1-unit_price": "145",
            "lines-1-DELETE": "on",
            "lines-2-description": "",
            "lines-2-quantity": "",
            "lines-2-unit_price": "",
        },
    )
    assert response.status_code == 302
    assert list(quote.lines.values_list("description", flat=True)) == ["Keep"]


# --- Bad input -----------------------------------------------------------------------------


def _quote_post(company_pk, **line_fields):
    data = {
        "company": company_pk,
        "title": "Banner",
        "tax_rate": "10",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-description": "Vinyl banner",
        "lines-0-quantity": "1",
        "lines-0-unit_price": "99.00",
    }
    data.update(line_fields)
    return data


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"lines-0-quantity": "0"}, services.QUOTE_LINE_QUANTITY_NOT_POSITIVE),
        ({"lines-0-quantity": "-3"}, services.QUOTE_LINE_QUANTITY_NOT_POSITIVE),
        ({"lines-0-unit_price": "-1"}, services.QUOTE_LINE_UNIT_PRICE_NEGATIVE),
        ({"tax_rate": "100.5"}, services.QUOTE_TAX_RATE_OUT_OF_RANGE),
        ({"lines-0-quantity": "lots"}, "Enter a number."),
        ({"lines-0-unit_price": "1e400"}, "Ensure that there are no more than"),
        ({"lines-TOTAL_FORMS": "abc"}, "ManagementForm data is missing or has been tampered with"),
        ({"lines-TOTAL_FORMS": "100000"}, "Please submit at most 200 forms."),
    ],
)
def test_bad_quote_input_gets_a_form_error_and_writes_nothing(in_acme, client_for, fields, message):
    company = make_company(in_acme)
    before = (Quote.objects.count(), QuoteLine.objects.count())
    response = client_for("acme", "owner").post(
        url("quote-create"), _quote_post(company.pk, **fields)
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert (Quote.objects.count(), QuoteLine.objects.count()) == before


def test_quote_form_shows_the_error_next_to_the_offending_field(in_acme, client_for):
    company = make_company(in_acme)
    response = client_for("acme", "owner").post(
        url("quote-create"), _quote_post(company.pk, **{"lines-0-quantity": "0"})
    )
    assert 'id="id_lines-0-quantity_error"' in response.content.decode()


def test_order_from_an_unaccepted_quote_shows_a_clear_error_and_writes_nothing(in_acme, client_for):
    quote = make_quote(in_acme, company=make_company(in_acme), status=Quote.Status.SENT)
    client = client_for("acme", "owner")
    response = client.post(url("order-create", quote.pk), {"site_address": "x"})
    assert response.status_code == 400
    assert services.ORDER_QUOTE_NOT_ACCEPTED in response.content.decode()
    assert not Order.objects.filter(quote=quote).exists()
    page = client.get(url("order-create", quote.pk), follow=True)
    assert services.ORDER_QUOTE_NOT_ACCEPTED in messages_text(page)


def test_second_invoice_for_an_order_is_a_form_error(in_acme, client_for):
    order = make_order(in_acme, company=make_company(in_acme))
    make_invoice(in_acme, order=order)
    response = client_for("acme", "accountant").post(
        url("invoice-create", order.pk), {"issue_date": "2030-01-01", "due_date": "2030-02-01"}
    )
    assert response.status_code == 400
    assert services.INVOICE_ALREADY_EXISTS in response.content.decode()
    assert order.invoices.count() == 1


def test_invoice_due_before_issue_is_an_error_on_the_due_date_field(in_acme, client_for):
    order = make_order(in_acme, company=make_company(in_acme))
    response = client_for("acme", "accountant").post(
        url("invoice-create", order.pk), {"issue_date": "2030-02-01", "due_date": "2030-01-01"}
    )
    assert response.status_code == 400
    assert 'id="id_due_date_error"' in response.content.decode()
    assert not order.invoices.exists()


def test_unknown_order_status_is_refused_with_a_message(in_acme, client_for):
    order = make_order(in_acme, company=make_company(in_acme))
    response = client_for("acme", "owner").post(
        url("order-status", order.pk), {"status": "teleported"}, follow=True
    )
    assert services.ORDER_STATUS_UNKNOWN in messages_text(response)
    order.refresh_from_db()
    assert order.status == Order.Status.SCHEDULED


def test_disallowed_order_transition_is_refused_with_a_message(in_acme, client_for):
    order = make_order(in_acme, company=make_company(in_acme), status="done")
    response = client_for("acme", "owner").post(
        url("order-status", order.pk), {"status": "scheduled"}, follow=True
    )
    assert services.ORDER_STATUS_CHANGE_NOT_ALLOWED in messages_text(response)


def test_paid_invoice_delete_is_refused_and_kept(in_acme, client_for, owner):
    invoice = make_invoice(in_acme, order=make_order(in_acme, company=make_company(in_acme)))
    services.invoice_mark_paid(tenant=in_acme, actor=owner, invoice=invoice)
    response = client_for("acme", "owner").post(url("invoice-delete", invoice.pk), follow=True)
    assert services.INVOICE_PAID_NOT_DELETABLE in messages_text(response)
    assert Invoice.objects.filter(pk=invoice.pk).exists()


@pytest.mark.parametrize(
    "query",
    [
        {"page": "abc"},
        {"page": "-1"},
        {"page": "99999"},
        {"sort": "password"},
        {"sort": "'; DROP TABLE shop_quote; --"},
        {"status": "<script>"},
        {"q": "x" * 5000},
        {"q": "%_\\"},
    ],
)
def test_odd_list_parameters_never_break_a_list(in_acme, client_for, query):
    response = client_for("acme", "owner").get(url("quote-list", **query))
    assert response.status_code == 200


def test_out_of_range_id_is_a_404(in_acme, client_for):
    response = client_for("acme", "owner").get(f"/quotes/{10**30}/")
    assert response.status_code == 404


# --- Lists ---------------------------------------------------------------------------------


def test_lists_are_paginated_by_25(in_acme, client_for, owner):
    for index in range(30):
        services.company_create(tenant=in_acme, actor=owner, name=f"Paged Co {index:02d}")
    client = client_for("acme", "owner")
    first = client.get(url("company-list", q="Paged Co", sort="name"))
    assert len(first.context["page_obj"].object_list) == 25
    assert b"Paged Co 00" in first.content
    assert b"Paged Co 25" not in first.content
    second = client.get(url("company-list", q="Paged Co", sort="name", page=2))
    assert b"Paged Co 29" in second.content
    assert b"Page 2 of 2" in second.content


def test_sort_headers_keep_the_search_and_flip_direction(in_acme, client_for):
    response = client_for("acme", "owner").get(url("quote-list", q="One", sort="total"))
    content = response.content.decode()
    assert 'href="?q=One&amp;sort=-total"' in content
    assert 'aria-sort="ascending"' in content


def test_search_with_htmx_returns_the_page_whose_results_htmx_selects(in_acme, client_for):
    response = client_for("acme", "owner").get(
        url("company-list", q="MARKER"), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert b'id="results"' in response.content
    assert b"MARKER-acme-COMPANY" in response.content
    assert b"Acme Customer One" not in response.content


def test_empty_search_shows_a_helpful_empty_state(in_acme, client_for):
    response = client_for("acme", "owner").get(url("invoice-list", q="no-such-thing-anywhere"))
    assert b"No invoices match your search." in response.content


# --- Customers -----------------------------------------------------------------------------


def test_customer_quote_list_shows_only_their_companys_sent_quotes(in_acme, client_for):
    response = client_for("acme", "customer").get(url("quote-list"))
    content = response.content.decode()
    assert "One sent quote" in content
    assert "One accepted quote" in content
    assert "One draft quote" not in content
    assert "Two sent quote" not in content


@pytest.mark.parametrize("query", ["Two", "Customer Two", "Q-", "draft"])
def test_customer_search_finds_nothing_of_other_companies(in_acme, client_for, query):
    client = client_for("acme", "customer")
    for name in ("quote-list", "order-list", "invoice-list", "file-list"):
        response = client.get(url(name, q=query))
        content = response.content.decode()
        rows = response.context["page_obj"].object_list
        assert all(row.company.name == "Acme Customer One" for row in rows), name
        assert "Acme Customer Two" not in content, name
        assert "Two sent quote" not in content, name
        assert "Two order proof" not in content, name
        assert "draft quote" not in content, name


def test_customer_gets_the_same_404_for_another_companys_records_as_for_missing_ones(
    in_acme, client_for, company_two
):
    client = client_for("acme", "customer")
    targets = {
        "quote-detail": Quote.objects.filter(company=company_two, status="sent").first().pk,
        "order-detail": Order.objects.filter(company=company_two).first().pk,
        "invoice-detail": Invoice.objects.filter(company=company_two).first().pk,
        "file-detail": StoredFile.objects.filter(company=company_two).first().pk,
        "file-download": StoredFile.objects.filter(company=company_two).first().pk,
    }
    for name, pk in targets.items():
        forbidden = client.get(url(name, pk))
        missing = client.get(url(name, 999_999_999))
        assert forbidden.status_code == missing.status_code == 404, name
        assert forbidden.content == missing.content, name


def test_customer_cannot_see_their_own_companys_draft_quote_by_url(
    in_acme, client_for, company_one
):
    draft = Quote.objects.get(company=company_one, status="draft")
    assert client_for("acme", "customer").get(url("quote-detail", draft.pk)).status_code == 404


def test_customer_accepts_their_quote_from_the_page(in_acme, client_for, company_one):
    quote = make_quote(in_acme, company=company_one, status=Quote.Status.SENT, title="Wrap van")
    client = client_for("acme", "customer")
    page = client.get(url("quote-detail", quote.pk))
    assert b"Accept quote" in page.content
    assert b"Send to customer" not in page.content
    response = client.post(url("quote-accept", quote.pk), follow=True)
    assert f"You accepted quote {quote.number}" in messages_text(response)
    quote.refresh_from_db()
    assert quote.status == Quote.Status.ACCEPTED


def test_customer_cannot_answer_another_companys_quote_by_posting(in_acme, client_for, company_two):
    quote = Quote.objects.get(company=company_two, status="sent")
    response = client_for("acme", "customer").post(url("quote-decline", quote.pk))
    assert response.status_code == 404
    quote.refresh_from_db()
    assert quote.status == Quote.Status.SENT


def test_staff_cannot_use_the_customers_accept_button(in_acme, client_for):
    quote = Quote.objects.filter(status="sent").first()
    assert client_for("acme", "owner").post(url("quote-accept", quote.pk)).status_code == 403


@pytest.mark.parametrize("name", ["company-list", "company-create", "quote-create", "invoice-pay"])
def test_customer_lacks_staff_pages(in_acme, client_for, name):
    pk = Invoice.objects.first().pk if name == "invoice-pay" else None
    client = client_for("acme", "customer")
    response = client.post(url(name, pk)) if name == "invoice-pay" else client.get(url(name, pk))
    assert response.status_code == 403


def test_customer_home_shows_their_records_only(in_acme, client_for):
    content = client_for("acme", "customer").get(url("home")).content.decode()
    assert "One sent quote" in content
    assert "Two sent quote" not in content
    assert "companies</a>" not in content


# --- Installers and buttons ----------------------------------------------------------------


def test_installer_order_list_shows_only_assigned_jobs(in_acme, client_for, member):
    company = make_company(in_acme, name="Install Test Co")
    mine = make_order(in_acme, company=company, assignee=member("acme", "installer"))
    other = make_order(in_acme, company=company, assignee=member("acme", "manager"))
    client = client_for("acme", "installer")
    content = client.get(url("order-list", q="Install Test Co")).content.decode()
    assert mine.number in content
    assert other.number not in content
    assert client.get(url("order-detail", other.pk)).status_code == 404
    assert client.get(url("order-detail", mine.pk)).status_code == 200


def test_buttons_follow_the_capabilities(in_acme, client_for):
    quote = make_quote(in_acme, company=make_company(in_acme))
    employee_page = client_for("acme", "employee").get(url("quote-detail", quote.pk)).content
    sales_page = client_for("acme", "sales").get(url("quote-detail", quote.pk)).content
    assert b"Send to customer" not in employee_page
    assert b"Edit" not in employee_page
    assert b"Send to customer" in sales_page
    assert url("quote-delete", quote.pk).encode() not in sales_page  # sales cannot delete


def test_forms_label_every_input(in_acme, client_for):
    content = client_for("acme", "owner").get(url("quote-create")).content.decode()
    fields = re.findall(r"<(?:input|select|textarea)[^>]*>", content)
    visible = [tag for tag in fields if 'type="hidden"' not in tag]
    ids = {re.search(r'\sid="([^"]+)"', tag).group(1) for tag in visible}
    labelled = set(re.findall(r'<label[^>]*for="([^"]+)"', content))
    assert ids
    assert ids <= labelled


JUNK = {
    "company": "999999999999999999999",
    "quote": "-1",
    "order": "abc",
    "assignee": "0",
    "title": "x" * 300,
    "name": "",
    "email": "not-an-email",
    "tax_rate": "NaN",
    "valid_until": "2030-13-45",
    "issue_date": "yesterday",
    "due_date": "",
    "status": "done; DROP TABLE shop_order",
    "kind": "executable",
    "lines-TOTAL_FORMS": "2",
    "lines-INITIAL_FORMS": "9",
    "lines-0-quantity": "Infinity",
    "lines-1-unit_price": "1e999999",
    "add_line": "x",
    "upload": "not a file",
}


@pytest.mark.parametrize("role", ["owner", "company_admin"])
def test_junk_posted_to_every_shop_url_never_causes_a_server_error(in_acme, client_for, role):
    client = client_for("acme", role)
    pks = {
        "company": Company.objects.first().pk,
        "contact": Company.objects.get(name="MARKER-acme-COMPANY").contacts.first().pk,
        "quote": Quote.objects.filter(status="draft").first().pk,
        "order": Order.objects.first().pk,
        "invoice": Invoice.objects.first().pk,
        "file": StoredFile.objects.first().pk,
    }
    for tenant_url in tenant_urls():
        if not tenant_url.name.startswith("shop:"):
            continue
        kwargs = {"pk": pks[tenant_url.name[5:].split("-")[0]]} if tenant_url.converters else {}
        response = client.post(tenant_url.path(**kwargs), JUNK)
        assert response.status_code < 500, tenant_url.name


def test_job_notes_are_for_staff_not_customers(in_acme, client_for, owner, company_one):
    order = make_order(in_acme, company=company_one)
    services.order_update(
        tenant=in_acme,
        actor=owner,
        order=order,
        assignee=None,
        due_date=None,
        site_address="1 First Street",
        notes="Gate code 4471",
    )
    assert (
        b"Gate code 4471" in client_for("acme", "owner").get(url("order-detail", order.pk)).content
    )
    customer_page = client_for("acme", "customer").get(url("order-detail", order.pk))
    assert customer_page.status_code == 200
    assert b"Gate code 4471" not in customer_page.content
