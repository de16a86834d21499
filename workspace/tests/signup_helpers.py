"""Signing up through the real services: the form's step, the email, and the link's step."""

from __future__ import annotations

import re

from django.core import mail
from django.test import TestCase

from workspace import signup

IP = "192.0.2.44"
PASSWORD = "a long passphrase for a new shop"
LINK = re.compile(r"http://localhost:8000/signup/confirm/([^/\s]+)/")


def token_in(body: str) -> str:
    """The sign-up link's token in an email's body."""
    found = LINK.search(body)
    assert found, body
    return found.group(1)


def sign_up_emailed(
    *,
    email: str,
    slug: str,
    password: str = PASSWORD,
    full_name: str = "Dana Sun",
    workspace_name: str = "Sunrise Signs",
    ip: str = IP,
) -> mail.EmailMessage:
    """The form's step (``sign_up_request``), committed; the one email it sent."""
    before = len(mail.outbox)
    with TestCase.captureOnCommitCallbacks(execute=True):
        signup.sign_up_request(
            email=email,
            password=password,
            full_name=full_name,
            workspace_name=workspace_name,
            slug=slug,
            ip=ip,
        )
    (message,) = mail.outbox[before:]
    return message


def sign_up(
    *,
    email: str,
    slug: str,
    password: str = PASSWORD,
    full_name: str = "Dana Sun",
    workspace_name: str = "Sunrise Signs",
    ip: str = IP,
) -> signup.SignUpResult:
    """Both steps for an address without an account: the workspace, created from the link."""
    message = sign_up_emailed(
        email=email,
        slug=slug,
        password=password,
        full_name=full_name,
        workspace_name=workspace_name,
        ip=ip,
    )
    return signup.sign_up_confirm(token=token_in(message.body), slug=slug, ip=ip)
