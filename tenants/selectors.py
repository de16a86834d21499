"""Reads of workspaces."""

from __future__ import annotations

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
