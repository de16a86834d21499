"""The ground floor's view helpers, without a database: how list parameters are cleaned and
where a service's refusal is shown."""

from __future__ import annotations

from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import RequestFactory

from kernel.listing import MAX_SEARCH_LENGTH, clean_search, clean_sort
from kernel.views import actor_of, add_service_error, flash_error

SORTS = {"name": ["name"], "total": ["total", "name"]}


def test_search_collapses_whitespace_and_is_cut_to_the_limit():
    assert clean_search("  acme \t signs\n") == "acme signs"
    assert clean_search(None) == ""
    assert clean_search("x" * (MAX_SEARCH_LENGTH + 50)) == "x" * MAX_SEARCH_LENGTH


def test_sort_keeps_a_whitelisted_column_in_either_direction_and_drops_anything_else():
    assert clean_sort("name", SORTS) == "name"
    assert clean_sort(" -total ", SORTS) == "-total"
    assert [clean_sort(sort, SORTS) for sort in ("password", "--name", "-", "", None)] == [""] * 5


class _NamedForm(forms.Form):
    name = forms.CharField()


def test_a_service_error_naming_a_field_is_shown_next_to_it_and_any_other_at_the_top():
    form = _NamedForm({"name": "Acme"})
    assert form.is_valid()
    add_service_error(form, ValidationError({"name": "Taken.", "secret": "Hidden field."}))
    add_service_error(form, ValidationError("Not now."))

    assert form.errors["name"] == ["Taken."]
    assert form.non_field_errors() == ["Hidden field.", "Not now."]


def _request_with_messages():
    request = RequestFactory().get("/")
    request._messages = CookieStorage(request)
    return request


def test_a_refusal_is_flashed_as_one_message_whatever_its_kind():
    request = _request_with_messages()
    flash_error(request, ValidationError(["First.", "Second."]))
    flash_error(request, PermissionDenied("Not yours."))

    assert [str(message) for message in get_messages(request)] == ["First. Second.", "Not yours."]


def test_the_actor_comes_from_what_the_gate_attached_to_the_request():
    request = RequestFactory().get("/")
    request.tenant, request.membership = "the workspace", "the member"

    assert actor_of(request) == {"tenant": "the workspace", "actor": "the member"}
