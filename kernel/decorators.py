"""How a tenant view declares the capability it needs; the gate enforces it.

Invariant: a tenant URL whose view carries no declaration is refused by the gate (fail
closed), and the URL sweep test fails on it. A declaration is a :data:`ViewCapability`, so a
misspelt one is a mypy error; it is checked again when the view is declared and when the
gate reads it, for declarations mypy does not see.
"""

from __future__ import annotations

from collections.abc import Callable

from .capabilities import PUBLIC, ViewCapability, is_capability

_DECLARATION = "required_capability"


def require_capability(capability: ViewCapability) -> Callable:
    """Declare the capability a function view needs."""
    _check(capability)

    def decorate(view: Callable) -> Callable:
        setattr(view, _DECLARATION, capability)
        return view

    return decorate


class CapabilityRequiredMixin:
    """Class-based views set ``required_capability``; the gate reads it before dispatch."""

    required_capability: ViewCapability | None = None


def declared_capability(view_func: Callable) -> ViewCapability | None:
    """The capability a resolved view function declares, or None if it declares nothing."""
    capability = getattr(view_func, _DECLARATION, None)
    view_class = getattr(view_func, "view_class", None)
    if capability is None and view_class is not None:
        capability = getattr(view_class, _DECLARATION, None)
    if capability is None:
        return None
    return _check(capability)


def _check(capability: object) -> ViewCapability:
    if capability == PUBLIC:
        return PUBLIC
    if not is_capability(capability):
        raise ValueError(f"unknown capability {capability!r}")
    return capability
