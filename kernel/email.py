"""The one way the product sends email: plain-text templates rendered unescaped, sent with
``EmailMultiAlternatives`` from ``DEFAULT_FROM_EMAIL``.

Invariant: every email of every app goes through ``email_send`` (directly or through
``email_send_templated``), so the from-address, the rendering rules and the backend are the
same everywhere. Callers inside a transaction schedule the send with ``transaction.on_commit``
(or ``email_send_on_commit``), so nothing leaves for a change that is rolled back. A template
``<name>`` is the pair ``<name>.subject.txt`` (one line; whitespace collapsed) and
``<name>.txt``; ``<name>.html`` is added as an HTML alternative when it exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import Context, TemplateDoesNotExist
from django.template.loader import get_template, render_to_string


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    body: str
    html: str | None = None


def _render_plain_text(name: str, context: dict) -> str:
    # Plain-text mail is not HTML: escaping would turn "O'Brien" into "O&#x27;Brien".
    template = get_template(name).template  # type: ignore[attr-defined]  # Django backend
    return template.render(Context(context, autoescape=False))


def email_render(template: str, context: dict) -> RenderedEmail:
    """``template``'s subject, plain-text body and (when the template exists) HTML body."""
    subject = " ".join(_render_plain_text(f"{template}.subject.txt", context).split())
    body = _render_plain_text(f"{template}.txt", context)
    try:
        html: str | None = render_to_string(f"{template}.html", context)
    except TemplateDoesNotExist:
        html = None
    return RenderedEmail(subject=subject, body=body, html=html)


def email_send(
    *,
    to: Sequence[str],
    subject: str,
    body: str,
    html: str | None = None,
    reply_to: Sequence[str] = (),
) -> None:
    """One message to every address in ``to`` (they see each other), from DEFAULT_FROM_EMAIL.
    ``reply_to`` sets Reply-To (an address of the product's, never another person's)."""
    message = EmailMultiAlternatives(
        subject, body, settings.DEFAULT_FROM_EMAIL, list(to), reply_to=list(reply_to) or None
    )
    if html is not None:
        message.attach_alternative(html, "text/html")
    message.send()


def email_send_templated(
    *, to: Sequence[str], template: str, context: dict, separately: bool = False
) -> None:
    """Render ``template`` once and send it to ``to``: one message for all of them, or with
    ``separately`` one message per address (recipients who must not see each other)."""
    email = email_render(template, context)
    batches = [[address] for address in to] if separately else [list(to)]
    for batch in batches:
        email_send(to=batch, subject=email.subject, body=email.body, html=email.html)


def email_send_on_commit(
    *, to: Sequence[str], subject: str, body: str, reply_to: Sequence[str] = ()
) -> None:
    """``email_send`` once the current transaction commits (at once outside one)."""
    recipients, replies = list(to), list(reply_to)
    transaction.on_commit(
        lambda: email_send(to=recipients, subject=subject, body=body, reply_to=replies)
    )
