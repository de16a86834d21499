"""The gate's one lookup: a signed-in request's session, user, tracked session, membership,
the "support is viewing" banner and whether an incident banner is due, in ONE statement, sent
together with the request's workspace context in one round trip
(``tenants.postgresql_backend``: ``fetch_in_context``).

Invariant: this lookup only saves queries; it decides nothing. Each row it reads is the row
the code it stands in for reads, under the same conditions: the session row that Django's
database session store loads (this key, not expired), the tracked session that
``accounts.sessions.session_enforce`` looks for (this key's digest, this workspace), the active
membership of that user in this workspace that the gate looks for, and the banner's query
(``support.selectors.workspace_support_until_query``, compiled once per process), and
whether the incident banner's query (``incidents.selectors.workspace_open_incidents``) finds
anything. The user
is accepted only where ``django.contrib.auth.get_user`` would accept it: the session's
backend is listed and is Django's ``ModelBackend``, the tracked session's user is the
session's user, the user may authenticate, and the session's hash verifies under the current
secret. In every other case
(no tracked session, another user, a hash that needs the fallback secrets, another session
engine, a session or user some earlier code already loaded) only what was read is primed and
the ordinary code reads and decides the rest, exactly as without this lookup.

All of it is read in the workspace's context (role and search_path), so row-level security
holds the shared tables to this workspace as for every other query of the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts.models import User, UserSession
from accounts.sessions import session_key_digest
from incidents.selectors import workspace_incident_open_sql
from rbac.models import Membership
from support.selectors import workspace_support_until_sql
from tenants.models import Domain, Tenant


@dataclass(frozen=True)
class GateLookup:
    """What the lookup established. ``user_id`` is set only when the request's user was
    accepted (and primed); ``tracked`` and ``membership`` belong to that user."""

    user_id: int | None
    tracked: UserSession | None
    membership: Membership | None
    support_active_until: datetime | None
    # The workspace's row as the statement read it, when the host still resolves to it (its
    # hostname row names it); None when it does not (re-addressed, purged): then nothing
    # else was read or primed, and the gate resolves the host again.
    tenant: Tenant | None = None
    # Whether an open incident affects this workspace (incidents.selectors), for the banner.
    incident_open: bool = False


def _fields(model) -> list:
    return list(model._meta.concrete_fields)


@lru_cache(maxsize=1)
def _statement_parts() -> tuple[str, list]:
    """The SELECT's fixed text (without the support sub-select) and its models' fields."""
    quote = connection.ops.quote_name

    def columns(model, alias: str) -> str:
        return ", ".join(f"{alias}.{quote(field.column)}" for field in _fields(model))

    def column(model, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    session_model = DatabaseSessionStore.get_model_class()
    # Only model metadata is interpolated; every value is a parameter. Driven by the
    # workspace's row, so the row is read (fresh, for the gate's state checks) whether or not
    # the session is found; it is found only while the host's hostname row still names it.
    text = (
        f"SELECT s.{column(session_model, 'session_data')}, {columns(UserSession, 'us')}, "  # noqa: S608
        f"{columns(User, 'u')}, {columns(Membership, 'm')}, ({{support}}), ({{incidents}}), "
        f"{columns(Tenant, 't')} "
        f"FROM {quote(Tenant._meta.db_table)} AS t "
        f"LEFT JOIN {quote(session_model._meta.db_table)} AS s "
        f"ON s.{column(session_model, 'session_key')} = %s "
        f"AND s.{column(session_model, 'expire_date')} > %s "
        f"LEFT JOIN {quote(UserSession._meta.db_table)} AS us "
        f"ON s.{column(session_model, 'session_key')} IS NOT NULL "
        f"AND us.{column(UserSession, 'key_digest')} = %s "
        f"AND us.{column(UserSession, 'tenant')} = t.{column(Tenant, 'id')} "
        f"LEFT JOIN {quote(User._meta.db_table)} AS u "
        f"ON u.{column(User, 'id')} = us.{column(UserSession, 'user')} "
        f"LEFT JOIN {quote(Membership._meta.db_table)} AS m "
        f"ON m.{column(Membership, 'user')} = us.{column(UserSession, 'user')} "
        f"AND m.{column(Membership, 'tenant')} = t.{column(Tenant, 'id')} "
        f"AND m.{column(Membership, 'is_active')} "
        f"WHERE t.{column(Tenant, 'id')} = %s AND EXISTS (SELECT FROM "
        f"{quote(Domain._meta.db_table)} AS d WHERE d.{column(Domain, 'domain')} = %s "
        f"AND d.{column(Domain, 'tenant')} = t.{column(Tenant, 'id')})"
    )
    return text, [_fields(UserSession), _fields(User), _fields(Membership), _fields(Tenant)]


def _instance(model, fields: list, values: tuple) -> Any:
    if values[0] is None:  # the primary key: LEFT JOIN found nothing
        return None
    return model.from_db(connection.alias, [field.attname for field in fields], values)


def gate_lookup(request, tenant: Tenant) -> GateLookup | None:
    """Read and prime what the gate needs for ``request`` on ``tenant``'s host, in one
    statement; None when there is nothing this lookup can read (no session cookie, another
    session engine, or the session or user already loaded by earlier code)."""
    session = request.session
    session_key = session.session_key
    if (
        not session_key
        or type(session) is not DatabaseSessionStore
        or hasattr(session, "_session_cache")  # already loaded: its own query ran
        or hasattr(request, "_cached_user")  # django.contrib.auth.middleware's cache
    ):
        return None
    now = timezone.now()
    support_sql, support_params = workspace_support_until_sql(tenant, now)
    incident_sql, incident_params = workspace_incident_open_sql(tenant)
    text, (tracked_fields, user_fields, membership_fields, tenant_fields) = _statement_parts()
    rows = connection.fetch_in_context(  # type: ignore[attr-defined]
        text.replace("{support}", support_sql).replace("{incidents}", incident_sql),
        [
            *support_params,
            *incident_params,
            session_key,
            now,
            session_key_digest(session_key),
            tenant.pk,
            _hostname(tenant),
        ],
    )
    if not rows:  # the host no longer resolves to this row: nothing read, nothing primed
        return GateLookup(None, None, None, None, tenant=None)
    row = rows[0]
    start = 1
    values = []
    for fields in (tracked_fields, user_fields, membership_fields):
        values.append(row[start : start + len(fields)])
        start += len(fields)
    support_active_until = row[start]
    incident_open = bool(row[start + 1])
    current = _instance(Tenant, tenant_fields, row[start + 2 :])
    current.domain_url = _hostname(tenant)  # as the host middleware set it
    if row[0] is None:
        # What the session store does for a missing or expired row: no key, empty data.
        session._session_key = None
        _prime(session, {})
        return GateLookup(
            None, None, None, support_active_until, tenant=current, incident_open=incident_open
        )
    data = session.decode(row[0])
    _prime(session, data)
    tracked = _instance(UserSession, tracked_fields, values[0])
    user = _instance(User, user_fields, values[1])
    if tracked is None or user is None or not _user_accepted(data, user):
        return GateLookup(
            None, None, None, support_active_until, tenant=current, incident_open=incident_open
        )
    membership = _instance(Membership, membership_fields, values[2])
    for instance in (tracked, membership):
        if instance is not None:
            type(instance).user.field.set_cached_value(instance, user)
            type(instance).tenant.field.set_cached_value(instance, current)
    request._cached_user = user  # what AuthenticationMiddleware's lazy request.user returns
    return GateLookup(
        user.pk,
        tracked,
        membership,
        support_active_until,
        tenant=current,
        incident_open=incident_open,
    )


def _hostname(tenant: Tenant) -> str:
    # The host the request named, as the host middleware resolved it (django-tenants sets it).
    return getattr(tenant, "domain_url", None) or ""


def _prime(session: DatabaseSessionStore, data: dict) -> None:
    """Give the session store the data its own ``load()`` would have read from this row (its
    private cache attribute: what ``SessionBase._get_session`` fills on first access)."""
    session._session_cache = data  # type: ignore[attr-defined]


def _user_accepted(data: dict, user: User) -> bool:
    """Whether ``django.contrib.auth.get_user`` would return ``user`` for session ``data``
    without changing the session (no fallback secret, no flush)."""
    backend_path = data.get(BACKEND_SESSION_KEY)
    if not isinstance(backend_path, str) or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return False
    backend = load_backend(backend_path)
    if not isinstance(backend, ModelBackend) or type(backend).get_user is not ModelBackend.get_user:
        return False
    try:
        session_user_id = User._meta.pk.to_python(data[SESSION_KEY])
    except (KeyError, ValidationError):
        return False
    session_hash = data.get(HASH_SESSION_KEY)
    return (
        session_user_id == user.pk
        and backend.user_can_authenticate(user)
        and isinstance(session_hash, str)
        and constant_time_compare(session_hash, user.get_session_auth_hash())
    )
