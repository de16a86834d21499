"""Customer-company narrowing on every list and detail a customer may call, enumerated from
the router: lists hold only the customer's company's records, and another company's record is
exactly the missing-object 404."""

from __future__ import annotations

import pytest
from django.apps import apps
from django_tenants.utils import tenant_context

from api.tests.conftest import ApiClient, token_for
from api.tests.sweeps import PARAMETER_MODELS, QUERIES, routes
from kernel.capabilities import capabilities_for
from shop.models import Company, Quote
from shop.tests import factories

pytestmark = pytest.mark.django_db


def _records_for_both(acme, own_id: int) -> None:
    """A sent quote, an order with its invoice and a file for the customer's company and for
    another one (the seed already has a request and an asset per company)."""
    with tenant_context(acme):
        for company in (
            Company.objects.get(pk=own_id),
            Company.objects.exclude(pk=own_id).order_by("pk").first(),
        ):
            factories.make_quote(acme, company=company, status=Quote.Status.SENT)
            order = factories.make_order(acme, company=company)
            factories.make_invoice(acme, order=order)
            factories.make_file(acme, company=company)


@pytest.mark.sweep
def test_a_customer_gets_only_their_companys_records_on_every_list_and_detail(acme):
    customer = factories.membership(acme, "customer")
    own = customer.company_id
    _records_for_both(acme, own)
    client = ApiClient("acme", token_for("acme", "customer")[1])
    held = capabilities_for(customer)
    reads = [r for r in routes() if r.method == "GET" and r.capability in held]
    lists = [r for r in reads if not r.parameters]
    details = [r for r in reads if r.parameters]
    assert len(lists) >= 6
    assert len(details) >= 6
    for route in lists:
        response = client.get(route.route, {"limit": 200})
        assert response.status_code == 200, route
        items = response.json()["items"]
        assert items, f"{route}: nothing to check"
        assert {item["company_id"] for item in items} == {own}, route
    missing = client.get(details[0].path())
    assert missing.status_code == 404
    for route in details:
        model = apps.get_model(PARAMETER_MODELS[route.parameters[0]])
        with tenant_context(acme):
            theirs = list(model.objects.filter(company_id=own).values_list("pk", flat=True))
            others = list(model.objects.exclude(company_id=own).values_list("pk", flat=True))
        assert theirs, route
        assert others, route
        for object_id in others[-3:]:
            response = route.call(client, object_id)
            assert (response.status_code, response.content) == (404, missing.content), route
        if (route.method, route.route) not in QUERIES:  # the content needs a fresh link
            statuses = {route.call(client, object_id).status_code for object_id in theirs}
            assert 200 in statuses, route


@pytest.mark.sweep
def test_every_write_of_a_customer_on_another_companys_record_is_the_missing_object_404(acme):
    _records_for_both(acme, factories.membership(acme, "customer").company_id)
    missing = None
    checked = []
    for role in ("customer", "company_admin"):
        customer = factories.membership(acme, role)
        own = customer.company_id
        client = ApiClient("acme", token_for("acme", role)[1])
        missing = missing or client.get("/requests/999999999")
        held = capabilities_for(customer)
        writes = [
            r for r in routes() if r.method != "GET" and r.parameters and r.capability in held
        ]
        for route in writes:
            model = apps.get_model(PARAMETER_MODELS[route.parameters[0]])
            with tenant_context(acme):
                others = model.objects.exclude(company_id=own)
                before = {row["id"]: row for row in others.values()}
            assert before, route
            for object_id in sorted(before)[-2:]:
                response = route.call(client, object_id)
                assert (response.status_code, response.content) == (404, missing.content), route
            with tenant_context(acme):
                assert {row["id"]: row for row in others.values()} == before, route
            checked.append(str(route))
    assert missing.status_code == 404
    # Replies, solved and reopen on requests, accept and decline on quotes: at least these.
    assert len(set(checked)) >= 5, checked
