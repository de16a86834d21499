"""The welcome email leaves only after the sign-up transaction commits."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import transaction

from tenants.models import Tenant
from workspace.signup import sign_up_confirm
from workspace.tests.signup_helpers import IP, sign_up_emailed, token_in

pytestmark = pytest.mark.django_db

SIGN_UP = {
    "email": "Wile@Initech.example",
    "password": "a long passphrase for initech",
    "full_name": "Wile Coyote",
    "workspace_name": "Initech Signs",
    "slug": "initech",
}


def _link_token() -> str:
    token = token_in(sign_up_emailed(**SIGN_UP).body)
    mail.outbox.clear()
    return token


def test_welcome_email_is_sent_after_sign_up_commits_not_before(django_capture_on_commit_callbacks):
    token = _link_token()
    with django_capture_on_commit_callbacks() as callbacks:
        sign_up_confirm(token=token, slug="initech", ip=IP)
    assert mail.outbox == []  # inside the transaction nothing has left yet

    assert callbacks  # the welcome email waits among the on-commit callbacks
    for callback in callbacks:
        callback()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["wile@initech.example"]
    assert message.subject == "Welcome to Initech Signs on Shopsafe"
    assert "http://initech.localhost:8000/" in message.body


def test_no_welcome_email_when_sign_up_is_rolled_back(django_capture_on_commit_callbacks):
    token = _link_token()

    def sign_up_then_fail_later_in_the_request():
        with transaction.atomic():
            sign_up_confirm(token=token, slug="initech", ip=IP)
            raise RuntimeError("a later step of the request failed")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        sign_up_then_fail_later_in_the_request()

    assert callbacks == []
    assert mail.outbox == []
    assert not Tenant.objects.filter(slug="initech").exists()


def test_plain_text_emails_are_not_html_escaped(mailoutbox):
    from accounts.tasks import send_templated_email

    class Person:
        email = "obrien@example.com"

        def get_short_name(self):
            return "Seán O'Brien & <Co>"

    send_templated_email(
        to="obrien@example.com",
        template="welcome",
        context={
            "user": Person(),
            "workspace": {"name": "O'Brien Signs"},
            "url": "http://x/?a=1&b=2",
        },
    )
    body = mailoutbox[0].body
    assert "Seán O'Brien & <Co>" in body
    assert "http://x/?a=1&b=2" in body
    assert mailoutbox[0].subject == "Welcome to O'Brien Signs on Shopsafe"
