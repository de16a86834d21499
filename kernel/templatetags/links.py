"""``{% link %}``: the URL ``{% url %}`` would give, without a URL reversal per use.

Invariant: ``{% link name %}`` and ``{% link name pk %}`` render exactly what ``{% url name %}``
and ``{% url name pk %}`` render. The URL of a name is reversed once per URL configuration and
script prefix; a URL that takes one id is reversed once with a stand-in id and rebuilt around
the real one, which is only done for a non-negative ``int`` (what an ``<int:...>`` route
turns into the same digits). Anything else, and any name that does not reverse with the
stand-in, goes through ``reverse`` as ``{% url %}`` does. A list page with 25 rows and the
navigation otherwise spends one reversal per link (issue #14).
"""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

register = template.Library()

# An id no table reaches; the URL is cut around its digits.
_STAND_IN = 987_654_321_987_654_321


@lru_cache(maxsize=1024)
def _parts(urlconf: str, prefix: str, name: str, with_id: bool) -> tuple[str, str] | None:
    """(before the id, after it) of ``name``'s URL, or None when it cannot be cut."""
    if not with_id:
        return reverse(name, urlconf=urlconf), ""
    try:
        url = reverse(name, args=[_STAND_IN], urlconf=urlconf)
    except NoReverseMatch:
        return None
    before, found, after = url.partition(str(_STAND_IN))
    if not found or str(_STAND_IN) in after:
        return None
    return before, after


def link_url(name: str, *args) -> str:
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    if not args:
        parts = _parts(urlconf, get_script_prefix(), name, False)
        return parts[0] if parts else reverse(name)
    if len(args) == 1 and type(args[0]) is int and args[0] >= 0:
        parts = _parts(urlconf, get_script_prefix(), name, True)
        if parts is not None:
            return f"{parts[0]}{args[0]}{parts[1]}"
    return reverse(name, args=args)


@register.simple_tag
def link(name: str, *args) -> str:
    return link_url(name, *args)


@receiver(setting_changed)
def _forget(**kwargs) -> None:
    if kwargs["setting"] in ("ROOT_URLCONF", "FORCE_SCRIPT_NAME"):
        _parts.cache_clear()
