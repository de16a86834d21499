"""Two customer companies of one workspace never see each other's records.

Acme's seed has "Acme Customer One" (customer@, company_admin@) and "Acme Customer Two"
(customer2@). Over HTTP, for each person of one company, nothing of the other company shows
up - on any page, in any search, through a file download, or through a guessed id (which
answers exactly like an id that does not exist).
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils.html import escape
from django_tenants.utils import tenant_context

from conftest import sign_in_client
from desk.models import Asset, Ticket, TicketAttachment, TicketMessage
from kernel.capabilities import PUBLIC, ROLE_CAPABILITIES
from kernel.decorators import declared_capability
from rbac.models import Membership
from shop.models import Company, Invoice, Order, Quote, StoredFile
from shop.tests.seed import company_one_name, company_two_name
from tests.urls import TenantUrl, tenant_urls

pytestmark = pytest.mark.django_db

# (the person signed in, the company they belong to, the other company)
PEOPLE = [
    ("customer@acme.example", company_one_name("acme"), company_two_name("acme")),
    ("company_admin@acme.example", company_one_name("acme"), company_two_name("acme")),
    ("customer2@acme.example", company_two_name("acme"), company_one_name("acme")),
]
# Route prefix -> the model whose pk a customer-facing object URL names.
OBJECT_MODELS = {
    "companies/": Company,
    "contacts/": None,  # contacts are staff-only; no customer role holds companies:*
    "quotes/": Quote,
    "orders/": Order,
    "invoices/": Invoice,
    "files/": StoredFile,
    "portal/requests/": Ticket,
    "portal/attachments/": TicketAttachment,
    "portal/assets/": Asset,
}
_CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"|"X-CSRFToken": "[^"]+"')


def _records_of(company_name: str) -> dict:
    """Every id and every distinctive string of one company's records."""
    company = Company.objects.get(name=company_name)
    quotes = Quote.objects.filter(company=company)
    orders = Order.objects.filter(company=company)
    invoices = Invoice.objects.filter(company=company)
    files = StoredFile.objects.filter(company=company)
    strings = {company.name, company.email}
    strings |= {q.number for q in quotes} | {q.title for q in quotes}
    strings |= {o.number for o in orders} | {i.number for i in invoices}
    strings |= {f.original_filename for f in files}
    strings |= {line.description for q in quotes for line in q.lines.all()}
    tickets = Ticket.objects.filter(company_id=company.pk)
    attachments = TicketAttachment.objects.filter(ticket__in=tickets)
    assets = Asset.objects.filter(company_id=company.pk)
    strings |= {t.number for t in tickets} | {t.subject for t in tickets}
    strings |= {a.original_filename for a in attachments} | {a.serial for a in assets}
    strings |= set(TicketMessage.objects.filter(ticket__in=tickets).values_list("body", flat=True))
    return {
        "company": company,
        "ids": {
            Company: [company.pk],
            Quote: list(quotes.values_list("pk", flat=True)),
            Order: list(orders.values_list("pk", flat=True)),
            Invoice: list(invoices.values_list("pk", flat=True)),
            StoredFile: list(files.values_list("pk", flat=True)),
            Ticket: list(tickets.values_list("pk", flat=True)),
            TicketAttachment: list(attachments.values_list("pk", flat=True)),
            Asset: list(assets.values_list("pk", flat=True)),
        },
        "strings": sorted(s for s in strings if s),
        "memberships": list(
            Membership.objects.filter(company_id=company.pk).values_list("pk", flat=True)
        ),
    }


def _model_for(url: TenantUrl):
    for prefix in sorted(OBJECT_MODELS, key=len, reverse=True):
        if url.route.startswith(prefix):
            return OBJECT_MODELS[prefix]
    return None


def _body(response) -> bytes:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return _CSRF.sub(b"", body)


def _assert_none_of(strings, response, where: str, *, echo: str = "") -> None:
    body = _body(response)
    if echo:
        # The search box shows the query back; that is the visitor's own text, not a record.
        body = body.replace(escape(echo).encode(), b"")
    for text in strings:
        assert text.encode() not in body, f"{where} shows {text!r} of the other company"


@pytest.fixture
def person(acme):
    def make(email: str) -> tuple[Client, Membership]:
        membership = Membership.objects.select_related("user", "tenant").get(
            tenant=acme, user__email=email
        )
        return sign_in_client(Client(), membership.user, acme), membership

    return make


@pytest.mark.parametrize(("email", "own", "other"), PEOPLE)
def test_no_page_or_search_shows_the_other_companys_records(person, acme, email, own, other):
    client, membership = person(email)
    with tenant_context(acme):
        theirs = _records_of(other)
        mine = _records_of(own)
    searches = ["", "Two", "One", "Q-", "INV-", "proof", theirs["company"].name]
    pages = 0
    for url in tenant_urls():
        capability = declared_capability(url.callback)
        if url.converters or capability == PUBLIC:
            continue
        if capability not in ROLE_CAPABILITIES[membership.role]:
            continue
        for query in searches:
            response = client.get(url.path(), {"q": query} if query else {})
            if response.status_code == 405:
                break
            _assert_none_of(theirs["strings"], response, f"GET {url.name}?q={query}", echo=query)
            pages += 1
    assert pages > 20
    # The pages are not simply empty: this person's own records do show up.
    quotes = client.get("/quotes/").content.decode()
    assert any(number in quotes for number in mine["strings"] if number.startswith("Q-"))


@pytest.mark.parametrize(("email", "own", "other"), PEOPLE)
def test_a_guessed_id_of_the_other_company_answers_like_a_missing_one(
    person, acme, email, own, other
):
    client, membership = person(email)
    with tenant_context(acme):
        theirs = _records_of(other)
        states = {q.pk: q.status for q in Quote.objects.filter(company=theirs["company"])}
    checked = 0
    for url in tenant_urls():
        model = _model_for(url)
        capability = declared_capability(url.callback)
        if model is None or not url.converters:
            continue
        if capability not in ROLE_CAPABILITIES[membership.role]:
            continue  # the gate refuses before any lookup (the role matrix covers that)
        for method in ("get", "post"):
            missing = getattr(client, method)(url.path(**url.placeholder_kwargs()))
            for object_id in theirs["ids"][model]:
                response = getattr(client, method)(url.path(**url.placeholder_kwargs(object_id)))
                where = f"{method.upper()} {url.name}({object_id})"
                assert response.status_code == missing.status_code, where
                assert _body(response) == _body(missing), where
                checked += 1
    assert checked > 10
    with tenant_context(acme):
        after = {q.pk: q.status for q in Quote.objects.filter(company=theirs["company"])}
    assert after == states  # a POST to accept/decline someone else's quote changed nothing


@pytest.mark.parametrize(("email", "own", "other"), PEOPLE)
def test_file_downloads_serve_only_the_own_companys_files(person, acme, email, own, other):
    client, _membership = person(email)
    with tenant_context(acme):
        own_file = (
            StoredFile.objects.filter(company__name=own, order__isnull=False).order_by("pk").first()
        )
        other_files = list(StoredFile.objects.filter(company__name=other))
    response = client.get(f"/files/{own_file.pk}/download/")
    assert response.status_code in (200, 302)
    for stored in other_files:
        response = client.get(f"/files/{stored.pk}/download/")
        assert response.status_code == 404, stored.original_filename


def test_a_company_admin_of_one_company_cannot_reach_the_people_of_the_other(client_for, acme):
    """The company people pages are narrowed the same way."""
    client = client_for("acme", "company_admin")
    with tenant_context(acme):
        theirs = _records_of(company_two_name("acme"))
    missing = client.get("/settings/people/999999999/remove/")
    for pk in theirs["memberships"]:
        for method in ("get", "post"):
            response = getattr(client, method)(f"/settings/people/{pk}/remove/")
            assert response.status_code == missing.status_code == 404
    assert Membership.objects.filter(pk__in=theirs["memberships"]).count() == len(
        theirs["memberships"]
    )
    page = client.get("/settings/people/").content.decode()
    assert "customer2@acme.example" not in page
