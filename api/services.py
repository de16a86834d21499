"""Creating, revoking and authenticating personal API tokens.

Invariants: a token is created for an active member (never a support agent: platform staff
are never members, and no account without a person behind it exists), with scopes that are a
subset of that member's capabilities now and an expiry within ``MAX_LIFETIME_DAYS``. The
member revokes their own tokens; a member holding ``members:manage`` (owners, admins)
revokes anyone's. Creation and revocation write their audit event in the same transaction
(``audit.services``); refusals of a live token are audited by ``api.gate``. The token string
is returned once by ``api_token_create`` and never again: only its hash is stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from audit.events import Event
from audit.services import audit_event_record
from kernel.capabilities import (
    MEMBERS_MANAGE,
    READ_CAPABILITIES,
    Capability,
    capabilities_for,
    capabilities_in_state,
    is_capability,
)
from kernel.context import ActorKind, audit_context_get
from kernel.text import text_unstorable_message
from rbac.authz import current_member
from rbac.models import Membership
from tenants.models import Tenant
from tenants.writability import require_writable

from .models import ApiToken
from .tokens import token_display_prefix, token_hash, token_new, token_parse

MAX_LIFETIME_DAYS = 365
NAME_MAX = 100

NAME_REQUIRED = "Give the token a name, so you can tell it apart later."
NAME_TOO_LONG = f"Keep the name under {NAME_MAX} characters."
SCOPES_REQUIRED = "Choose at least one permission for the token."
SCOPE_UNKNOWN = "Unknown permission: {scope}."
SCOPE_NOT_HELD = "You cannot give a token a permission you do not have: {scope}."
EXPIRY_REQUIRED = "Choose when the token expires (at most one year from now)."
EXPIRY_TOO_FAR = "A token can live at most one year."
EXPIRY_PAST = "The expiry must be in the future."
SUPPORT_AGENT_REFUSED = "Support agents cannot create API tokens."
CANNOT_REVOKE = "You can revoke only your own tokens."
ALREADY_REVOKED = "This token is already revoked."


def _schema_check(tenant: Tenant) -> None:
    schema_name: str = connection.schema_name  # type: ignore[attr-defined]
    if schema_name != tenant.schema_name:
        raise RuntimeError(f"api service for {tenant.schema_name} called with {schema_name}")


def scopes_read_only(membership: Membership) -> list[Capability]:
    """The read-only preset: every read capability the member holds."""
    return sorted(c for c in capabilities_for(membership) if c in READ_CAPABILITIES)


def _clean_scopes(member: Membership, scopes: Iterable[str]) -> list[Capability]:
    held = capabilities_for(member)
    cleaned: list[Capability] = []
    for scope in scopes:
        scope = scope.strip()
        if not scope:
            continue
        if not is_capability(scope):
            raise ValidationError({"scopes": SCOPE_UNKNOWN.format(scope=scope[:40])})
        if scope not in held:
            raise ValidationError({"scopes": SCOPE_NOT_HELD.format(scope=scope)})
        if scope not in cleaned:
            cleaned.append(scope)
    if not cleaned:
        raise ValidationError({"scopes": SCOPES_REQUIRED})
    return sorted(cleaned)


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    secret: str  # the whole token string: show it once, store it nowhere


@transaction.atomic(durable=True)
def api_token_create(
    *,
    tenant: Tenant,
    owner: Membership,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None,
    created_by: Membership | None,
) -> CreatedToken:
    """A token for ``owner`` (the member it acts as). ``created_by`` is the member creating
    it on their settings page (always ``owner`` itself), or None for the system (the
    ``api_token_create`` command, run by a platform admin)."""
    _schema_check(tenant)
    member = current_member(tenant, owner)
    if created_by is not None and current_member(tenant, created_by).pk != member.pk:
        raise PermissionDenied(CANNOT_REVOKE)
    acting = audit_context_get()
    if member.user.is_support_agent or acting.current_actor_kind() == ActorKind.SUPPORT_AGENT:
        # No token for an agent's account, nor for a member an agent is impersonating.
        raise PermissionDenied(SUPPORT_AGENT_REFUSED)
    require_writable(tenant)
    errors: dict[str, str] = {}
    name = " ".join((name or "").split())
    if not name:
        errors["name"] = NAME_REQUIRED
    elif len(name) > NAME_MAX:
        errors["name"] = NAME_TOO_LONG
    elif (unstorable := text_unstorable_message(name)) is not None:
        errors["name"] = unstorable
    now = timezone.now()
    if expires_at is None:
        errors["expires_at"] = EXPIRY_REQUIRED
    elif expires_at <= now:
        errors["expires_at"] = EXPIRY_PAST
    elif expires_at > now + timedelta(days=MAX_LIFETIME_DAYS):
        errors["expires_at"] = EXPIRY_TOO_FAR
    try:
        cleaned = _clean_scopes(member, scopes)
    except ValidationError as error:
        errors.update({k: v[0] for k, v in error.message_dict.items()})
        cleaned = []
    if errors:
        raise ValidationError(errors)
    assert expires_at is not None  # noqa: S101 - checked just above; for mypy
    secret = token_new(tenant.pk)
    token = ApiToken.objects.create(
        name=name,
        display_prefix=token_display_prefix(secret),
        secret_hash=token_hash(secret),
        membership_id=member.pk,
        user_id=member.user_id,
        scopes=cleaned,
        created_at=now,
        created_by_id=None if created_by is None else created_by.user_id,
        expires_at=expires_at,
    )
    audit_event_record(
        event_type=Event.API_TOKEN_CREATED,
        target=token,
        actor=None if created_by is None else member.user,
        data={
            "for": member.user.email,
            "scopes": cleaned,
            "expires_at": expires_at.isoformat(),
        },
    )
    return CreatedToken(token=token, secret=secret)


@transaction.atomic(durable=True)
def api_token_revoke(*, tenant: Tenant, actor: Membership | None, token: ApiToken) -> ApiToken:
    """Revoke ``token``: by its own member, by a member who manages members, or by the
    system (``actor`` None: the ``api_token_revoke`` command)."""
    _schema_check(tenant)
    locked = ApiToken.objects.select_for_update().get(pk=token.pk)
    if actor is not None:
        member = current_member(tenant, actor)
        if locked.membership_id != member.pk and MEMBERS_MANAGE not in capabilities_for(member):
            raise PermissionDenied(CANNOT_REVOKE)
        actor = member
    if locked.revoked_at is not None:
        raise ValidationError(ALREADY_REVOKED)
    # Revoking stays possible in a cancelled workspace: it only takes access away.
    locked.revoked_at = timezone.now()
    locked.revoked_by_id = None if actor is None else actor.user_id
    locked.save(update_fields=["revoked_at", "revoked_by_id"])
    audit_event_record(
        event_type=Event.API_TOKEN_REVOKED,
        target=locked,
        actor=None if actor is None else actor.user,
        data={"by_owner_of_token": actor is not None and actor.pk == locked.membership_id},
    )
    return locked


# --- Authentication (api.gate)


class TokenUnknown(Exception):
    """Malformed, unknown, expired, revoked, or its member gone: one 401, whatever the case."""


class TokenOfAnotherWorkspace(Exception):
    """A well-formed token naming another workspace: the 404 a missing object gets."""


@dataclass(frozen=True)
class Caller:
    """Who an API request acts as: the token, its member as stored now, and what the two
    together may do in the workspace's current state."""

    token: ApiToken
    membership: Membership
    capabilities: frozenset[Capability]
    held: frozenset[Capability]  # the same, before the lifecycle state narrowed it


def token_capabilities(token: ApiToken, membership: Membership) -> frozenset[Capability]:
    return frozenset(c for c in capabilities_for(membership) if c in set(token.scopes))


def api_token_authenticate(*, tenant: Tenant, value: str, ip: str) -> Caller:
    parsed = token_parse(value)
    if parsed is None:
        raise TokenUnknown
    if parsed.workspace_id != tenant.pk:
        raise TokenOfAnotherWorkspace
    now = timezone.now()
    token = ApiToken.objects.filter(secret_hash=parsed.secret_hash).first()
    if token is None or not token.is_live(now):
        raise TokenUnknown
    membership = (
        Membership.objects.select_related("user")
        .filter(pk=token.membership_id, user_id=token.user_id, tenant=tenant, is_active=True)
        .first()
    )
    if membership is None or membership.user.is_support_agent or not membership.user.is_active:
        raise TokenUnknown
    membership.tenant = tenant
    # Last use, to the minute: one small write a minute per token, not one per request.
    if (
        token.last_used_at is None
        or now - token.last_used_at > timedelta(minutes=1)
        or (token.last_used_ip != (ip or None))
    ):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip or None)
    held = token_capabilities(token, membership)
    return Caller(
        token=token,
        membership=membership,
        capabilities=capabilities_in_state(held, cancelled=tenant.is_read_only),
        held=held,
    )
