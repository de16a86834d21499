""" "Find my workspaces" on the public host: one list per address an hour, whoever asks, and the
same answer whether or not the address has workspaces."""

from __future__ import annotations

import re

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

VICTIM = "owner@acme.example"  # a member of acme: the list would name it
NOBODY = "nobody@nowhere.example"
IP = "203.0.113.80"
SENT = b"If that address belongs to any workspaces, we have emailed it a list of them."
ALREADY_ASKED = b"A list for this address was asked for less than an hour ago."
TOO_MANY = b"Too many requests from your network."
_CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"|"X-CSRFToken": "[^"]+"')


def _ask(email: str, ip: str = IP):
    return Client(HTTP_HOST="localhost", REMOTE_ADDR=ip).post(
        "/find-workspaces/", {"email": email}, follow=True
    )


def _lists_sent_to(email: str) -> int:
    return len([message for message in mail.outbox if message.to == [email]])


def test_a_hundred_requests_from_one_address_send_the_victim_one_email(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        statuses = [_ask(VICTIM).status_code for _ in range(100)]
    assert statuses == [200] + [429] * 99
    assert _lists_sent_to(VICTIM) == 1
    assert mail.outbox[0].subject == "Your Shopsafe workspaces"
    assert "http://acme.localhost:8000/" in mail.outbox[0].body


def test_an_address_gets_one_list_an_hour_whatever_address_asks(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        responses = [_ask(VICTIM, ip=f"198.51.100.{n}") for n in range(1, 6)]
    assert [r.status_code for r in responses] == [200, 429, 429, 429, 429]
    assert _lists_sent_to(VICTIM) == 1
    refused = responses[-1]
    assert ALREADY_ASKED in refused.content
    assert 3600 <= int(refused["Retry-After"]) <= 3600 + 60
    assert b'<form method="post"' in refused.content  # the form again, with the message


def test_one_address_asking_for_many_emails_is_refused_after_ten_an_hour(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        statuses = [_ask(f"someone{n}@example.com").status_code for n in range(11)]
    assert statuses == [200] * 10 + [429]
    refused = _ask("one-more@example.com")
    assert refused.status_code == 429
    assert TOO_MANY in refused.content
    assert int(refused["Retry-After"]) > 0


def test_the_answer_does_not_tell_whether_the_address_has_workspaces(
    django_capture_on_commit_callbacks,
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        time_machine.travel(timezone.now(), tick=False),
    ):
        first = [_ask(VICTIM, ip="198.51.100.20"), _ask(NOBODY, ip="198.51.100.21")]
        again = [_ask(VICTIM, ip="198.51.100.22"), _ask(NOBODY, ip="198.51.100.23")]
    for known, unknown in (first, again):
        assert known.status_code == unknown.status_code
        assert known.get("Retry-After") == unknown.get("Retry-After")
        same = _CSRF.sub(b"", known.content).replace(VICTIM.encode(), b"EMAIL")
        assert same == _CSRF.sub(b"", unknown.content).replace(NOBODY.encode(), b"EMAIL")
    assert SENT in first[0].content
    assert ALREADY_ASKED in again[0].content
    assert _lists_sent_to(VICTIM) == 1
    assert _lists_sent_to(NOBODY) == 0
