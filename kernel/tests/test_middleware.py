"""The input middleware: where it looks for characters PostgreSQL cannot store (on requests
built by hand, without a database: no client can encode a lone surrogate, since Django
decodes the bytes of one into U+FFFD), and what the whole stack then answers."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict
from django.test import Client, RequestFactory
from django.utils.datastructures import MultiValueDict

from kernel.middleware import (
    INPUT_UNSTORABLE_ADDRESS,
    INPUT_UNSTORABLE_FIELD_NAME,
    INPUT_UNSTORABLE_FILE_NAME,
    unstorable_input,
)


def _query(*pairs: tuple[str, str]) -> QueryDict:
    query = QueryDict(mutable=True)
    for key, value in pairs:
        query.appendlist(key, value)
    return query


def test_ordinary_and_odd_but_storable_input_passes():
    request = RequestFactory().get("/", {"q": "\u202eRTL 👍🏽 \ufffd \x01", "page": "-1"})
    assert unstorable_input(request, {"pk": 3}) is None


def test_a_nul_or_lone_surrogate_in_any_query_value_or_name_is_refused():
    for pairs in (
        [("q", "a\x00")],
        [("q", "\ud800")],
        [("q", "fine"), ("q", "\udfff")],  # a repeated key's second value
        [("\x00", "1")],
        [("\ud800", "1")],
    ):
        request = RequestFactory().get("/")
        request.GET = _query(*pairs)
        assert unstorable_input(request, {}) == INPUT_UNSTORABLE_ADDRESS, pairs


def test_a_url_parameter_holding_one_is_refused():
    request = RequestFactory().get("/")
    assert unstorable_input(request, {"token": "abc\x00"}) == INPUT_UNSTORABLE_ADDRESS


def test_a_posted_field_name_holding_one_is_refused_but_values_are_left_to_the_form():
    request = RequestFactory().post("/", {"notes": "a\x00b"})
    assert unstorable_input(request, {}) is None
    request = RequestFactory().post("/", b"%00=1", content_type="application/x-www-form-urlencoded")
    assert unstorable_input(request, {}) == INPUT_UNSTORABLE_FIELD_NAME


def test_an_upload_whose_field_or_file_name_holds_one_is_refused():
    request = RequestFactory().post("/", {"title": "fine"})
    request.FILES  # noqa: B018 - parses the body, so the files can be replaced below
    request._files = MultiValueDict({"upload": [SimpleUploadedFile("fine.png", b"x")]})
    assert unstorable_input(request, {}) is None
    request._files["upload"].name = "bad\ud800.png"
    assert unstorable_input(request, {}) == INPUT_UNSTORABLE_FILE_NAME
    request._files = MultiValueDict({"up\x00load": [SimpleUploadedFile("fine.png", b"x")]})
    assert unstorable_input(request, {}) == INPUT_UNSTORABLE_FIELD_NAME


# --- Through the whole stack ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/", "/signup/?x=%00", "/find-workspaces/?%00=1", "/support/sign-in/?next=%00"]
)
def test_public_pages_refuse_a_nul_in_the_address_with_the_clear_400(path):
    response = Client(HTTP_HOST="localhost").get(path if "?" in path else f"{path}?q=a%00")
    assert response.status_code == 400
    assert INPUT_UNSTORABLE_ADDRESS in response.content.decode()


@pytest.mark.django_db
def test_a_posted_field_name_with_a_nul_is_refused_before_the_view_runs(client_for):
    from django.core import mail

    response = Client(HTTP_HOST="localhost").generic(
        "POST",
        "/find-workspaces/",
        b"email=owner%40acme.example&%00=1",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert INPUT_UNSTORABLE_FIELD_NAME in response.content.decode()
    assert mail.outbox == []


@pytest.mark.django_db
def test_the_gate_answers_first_a_visitor_who_is_not_signed_in_goes_to_sign_in(acme):
    response = Client(HTTP_HOST="acme.localhost").get("/companies/?q=%00")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/sign-in/?next=")


@pytest.mark.django_db
def test_a_refusal_is_one_log_line_naming_the_view_not_the_value(client_for, caplog):
    with caplog.at_level("WARNING", logger="kernel.input"):
        client_for("acme", "owner").get("/invitations/secret%00token/")
    assert [r.getMessage() for r in caplog.records if r.name == "kernel.input"] == [
        "request refused: unstorable character in its input (invitations:accept)"
    ]
