"""Cursor pagination for every list: ``?limit=`` and the opaque ``cursor`` the previous page
returned as ``next_cursor``.

The cursor is signed (``django.core.signing``), so a client cannot forge one; it carries the
position and the filters and sort it was made for, and a cursor replayed with other filters is
refused with a field error rather than silently skipping rows. The position is the number of
rows already returned in the selector's order (every selector orders by its sort key and then
by ``pk``, so the order is total).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
CURSOR_INVALID = "This cursor is not valid for this list; start again without one."
_SALT = "api.cursor"

Item = TypeVar("Item")


def page(
    queryset: QuerySet,
    *,
    cursor: str | None,
    limit: int,
    context: dict[str, Any],
    serialize: Callable[[Any], Item],
) -> dict[str, Any]:
    """One page of ``queryset``: ``{"items": [...], "next_cursor": str | None}``."""
    offset = 0
    if cursor:
        try:
            data = signing.loads(cursor, salt=_SALT)
        except signing.BadSignature:
            raise ValidationError({"cursor": CURSOR_INVALID}) from None
        if not isinstance(data, dict) or data.get("c") != context:
            raise ValidationError({"cursor": CURSOR_INVALID})
        position = data.get("o")
        if not isinstance(position, int) or position < 0:
            raise ValidationError({"cursor": CURSOR_INVALID})
        offset = position
    rows: Sequence[Any] = list(queryset[offset : offset + limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        signing.dumps({"o": offset + limit, "c": context}, salt=_SALT, compress=True)
        if more
        else None
    )
    return {"items": [serialize(row) for row in rows], "next_cursor": next_cursor}
