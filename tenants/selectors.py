"""Reads of workspaces."""

from __future__ import annotations

import copy
import threading
import time

from django.conf import settings
from django.core.cache import caches

from .models import Domain, Tenant


def _host_cache_key(hostname: str) -> str:
    return f"tenant-host:{hostname}"


def _platform_cache():
    # Not the tenant-aware default cache: invalidation may run inside a tenant's context, and
    # the key must be the same whatever schema is active. With Redis down this alias answers
    # misses (kernel.cache), so the lookup reads PostgreSQL.
    return caches["lookups"]


def tenant_for_hostname(hostname: str) -> Tenant | None:
    """The tenant a hostname resolves to, cached; None for an unknown host. Works from
    PostgreSQL alone when Redis is down."""
    key = _host_cache_key(hostname)
    cached = _platform_cache().get(key)
    if cached is not None:
        return cached or None
    domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    tenant = domain.tenant if domain else None
    # Cache misses too (as False) so a flood of unknown hosts does not reach the database.
    _platform_cache().set(key, tenant or False, settings.TENANT_HOST_CACHE_SECONDS)
    return tenant


def tenant_host_cache_forget(hostname: str) -> None:
    _platform_cache().delete(_host_cache_key(hostname))
    tenant_host_local_forget(hostname)


# --- The per-process host -> tenant map ------------------------------------------------------
#
# Invariant: a tenant read from this map is PROVISIONAL. It only lets the request start (the
# schema and its role for the context, the pk) without a round trip to Redis; nothing decides
# on it. The gate (workspace.middleware) replaces it before any view runs: with the tenant row
# its one statement reads anyway, in the same round trip, when the host still resolves to that
# row (tenants_domain), or else with the ordinary lookup above. So a cancelled, archived,
# purged or re-addressed workspace is never served from here, whatever the entry's age; the
# lifetime (TENANT_HOST_LOCAL_SECONDS) and the size bound only limit memory. Entries are
# dropped in this process on every change of a tenant or domain (tenants.signals); other
# processes learn of a change from the gate's statement.

_LOCAL_HOSTS_MAX = 4096
_local_hosts: dict[str, tuple[float, Tenant]] = {}
_local_lock = threading.Lock()


def tenant_for_hostname_provisional(hostname: str) -> tuple[Tenant | None, bool]:
    """The tenant ``hostname`` resolves to, and whether it came from this process's map
    (provisional: to be confirmed by the gate before any view) rather than the ordinary,
    invalidated lookup."""
    now = time.monotonic()
    entry = _local_hosts.get(hostname)
    if entry is not None and now - entry[0] < settings.TENANT_HOST_LOCAL_SECONDS:
        # A copy: a request may change its tenant object; the map's stays as read.
        return copy.copy(entry[1]), True
    tenant = tenant_for_hostname(hostname)
    if tenant is not None and settings.TENANT_HOST_LOCAL_SECONDS > 0:
        tenant_host_local_remember(hostname, tenant, now=now)
    return tenant, False


def tenant_host_local_remember(hostname: str, tenant: Tenant, *, now: float | None = None) -> None:
    """Keep ``tenant`` (as just read from the database or the ordinary lookup) for the host."""
    with _local_lock:
        if len(_local_hosts) >= _LOCAL_HOSTS_MAX and hostname not in _local_hosts:
            _local_hosts.clear()  # rare (that many hosts in one process): start over
        _local_hosts[hostname] = (
            time.monotonic() if now is None else now,
            copy.copy(tenant),
        )


def tenant_host_local_forget(hostname: str | None = None) -> None:
    """Drop the host's entry (every entry without a host) from this process's map."""
    with _local_lock:
        if hostname is None:
            _local_hosts.clear()
        else:
            _local_hosts.pop(hostname, None)


def workspace_url(tenant: Tenant, path: str = "/") -> str:
    """Absolute URL of a path inside a workspace, for emails and redirects."""
    port = f":{settings.APP_PORT}" if settings.APP_PORT not in ("", "80", "443") else ""
    return f"{settings.APP_SCHEME}://{tenant.slug}.{settings.APP_DOMAIN}{port}{path}"


def public_url(path: str = "/") -> str:
    port = f":{settings.APP_PORT}" if settings.APP_PORT not in ("", "80", "443") else ""
    return f"{settings.APP_SCHEME}://{settings.APP_DOMAIN}{port}{path}"


def current_workspace_id() -> int | None:
    """The workspace the connection is on (its schema), or None on the public schema: for
    emails and events that name the workspace an account change happened in."""
    from django.db import connection

    return (
        Tenant.objects.filter(schema_name=connection.schema_name)  # type: ignore[attr-defined]
        .exclude(schema_name="public")
        .values_list("pk", flat=True)
        .first()
    )
