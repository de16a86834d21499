"""Keyset (cursor) pagination for every list: ``?limit=`` and the opaque ``cursor`` the previous
page returned as ``next_cursor``.

Invariants:

* The order is total: the selector orders by its sort key, and the list ends on ``pk`` (added
  here in the direction of the last key when the selector did not), so "after this row" names
  exactly one position.
* A cursor holds the last row's values of the ordering keys, and the filters and sort it was
  made for. It is signed (``django.core.signing``, its own salt): a forged or edited cursor,
  or one replayed with other filters or another sort, is refused with a field error, never
  used to skip or repeat rows.
* The next page is "rows strictly after the last one" in the database's own order, written
  as a condition on the keys (PostgreSQL puts NULLs last ascending and first descending, and
  the condition does the same), so a row inserted or deleted between two pages moves nothing.
  Sort keys come from the selectors' whitelists; nothing the client sends becomes a column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any, cast

from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from ninja import Schema
from pydantic import Field

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
CURSOR_INVALID = "This cursor is not valid for this list; start again without one."
SORT_UNKNOWN = "Sort by one of: {options} (a leading - sorts descending)."
_SALT = "api.cursor.keyset"


class ListQuery(Schema):
    """The query parameters every list takes; each list adds its sort and filters."""

    cursor: str | None = Field(None, max_length=2000, description="next_cursor of the last page")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


def sort_field(options: Mapping[str, object]) -> Any:
    """A ``sort`` parameter whose document lists exactly the whitelisted values."""
    values = sort_values(options)
    return Field(
        "",
        max_length=40,
        description=f"One of {', '.join(v for v in values if v)}; empty for the default order.",
        json_schema_extra={"enum": cast(Any, values)},
    )


def sort_values(options: Mapping[str, object]) -> list[str]:
    return ["", *(name for key in options for name in (key, f"-{key}"))]


def check_sort(sort: str, options: Mapping[str, object]) -> str:
    if sort not in sort_values(options):
        names = ", ".join(options)
        raise ValidationError({"sort": SORT_UNKNOWN.format(options=names)})
    return sort


def ordered(
    queryset: QuerySet, sort: str, options: Mapping[str, Sequence[str]], default: Sequence[str]
) -> QuerySet:
    """``queryset`` in the whitelisted order ``sort`` names (``-`` descending), else
    ``default``; for lists whose selector does not sort."""
    sort = check_sort(sort, options)
    if not sort:
        return queryset.order_by(*default)
    descending = sort.startswith("-")
    fields = [f"-{f}" if descending else f for f in options[sort.removeprefix("-")]]
    return queryset.order_by(*fields, "-pk" if descending else "pk")


def _keys(queryset: QuerySet) -> list[tuple[str, bool]]:
    """The ordering as (lookup, descending) pairs, ending on the primary key."""
    keys: list[tuple[str, bool]] = []
    for item in queryset.query.order_by:
        if not isinstance(item, str) or item.startswith("?"):
            raise TypeError(f"keyset pagination needs column orderings, not {item!r}")
        descending = item.startswith("-")
        keys.append((item.removeprefix("-"), descending))
    if not keys or keys[-1][0] not in ("pk", "id"):
        keys.append(("pk", keys[-1][1] if keys else False))
    return keys


def _value_of(row: Any, lookup: str) -> Any:
    value = row
    for part in lookup.split("__"):
        if value is None:
            return None
        value = getattr(value, part)
    return value


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return {"s": str(value)}  # a UUID and the like: compared as its text form


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((kind, text),) = value.items()
        if not isinstance(text, str):
            raise ValueError("cursor value")
        if kind == "dt":
            return dt.datetime.fromisoformat(text)
        if kind == "d":
            return dt.date.fromisoformat(text)
        if kind == "n":
            return Decimal(text)
        if kind == "s":
            return text
        raise ValueError("cursor value")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ValueError("cursor value")


def _after(lookup: str, value: Any, descending: bool) -> Q:
    if value is None:  # NULLs sort last ascending, first descending
        return Q(pk__in=[]) if not descending else Q(**{f"{lookup}__isnull": False})
    if descending:
        return Q(**{f"{lookup}__lt": value})
    return Q(**{f"{lookup}__gt": value}) | Q(**{f"{lookup}__isnull": True})


def _equal(lookup: str, value: Any) -> Q:
    return Q(**{f"{lookup}__isnull": True}) if value is None else Q(**{lookup: value})


def _past(keys: Sequence[tuple[str, bool]], values: Sequence[Any]) -> Q:
    """Rows strictly after ``values`` in the order ``keys``, as one condition."""
    branches = []
    for index, (lookup, descending) in enumerate(keys):
        condition = _after(lookup, values[index], descending)
        for earlier in range(index):
            condition &= _equal(keys[earlier][0], values[earlier])
        branches.append(condition)
    return reduce(or_, branches)


def _position(cursor: str, context: Mapping[str, Any], keys: Sequence[tuple[str, bool]]) -> list:
    try:
        data = signing.loads(cursor, salt=_SALT)
    except signing.BadSignature:
        raise ValidationError({"cursor": CURSOR_INVALID}) from None
    if not isinstance(data, dict) or data.get("c") != context:
        raise ValidationError({"cursor": CURSOR_INVALID})
    encoded = data.get("k")
    if not isinstance(encoded, list) or len(encoded) != len(keys):
        raise ValidationError({"cursor": CURSOR_INVALID})
    try:
        return [_decode(value) for value in encoded]
    except ValueError:
        raise ValidationError({"cursor": CURSOR_INVALID}) from None


def _context(query: ListQuery) -> dict[str, Any]:
    return {
        name: (value.isoformat() if isinstance(value, dt.date) else value)
        for name, value in query.dict().items()
        if name not in ("cursor", "limit")
    }


def page(
    queryset: QuerySet,
    *,
    query: ListQuery,
    serialize: Callable[[Any], Any],
) -> dict[str, Any]:
    """One page of ``queryset``: ``{"items": [...], "next_cursor": str | None}``."""
    keys = _keys(queryset)
    context = _context(query)
    if query.cursor:
        queryset = queryset.filter(_past(keys, _position(query.cursor, context, keys)))
    rows = list(queryset[: query.limit + 1])
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_cursor = None
    if more:
        last = [_encode(_value_of(rows[-1], lookup)) for lookup, _ in keys]
        next_cursor = signing.dumps({"c": context, "k": last}, salt=_SALT, compress=True)
    return {"items": [serialize(row) for row in rows], "next_cursor": next_cursor}
