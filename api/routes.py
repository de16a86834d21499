"""The two shapes most operations have, built once: a paginated list and a detail by id.

A resource then costs a selector call and a serializer::

    list_route(companies.get, "/companies", caps.COMPANIES_VIEW, item=schemas.Company,
               query=CompanyQuery, select=..., serialize=_company, url_name="companies")

Both go through :func:`api.gate.endpoint` (the capability is declared and checked there), read
through the selector the caller passes (narrowed to the caller's membership), and answer the
same 404 problem for a missing object and one the caller may not see. No ``from __future__
import annotations``: ninja reads these annotations at run time.
"""

import inspect
import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from ninja import Path, Query
from ninja.operation import Operation

from kernel.capabilities import Capability
from rbac.models import Membership

from . import schemas
from .gate import endpoint
from .pagination import ListQuery, check_sort, page

# Ids are positive bigints: anything else is a 422 before any lookup.
ID = Path(..., ge=1, le=2**63 - 1)

ERRORS = {
    400: schemas.Problem,
    401: schemas.Problem,
    403: schemas.Problem,
    404: schemas.Problem,
    422: schemas.Problem,
    429: schemas.Problem,
}
ERRORS_WRITE = {**ERRORS, 409: schemas.Problem}

_PARAMETER = re.compile(r"{(\w+)}")


def caller(request: HttpRequest) -> Membership:
    """The member the request's token belongs to (set by the gate before any operation)."""
    return request.auth.membership  # type: ignore[attr-defined]


def list_route(
    route: Callable[..., Any],
    path: str,
    capability: Capability,
    *,
    item: type,
    query: type[ListQuery],
    select: Callable[[Membership, Any], Any],
    serialize: Callable[[Any], Any],
    url_name: str,
    sorts: dict | None = None,
) -> Callable:
    """``GET path``: one keyset page of ``select(member, query)``, serialized.

    ``sorts`` is the selector's whitelist: a ``sort`` outside it is a 422 field error rather
    than the default order, so a typo never passes unnoticed."""

    def view(request: HttpRequest, filters: Query[query]):  # type: ignore[valid-type]
        if sorts is not None:
            check_sort(getattr(filters, "sort", ""), sorts)
        return page(select(caller(request), filters), query=filters, serialize=serialize)

    view.__name__ = view.__qualname__ = url_name.replace("-", "_") + "_list"
    return endpoint(
        route,
        path,
        capability,
        response={200: schemas.page_of(item), **ERRORS},
        url_name=url_name,
        operation_id=f"api_v1_{view.__name__}",
    )(view)


def detail_route(
    route: Callable[..., Any],
    path: str,
    capability: Capability,
    *,
    item: type,
    get: Callable[[Membership, int], Any],
    serialize: Callable[[Any], Any],
    url_name: str,
) -> Callable:
    """``GET path/{x_id}``: ``get(member, id)`` serialized; its selector raises the one 404."""
    (parameter,) = _PARAMETER.findall(path)

    def view(request: HttpRequest, **ids: int):
        return serialize(get(caller(request), ids[parameter]))

    view.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            inspect.Parameter(
                parameter, inspect.Parameter.KEYWORD_ONLY, default=ID, annotation=int
            ),
        ]
    )
    view.__name__ = view.__qualname__ = url_name.replace("-", "_") + "_detail"
    return endpoint(
        route,
        path,
        capability,
        response={200: item, **ERRORS},
        url_name=url_name,
        operation_id=f"api_v1_{view.__name__}",
    )(view)


def object_route(
    route: Callable[..., Any],
    path: str,
    capability: Capability,
    *,
    get: Callable[[Membership, int], Any],
    act: Callable[..., Any],
    url_name: str,
    item: type | None = None,
    payload: type | None = None,
    status: int = 200,
    description: str = "",
) -> Callable:
    """A write on one object: ``get(member, id)`` (the selector's one 404, so another
    company's or workspace's object is a missing one), then ``act(request, record)`` or, with
    a ``payload`` schema, ``act(request, record, payload)``, which calls the pages' service and
    returns what ``item`` serializes. Without ``item`` the answer is ``204 No Content``."""
    (parameter,) = _PARAMETER.findall(path)

    def view(request: HttpRequest, **kwargs: Any):
        record = get(caller(request), kwargs[parameter])
        body = () if payload is None else (kwargs["payload"],)
        result = act(request, record, *body)
        return (204, None) if item is None else (status, result)

    parameters = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter(parameter, inspect.Parameter.KEYWORD_ONLY, default=ID, annotation=int),
    ]
    if payload is not None:
        parameters.append(
            inspect.Parameter("payload", inspect.Parameter.KEYWORD_ONLY, annotation=payload)
        )
    view.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    view.__name__ = view.__qualname__ = url_name.replace("-", "_")
    answer = {204: None} if item is None else {status: item}
    return endpoint(
        route,
        path,
        capability,
        response={**answer, **ERRORS_WRITE},
        url_name=url_name,
        operation_id=f"api_v1_{view.__name__}",
        description=description,
    )(view)


def operations(api) -> list[tuple[str, str, Operation]]:
    """Every operation of ``api`` as (method, path, operation): what the sweeps walk."""
    found = []
    for _prefix, router in api._routers:  # ninja offers no public walk of its routers
        for route, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for method in operation.methods:
                    found.append((method, route, operation))
    return found
