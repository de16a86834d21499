"""Enumerate the URLconfs so sweeps cover every URL automatically."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class TenantUrl:
    name: str  # "namespace:name"
    callback: object
    converters: dict  # kwarg name -> converter instance
    route: str
    urlconf: str = "config.urls_tenant"

    def path(self, **values) -> str:
        from django.urls import reverse

        return reverse(self.name, urlconf=self.urlconf, kwargs=values)

    def placeholder_kwargs(self, object_id: int = 999_999_999) -> dict:
        """Kwargs that name an object that exists nowhere (the 'missing object' request)."""
        values: dict = {}
        for key, converter in self.converters.items():
            kind = type(converter).__name__
            if kind == "IntConverter":
                values[key] = object_id
            elif kind == "UUIDConverter":
                values[key] = uuid.UUID(int=object_id)
            else:
                values[key] = f"missing{object_id}"
        return values


def tenant_urls() -> list[TenantUrl]:
    return urls_of("config.urls_tenant")


def public_urls() -> list[TenantUrl]:
    """The public host's URLs (landing, sign-up, support console), enumerated the same way."""
    return urls_of("config.urls_public")


def urls_of(urlconf: str) -> list[TenantUrl]:
    found: list[TenantUrl] = []

    def walk(patterns, namespace: str | None, prefix: str, converters: dict) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                ns = entry.namespace or namespace
                nested = {**converters, **entry.pattern.converters}
                walk(entry.url_patterns, ns, prefix + str(entry.pattern), nested)
            elif isinstance(entry, URLPattern):
                if entry.name is None:
                    raise AssertionError(f"tenant URL {prefix}{entry.pattern} has no name")
                name = f"{namespace}:{entry.name}" if namespace else entry.name
                found.append(
                    TenantUrl(
                        name=name,
                        callback=entry.callback,
                        converters={**converters, **entry.pattern.converters},
                        route=prefix + str(entry.pattern),
                        urlconf=urlconf,
                    )
                )

    walk(get_resolver(urlconf).url_patterns, None, "", {})
    return found
