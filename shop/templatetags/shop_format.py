"""How the shop pages show money, dates and sortable column headers.

Invariant: every amount on a page goes through ``money`` (two decimals, thousands
separators, never a float) and every date through ``day`` / ``moment``, so the whole app
formats them one way.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import timezone
from django.utils.html import format_html

from shop import selectors
from shop.money import to_cents

register = template.Library()


@register.filter
def money(value) -> str:
    """``Decimal("12345.6")`` -> ``"12,345.60"``; empty for missing values."""
    if value is None or value == "":
        return ""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    return f"{to_cents(amount):,.2f}"


@register.filter
def day(value) -> str:
    if not value:
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        value = value.date()
    if isinstance(value, date):
        return _day(value)
    return ""


def _day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"  # 7 Mar 2025


@register.filter
def moment(value) -> str:
    if not isinstance(value, datetime):
        return day(value)
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{_day(local)} {local:%H:%M}"


@register.simple_tag(takes_context=True)
def sort_header(context, key: str, label: str, numeric: bool = False):
    """A column header that sorts by ``key``; a second click reverses the order.

    Rendered as a plain link that keeps the search (``q``) and other filters and resets the
    page, so it works without JavaScript.
    """
    request = context["request"]
    current = context.get("sort", "")
    params = request.GET.copy()
    params.pop("page", None)
    if current == key:
        params["sort"] = f"-{key}"
        state, arrow = "ascending", " ▲"
    elif current == f"-{key}":
        params["sort"] = key
        state, arrow = "descending", " ▼"
    else:
        params["sort"] = key
        state, arrow = None, ""
    classes = "num" if numeric else ""
    if state:
        return format_html(
            '<th scope="col" class="{}" aria-sort="{}"><a href="?{}">{}{}</a></th>',
            classes,
            state,
            params.urlencode(),
            label,
            arrow,
        )
    return format_html(
        '<th scope="col" class="{}"><a href="?{}">{}</a></th>', classes, params.urlencode(), label
    )


@register.filter
def quantity(value) -> str:
    """A quantity or percentage without trailing zeros: ``Decimal("2.50")`` -> ``"2.5"``."""
    if value is None or value == "":
        return ""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    if not number.is_finite():
        return ""
    return f"{number.normalize():,f}"


@register.filter
def all_held_in(needed, held) -> bool:
    """``{% if capabilities_needed|all_held_in:caps %}``: every needed capability is held."""
    return bool(held) and all(capability in held for capability in needed)


@register.simple_tag(takes_context=True)
def file_source(context, stored_file):
    """Where ``stored_file`` came from, when another app put it among the company's files
    (``selectors.file_sources``): an object with ``label`` and ``url``, or None. On a list,
    the sources of the whole page are looked up once."""
    page = context.get("page_obj")
    holder = page if page is not None else stored_file
    sources = getattr(holder, "_file_sources", None)
    if sources is None:
        ids = {record.pk for record in page} if page is not None else {stored_file.pk}
        sources = selectors.file_sources(ids)
        holder._file_sources = sources
    return sources.get(stored_file.pk)
