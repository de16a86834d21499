"""The API's gate: bearer token -> member -> the capability the operation declares.

Invariant: an operation runs only if (1) the host resolved to a live workspace (the tenant
middleware and ``workspace.middleware``: a closed workspace is a 404 before this), (2) the
request carries ``Authorization: Bearer <token>`` naming a live token of THIS workspace whose
member is still active, (3) the operation declares a capability (:func:`endpoint`; the suite
fails on one that does not) and (4) that capability is in the token's scopes intersected with
the member's capabilities now, narrowed by the workspace's state. No session or cookie is ever
read. Malformed, unknown, expired and revoked tokens all get the same 401 problem document; a
token of another workspace gets the 404 problem document a missing object gets. Requests
are counted per address before the token is looked at, and per token after, with the one
limiter (``accounts.throttle``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer

from accounts import throttle
from audit.events import Event
from audit.models import Outcome
from audit.services import audit_event_record
from kernel.capabilities import Capability, is_capability
from kernel.context import ActorKind, audit_context, client_ip
from tenants.writability import WORKSPACE_READ_ONLY_MESSAGE

from .services import Caller, TokenOfAnotherWorkspace, TokenUnknown, api_token_authenticate

PROBLEM_JSON = "application/problem+json"
UNAUTHORIZED = (
    "Send a valid API token as 'Authorization: Bearer <token>'. The token given is missing, "
    "malformed, unknown, expired or revoked."
)
NOT_FOUND = "No such record."
SCOPE_MISSING = "This token does not allow {capability}."
TOO_LARGE = "The request body is too large. Send files as multipart uploads to /files."
THROTTLED = "Too many API requests. Wait for the time Retry-After gives, then try again."

API_BY_ADDRESS = throttle.Limit(
    name="api_address",
    rules=(throttle.Rate(throttle.Per.IP, 1200, 60),),
    message=THROTTLED,
    event=Event.REQUEST_THROTTLED,
)
API_BY_TOKEN = throttle.Limit(
    name="api_token",
    rules=(throttle.Rate(throttle.Per.TOKEN, 600, 60),),
    message=THROTTLED,
    event=Event.REQUEST_THROTTLED,
)
API_LIMITS = (API_BY_ADDRESS, API_BY_TOKEN)

_DECLARATION = "required_capability"


class TokenRefused(Exception):
    """A live token asked for something its scopes or its member do not allow now."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- Problem documents (RFC 9457)


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    response = HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def unauthorized() -> HttpResponse:
    return problem(401, "Unauthorized", UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})


def not_found() -> HttpResponse:
    return problem(404, "Not Found", NOT_FOUND)


def _field_errors(error: ValidationError) -> list[dict[str, str]]:
    if hasattr(error, "error_dict"):
        return [
            {"field": "" if field == "__all__" else field, "message": str(message)}
            for field, messages in error.message_dict.items()
            for message in messages
        ]
    return [{"field": "", "message": str(message)} for message in error.messages]


def _pydantic_errors(error: NinjaValidationError) -> list[dict[str, str]]:
    found = []
    for item in error.errors:
        location = [str(part) for part in item.get("loc", ()) if part not in ("body", "payload")]
        found.append({"field": ".".join(location), "message": str(item.get("msg", "Invalid."))})
    return found


def install_error_handlers(api) -> None:
    """Every error the API answers is a problem document; nothing leaks a default page."""

    @api.exception_handler(TokenUnknown)
    @api.exception_handler(AuthenticationError)
    def _unauthorized(request, exc):
        return unauthorized()

    @api.exception_handler(TokenOfAnotherWorkspace)
    @api.exception_handler(Http404)
    def _not_found(request, exc):
        return not_found()

    @api.exception_handler(TokenRefused)
    def _refused(request, exc):
        return problem(403, "Forbidden", exc.message)

    @api.exception_handler(PermissionDenied)
    def _denied(request, exc):
        return problem(403, "Forbidden", str(exc) or "You may not do this.")

    @api.exception_handler(ValidationError)
    def _invalid(request, exc):
        errors = _field_errors(exc)
        detail = errors[0]["message"] if len(errors) == 1 else "The request has invalid fields."
        return problem(422, "Unprocessable Content", detail, errors=errors)

    @api.exception_handler(NinjaValidationError)
    def _malformed(request, exc):
        return problem(
            422,
            "Unprocessable Content",
            "The request has invalid fields.",
            errors=_pydantic_errors(exc),
        )

    @api.exception_handler(HttpError)
    def _http(request, exc):
        return problem(exc.status_code, HTTPStatus(exc.status_code).phrase, str(exc))

    @api.exception_handler(RequestDataTooBig)
    def _too_large(request, exc):
        return problem(413, HTTPStatus(413).phrase, TOO_LARGE)

    @api.exception_handler(throttle.Throttled)
    def _throttled(request, exc):
        return problem(
            429,
            "Too Many Requests",
            exc.message,
            headers={
                "Retry-After": str(exc.retry_after_seconds),
                "RateLimit": f"r=0, t={exc.retry_after_seconds}",
            },
        )


def rate_limit_policy() -> str:
    """The ``RateLimit-Policy`` header: each rule's quota and window, as configured."""
    parts = []
    for limit in API_LIMITS:
        for rule in limit.rules:
            if not isinstance(rule, throttle.Rate):
                continue
            effective = throttle.rule_now(rule)
            parts.append(f'"{effective.name}";q={effective.count};w={effective.seconds}')
    return ", ".join(parts)


# --- Authentication


class BearerToken(HttpBearer):
    """``Authorization: Bearer <token>``, nothing else (no cookie, no query parameter).

    Bound to an operation's declared capability (``api.v1`` does it for every operation), it
    also checks that capability, before ninja reads the request's parameters and body: a
    caller who may not call an operation learns nothing from its validation."""

    def __init__(self, capability: Capability | None = None):
        super().__init__()
        self.capability = capability

    def __call__(self, request: HttpRequest) -> Caller:
        # Counted per address first, so guessing tokens costs the same as using one.
        throttle.limit(API_BY_ADDRESS, ip=client_ip(request))
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise TokenUnknown
        return self.authenticate(request, value.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Caller:
        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.is_public:
            raise TokenOfAnotherWorkspace
        caller = api_token_authenticate(tenant=tenant, value=token, ip=client_ip(request))
        throttle.limit(API_BY_TOKEN, ip=client_ip(request), token=str(caller.token.pk))
        if self.capability is not None:
            with audit_context(**_caller_context(caller)):
                capability_check(caller, self.capability)
        return caller


# --- Operations


def endpoint(
    route: Callable[..., Callable[[Callable], Callable]],
    path: str,
    capability: Capability,
    **options: Any,
) -> Callable[[Callable], Callable]:
    """Declare an operation and the capability it needs, in one place::

        @endpoint(companies.get, "/companies", caps.COMPANIES_VIEW, response=..., url_name=...)

    The operation's authentication is a :class:`BearerToken` bound to ``capability`` (checked
    before the request is parsed), the document names the capability (``x-capability``), and
    the operation runs in the caller's audit context."""
    if not is_capability(capability):
        raise ValueError(f"unknown capability {capability!r}")

    def decorate(operation: Callable) -> Callable:
        @functools.wraps(operation)
        def run(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            caller: Caller = request.auth  # type: ignore[attr-defined]
            with audit_context(**_caller_context(caller)):
                capability_check(caller, capability)
                return operation(request, *args, **kwargs)

        setattr(run, _DECLARATION, capability)
        needs = f"Needs the `{capability}` permission: in the token's scopes and the member's role."
        description = f"{options.pop('description', '') or operation.__doc__ or ''}\n\n{needs}"
        route(
            path,
            auth=BearerToken(capability),
            openapi_extra={"x-capability": capability, **options.pop("openapi_extra", {})},
            description=description.strip(),
            **options,
        )(run)
        return run

    return decorate


def _caller_context(caller: Caller) -> dict[str, Any]:
    """The audit context of a request made with a token: the person, as an API token."""
    return {
        "actor_kind": ActorKind.API_TOKEN,
        "actor": caller.membership.user,
        "on_behalf_of": None,
        "api_token_id": caller.token.pk,
    }


def capability_check(caller: Caller, capability: Capability) -> None:
    if capability in caller.capabilities:
        return
    if capability in caller.held:  # the token and role allow it; the cancelled workspace not
        raise PermissionDenied(WORKSPACE_READ_ONLY_MESSAGE)
    with transaction.atomic():
        audit_event_record(
            event_type=Event.API_TOKEN_REFUSED,
            outcome=Outcome.FAILURE,
            target=caller.token,
            data={"capability": capability},
        )
    raise TokenRefused(SCOPE_MISSING.format(capability=capability))


def declared_capability(operation: Callable) -> Capability | None:
    value = getattr(operation, _DECLARATION, None)
    return value if is_capability(value) else None
