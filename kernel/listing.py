"""How a list page's search box and sort column are read from the query string.

Invariant: what these return is safe to show back and to hand to a selector: a search is at
most ``MAX_SEARCH_LENGTH`` characters of single-spaced text, and a sort is either a column the
list whitelists (optionally with ``-`` for descending) or ``""``, the list's default order.
Pure functions: no database, no request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MAX_SEARCH_LENGTH = 100


def clean_search(q: str | None) -> str:
    """``q`` with its whitespace collapsed, cut to ``MAX_SEARCH_LENGTH``."""
    return " ".join((q or "").split())[:MAX_SEARCH_LENGTH]


def clean_sort(sort: str | None, options: Mapping[str, Sequence[str]]) -> str:
    """``sort`` if it names a whitelisted column (optionally with ``-``), else ``""``."""
    sort = (sort or "").strip()
    return sort if sort.removeprefix("-") in options else ""
