"""Who is acting, from where: the context every audit event is stamped with.

Invariant: outside a request (Celery tasks, management commands, seeds) the context is the
system with no actor, unless the caller says otherwise with :func:`audit_context`. Inside a
request the middleware binds the request; the actor is read from ``request.user`` when an
event is written, so an event recorded right after ``login()`` names the new user and one
recorded before ``logout()`` names the one leaving.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.db import models

USER_AGENT_MAX = 512


class ActorKind(models.TextChoices):
    USER = "user", "User"
    SUPPORT_AGENT = "support_agent", "Support agent"
    API_TOKEN = "api_token", "API token"
    SYSTEM = "system", "System"
    # A visitor who is not signed in (a failed sign-in, a sign-up in progress).
    ANONYMOUS = "anonymous", "Anonymous visitor"
    # A client without an account acting through a document request's link; the event's
    # actor email is the address the client verified, its data names the request and the
    # member who issued it (docrequests.services).
    DOCUMENT_REQUEST_LINK = "docrequest_link", "Document request link"


@dataclass(frozen=True)
class AuditContext:
    """The actor and request details stamped on each event written while it is current."""

    actor_kind: str = ActorKind.SYSTEM
    actor: Any = None  # a User, or None
    on_behalf_of: Any = None  # the user an agent is impersonating, or None
    ip: str = ""
    user_agent: str = ""
    request_id: str = ""
    request: Any = None  # bound by the middleware; the actor is then read from request.user
    # The personal API token a request authenticated with (api.gate); every event written
    # while it is current names it in its data (``api_token``).
    api_token_id: int | None = None

    def current_actor(self) -> Any:
        if self.request is not None and self.actor is None:
            user = getattr(self.request, "user", None)
            return user if user is not None and user.is_authenticated else None
        return self.actor

    def current_actor_kind(self) -> str:
        if self.request is not None and self.actor_kind == ActorKind.USER:
            return ActorKind.USER if self.current_actor() is not None else ActorKind.ANONYMOUS
        return self.actor_kind


SYSTEM = AuditContext()
_current: ContextVar[AuditContext] = ContextVar("audit_context", default=SYSTEM)


def audit_context_get() -> AuditContext:
    return _current.get()


@contextmanager
def audit_context(**fields: Any) -> Iterator[AuditContext]:
    """Run a block under an explicit context, e.g. a task acting for the system::

        with audit_context(actor_kind=ActorKind.SYSTEM, request_id=task.request.id): ...

    Fields not given are inherited from the enclosing context.
    """
    context = replace(_current.get(), **fields)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def system_audit_context(request_id: str = "") -> AbstractContextManager[AuditContext]:
    """Run a block as the system (a Celery task, beat, a management command), whatever
    request, agent or task is around it: no actor, no request details."""
    return audit_context(
        actor_kind=ActorKind.SYSTEM,
        actor=None,
        on_behalf_of=None,
        api_token_id=None,
        ip="",
        user_agent="",
        request=None,
        request_id=request_id,
    )


def context_for_request(request) -> AuditContext:
    return AuditContext(
        actor_kind=ActorKind.USER,
        ip=client_ip(request),
        user_agent=clean_text(request.headers.get("User-Agent", ""), USER_AGENT_MAX),
        request_id=getattr(request, "request_id", "") or "",
        request=request,
    )


def client_ip(request) -> str:
    """REMOTE_ADDR, or the address our own proxies saw when ``AUDIT_TRUSTED_PROXY_COUNT`` says
    there are that many of them in front of us (the left part of X-Forwarded-For is whatever
    the client typed, so it is never trusted)."""
    address = request.META.get("REMOTE_ADDR", "")
    hops = settings.AUDIT_TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    return normalized_ip(address)


def normalized_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return ""


def clean_text(value: str, limit: int) -> str:
    """PostgreSQL text cannot hold NUL; cut to the column's length."""
    return value.replace("\x00", "\ufffd")[:limit]
