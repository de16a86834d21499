"""Characters PostgreSQL cannot store, and text over its limit, on the shop's pages and
services: a clear refusal (a 400 page, a field error, a service's ValidationError), never a
500 and never a stored row."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from kernel.middleware import INPUT_UNSTORABLE_ADDRESS
from kernel.text import TEXT_NUL, TEXT_UNSTORABLE, text_too_long_message
from shop import services
from shop.models import ADDRESS_MAX_LENGTH, NOTES_MAX_LENGTH, Company

pytestmark = pytest.mark.django_db

SHOP_LISTS = ["company-list", "quote-list", "order-list", "invoice-list", "file-list"]


def url(name: str, *args) -> str:
    return reverse(f"shop:{name}", urlconf="config.urls_tenant", args=args)


@pytest.mark.parametrize("name", SHOP_LISTS)
def test_a_search_for_a_null_byte_answers_400_with_a_clear_message_on_every_shop_list(
    client_for, name
):
    response = client_for("acme", "owner").get(f"{url(name)}?q=%00")
    assert response.status_code == 400
    assert INPUT_UNSTORABLE_ADDRESS in response.content.decode()


@pytest.mark.parametrize("query", ["status=%00", "sort=%00", "page=%00", "%00=1", "q=a&q=b%00"])
def test_a_null_byte_in_any_query_parameter_or_its_name_answers_400(client_for, query):
    response = client_for("acme", "owner").get(f"{url('order-list')}?{query}")
    assert response.status_code == 400
    assert INPUT_UNSTORABLE_ADDRESS in response.content.decode()


def test_a_percent_encoded_lone_surrogate_reaches_the_page_as_a_replacement_character(
    client_for,
):
    """Django decodes the query string with errors="replace": the bytes of a lone surrogate
    become U+FFFD, which PostgreSQL stores and searches like any other character."""
    response = client_for("acme", "owner").get(f"{url('company-list')}?q=%ED%A0%80")
    assert response.status_code == 200
    assert response.context["q"] == "\ufffd\ufffd\ufffd"
    assert list(response.context["page_obj"]) == []


def test_company_notes_over_the_limit_are_a_field_error_and_nothing_is_stored(in_acme, client_for):
    before = Company.objects.count()
    response = client_for("acme", "owner").post(
        url("company-create"), {"name": "Longwinded Ltd", "notes": "n" * 1_000_000}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["notes"] == [
        text_too_long_message(NOTES_MAX_LENGTH, 1_000_000)
    ]
    assert Company.objects.count() == before


def test_company_notes_with_a_null_byte_are_a_field_error(in_acme, client_for):
    response = client_for("acme", "owner").post(
        url("company-create"), {"name": "Nul Ltd", "notes": "before\x00after"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["notes"] == [TEXT_NUL]
    assert not Company.objects.filter(name="Nul Ltd").exists()


def test_the_company_service_refuses_text_over_its_limit_or_unstorable_whoever_calls_it(
    in_acme, owner
):
    with pytest.raises(ValidationError) as refused:
        services.company_create(
            tenant=in_acme,
            actor=owner,
            name="Bad \ud800 Name",
            billing_address="b" * (ADDRESS_MAX_LENGTH + 1),
            notes="a\x00b",
        )
    assert refused.value.message_dict == {
        "name": [TEXT_UNSTORABLE],
        "billing_address": [text_too_long_message(ADDRESS_MAX_LENGTH, ADDRESS_MAX_LENGTH + 1)],
        "notes": [TEXT_NUL],
    }
    assert not Company.objects.filter(name__startswith="Bad ").exists()


def test_notes_at_the_limit_are_stored_whole(in_acme, owner):
    company = services.company_create(
        tenant=in_acme, actor=owner, name="Exactly Ltd", notes="n" * NOTES_MAX_LENGTH
    )
    company.refresh_from_db()
    assert len(company.notes) == NOTES_MAX_LENGTH
