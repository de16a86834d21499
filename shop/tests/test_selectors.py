"""Selectors: who sees what, search, sort, and the same 404 for missing and forbidden."""

from __future__ import annotations

import pytest
from django.http import Http404

from shop import selectors
from shop.models import Company, Invoice, Order, Quote, StoredFile
from shop.tests import factories
from shop.tests.factories import make_company, make_file, make_order, make_quote

pytestmark = pytest.mark.django_db


def test_customer_sees_only_their_own_company(in_acme, as_role, company_one):
    assert list(selectors.company_list(viewer=as_role("customer"))) == [company_one]


def test_customer_sees_sent_and_answered_quotes_of_their_company_but_never_drafts(
    in_acme, as_role, company_one
):
    quotes = selectors.quote_list(viewer=as_role("customer"))
    assert quotes.exists()
    assert set(quotes.values_list("company_id", flat=True)) == {company_one.pk}
    assert not quotes.filter(status=Quote.Status.DRAFT).exists()
    all_visible = Quote.objects.filter(company=company_one).exclude(status=Quote.Status.DRAFT)
    assert set(quotes) == set(all_visible)


@pytest.mark.parametrize("role", ["customer", "company_admin"])
def test_customer_roles_see_only_their_companys_orders_invoices_and_files(
    in_acme, as_role, company_one, role
):
    viewer = as_role(role)
    orders = selectors.order_list(viewer=viewer)
    invoices = selectors.invoice_list(viewer=viewer)
    files = selectors.file_list(viewer=viewer)
    assert orders.exists()
    assert invoices.exists()
    assert files.exists()
    assert set(orders.values_list("company_id", flat=True)) == {company_one.pk}
    assert set(invoices.values_list("company_id", flat=True)) == {company_one.pk}
    assert set(files.values_list("company_id", flat=True)) == {company_one.pk}


def test_customer_never_sees_files_attached_to_a_draft_quote(in_acme, as_role, company_one):
    draft_files = StoredFile.objects.filter(company=company_one, quote__status="draft")
    assert draft_files.exists()
    visible = selectors.file_list(viewer=as_role("customer"))
    assert not visible.filter(pk__in=draft_files).exists()
    assert visible.filter(quote__isnull=True).exists()


def test_second_customer_sees_company_two_and_nothing_of_company_one(
    in_acme, company_one, company_two
):
    viewer = factories.membership(in_acme, "customer2")
    assert list(selectors.company_list(viewer=viewer)) == [company_two]
    for queryset in (
        selectors.quote_list(viewer=viewer),
        selectors.order_list(viewer=viewer),
        selectors.invoice_list(viewer=viewer),
        selectors.file_list(viewer=viewer),
    ):
        assert queryset.exists()
        assert not queryset.filter(company=company_one).exists()


def test_customer_search_never_reaches_other_companies(in_acme, as_role, company_two):
    viewer = as_role("customer")
    assert not selectors.quote_list(viewer=viewer, q="Two").exists()
    assert not selectors.order_list(viewer=viewer, q=company_two.name).exists()
    assert not selectors.file_list(viewer=viewer, q="Two").exists()
    assert not selectors.company_list(viewer=viewer, q="Two").exists()


def test_installer_sees_only_orders_assigned_to_them(in_acme, as_role, member):
    installer = member("acme", "installer")
    company = make_company(in_acme)
    mine = make_order(in_acme, company=company, assignee=installer)
    theirs = make_order(in_acme, company=company, assignee=member("acme", "manager"))
    unassigned = make_order(in_acme, company=company)
    visible = selectors.order_list(viewer=as_role("installer"))
    assert mine in visible
    assert theirs not in visible
    assert unassigned not in visible
    assert set(visible.values_list("assignee_id", flat=True)) == {installer.pk}


def test_installer_sees_files_of_their_orders_and_no_invoices(in_acme, as_role, member):
    installer = member("acme", "installer")
    company = make_company(in_acme)
    mine = make_order(in_acme, company=company, assignee=installer)
    other = make_order(in_acme, company=company)
    on_order = make_file(in_acme, company=company, order=mine)
    on_quote = make_file(in_acme, company=company, quote=mine.quote)
    elsewhere = make_file(in_acme, company=company, order=other)
    loose = make_file(in_acme, company=company)
    visible = set(selectors.file_list(viewer=as_role("installer")))
    assert {on_order, on_quote} <= visible
    assert not {elsewhere, loose} & visible
    assert not selectors.invoice_list(viewer=as_role("installer")).exists()


def test_staff_see_the_whole_workspace(in_acme, as_role):
    viewer = as_role("employee")
    assert selectors.company_list(viewer=viewer).count() == Company.objects.count()
    assert selectors.quote_list(viewer=viewer).count() == Quote.objects.count()
    assert selectors.order_list(viewer=viewer).count() == Order.objects.count()
    assert selectors.invoice_list(viewer=viewer).count() == Invoice.objects.count()


def test_member_of_another_workspace_sees_nothing_here(in_acme, globex):
    outsider = factories.membership(globex, "owner")
    assert not selectors.company_list(viewer=outsider).exists()
    assert not selectors.quote_list(viewer=outsider).exists()
    assert not selectors.file_list(viewer=outsider).exists()


def test_inactive_or_missing_viewer_sees_nothing(in_acme, as_role):
    viewer = as_role("owner")
    viewer.is_active = False
    assert not selectors.company_list(viewer=viewer).exists()
    assert not selectors.order_list(viewer=None).exists()


def test_forbidden_and_missing_objects_raise_the_same_404(in_acme, as_role, company_two):
    two_quote = Quote.objects.filter(company=company_two, status="sent").first()
    viewer = as_role("customer")
    with pytest.raises(Http404) as forbidden:
        selectors.quote_get(viewer=viewer, pk=two_quote.pk)
    with pytest.raises(Http404) as missing:
        selectors.quote_get(viewer=viewer, pk=999_999_999)
    assert str(forbidden.value) == str(missing.value) == selectors.NOT_FOUND


def test_lookup_with_an_out_of_range_id_is_a_404_not_a_crash(in_acme, owner):
    with pytest.raises(Http404):
        selectors.order_get(viewer=owner, pk=10**30)


def test_search_matches_every_term_across_fields(in_acme, owner):
    harbor = make_company(in_acme, name="Harbor Cafe")
    make_quote(in_acme, company=harbor, title="Neon window sign")
    make_quote(in_acme, company=harbor, title="Menu board")
    found = selectors.quote_list(viewer=owner, q="harbor  neon")
    assert list(found.values_list("title", flat=True)) == ["Neon window sign"]


def test_company_search_finds_a_company_by_its_contacts_without_duplicates(in_acme, owner):
    from shop import services

    company = make_company(in_acme, name="Quiet Name Ltd")
    for name in ("Zed One", "Zed Two"):
        services.contact_create(tenant=in_acme, actor=owner, company=company, name=name)
    assert list(selectors.company_list(viewer=owner, q="zed")) == [company]


def test_search_of_the_marker_contact_email_finds_the_marker_company(in_acme, owner):
    found = selectors.company_list(viewer=owner, q="marker-contact@acme-marker.example")
    assert list(found.values_list("name", flat=True)) == ["MARKER-acme-COMPANY"]


def test_sort_uses_whitelisted_columns_in_both_directions(in_acme, owner):
    company = make_company(in_acme)
    make_quote(in_acme, company=company, lines=[factories.line(unit_price="1.00")])
    make_quote(in_acme, company=company, lines=[factories.line(unit_price="9999.00")])
    ascending = list(
        selectors.quote_list(viewer=owner, sort="total").values_list("total", flat=True)
    )
    descending = list(
        selectors.quote_list(viewer=owner, sort="-total").values_list("total", flat=True)
    )
    assert ascending == sorted(ascending)
    assert descending == sorted(descending, reverse=True)


@pytest.mark.parametrize(
    "sort", ["password", "company__memberships", "-", "total; DROP TABLE shop_quote", "?", ""]
)
def test_unknown_sort_falls_back_to_the_default_order(in_acme, owner, sort):
    default = list(selectors.quote_list(viewer=owner).values_list("pk", flat=True))
    assert list(selectors.quote_list(viewer=owner, sort=sort).values_list("pk", flat=True)) == (
        default
    )
    assert selectors.clean_sort(sort, selectors.QUOTE_SORTS) == ""


def test_status_filter_ignores_unknown_values(in_acme, owner):
    everything = selectors.quote_list(viewer=owner).count()
    assert selectors.quote_list(viewer=owner, status="nonsense").count() == everything
    sent = selectors.quote_list(viewer=owner, status="sent")
    assert set(sent.values_list("status", flat=True)) == {"sent"}


def test_dashboard_is_narrowed_to_the_viewer(in_acme, as_role, company_one):
    customer = selectors.dashboard(viewer=as_role("customer"))
    assert "company_count" not in customer  # customers have no companies:view
    assert {quote.company_id for quote in customer["recent_quotes"]} == {company_one.pk}
    installer = selectors.dashboard(viewer=as_role("installer"))
    assert set(installer) == {"active_order_count", "recent_orders", "file_count"}
    owner = selectors.dashboard(viewer=as_role("owner"))
    assert owner["company_count"] == Company.objects.count()
