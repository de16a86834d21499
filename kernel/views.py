"""The small view framework every workspace app's pages are built from.

Invariants: these helpers hold no business rules and name no app (a template, a selector or a
service is always handed in by the calling view). The actor is the one the gate attached to
the request (``request.tenant`` and ``request.membership``, see :func:`actor_of`), never one
read from the form. A service's refusal, a ``ValidationError``, is shown to the person (next
to the field it names, at the top of the form, or as a flashed message on the page they are
sent back to) and never swallowed; a submitted form that fails answers 400. Writes happen
only on POST; a GET shows the form or the confirmation page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .listing import clean_search, clean_sort

PAGE_SIZE = 25
GET_POST = ["GET", "POST"]

SavedT = TypeVar("SavedT")


class WorkspaceRequest(HttpRequest):
    """A request the gate has let into a workspace view (for type checking only: the gate
    sets these attributes on Django's own request object).

    ``tenant`` is the workspace (a tenants.Tenant) and ``membership`` the acting member (an
    rbac.Membership); they are typed ``Any`` here because the ground floor names no higher
    floor. An app that knows the models narrows them in a subclass of its own."""

    tenant: Any
    membership: Any
    capabilities: frozenset[str]


def actor_of(request: WorkspaceRequest) -> dict[str, Any]:
    """The ``tenant`` and ``actor`` keyword arguments every service takes, from the gate."""
    return {"tenant": request.tenant, "actor": request.membership}


def add_service_error(form: BaseForm, error: ValidationError) -> None:
    """Put a service's ValidationError next to the field it names, or at the top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def flash_error(request: HttpRequest, error: ValidationError | PermissionDenied) -> None:
    """Show a service's refusal as a message on the next page the person sees."""
    text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
    messages.error(request, text)


def list_page(
    request: WorkspaceRequest,
    *,
    select: Callable[..., QuerySet[Any]],
    template: str,
    sorts: Mapping[str, Sequence[str]],
    filters: Sequence[tuple[str, str]] | None = None,
    filter_param: str = "status",
) -> HttpResponse:
    """A searchable, sortable, paginated list of what ``select`` (a list selector) shows the
    viewer. ``filters`` are the choices of the list's one filter, ``filter_param`` its query
    parameter; a list without ``filters`` passes the selector no filter."""
    narrowing = {} if filters is None else {filter_param: request.GET.get(filter_param, "")}
    records = select(
        viewer=request.membership,
        q=request.GET.get("q"),
        sort=request.GET.get("sort"),
        **narrowing,
    )
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page_obj": page,
        "q": clean_search(request.GET.get("q")),
        "sort": clean_sort(request.GET.get("sort"), sorts),
        "filters": filters or (),
        "filter_param": filter_param,
        "filter_value": request.GET.get(filter_param, ""),
    }
    return render(request, template, context)


def form_page(
    request: HttpRequest,
    *,
    form: BaseForm,
    save: Callable[[dict[str, Any]], SavedT],
    done: str | Callable[[SavedT], str],
    success_url: str | Callable[[SavedT], str],
    template: str,
    context: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """GET: the form. POST: a valid form runs ``save(cleaned_data)``, which calls the service
    and returns what it wrote; ``done`` (the success message) and ``success_url`` may be
    functions of that result. A submitted form that fails, on input or on the service's
    refusal (shown next to its field), answers 400."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(form.cleaned_data)
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, done(saved) if callable(done) else done)
            return redirect(success_url(saved) if callable(success_url) else success_url)
    status = 400 if request.method == "POST" else 200
    return render(request, template, {"form": form, **(context or {})}, status=status)


def confirm_delete_page(
    request: HttpRequest, *, template: str, obj: Model, kind: str, cancel_url: str
) -> HttpResponse:
    """The page that asks before ``obj`` (a ``kind``, as the page words it) is deleted."""
    return render(request, template, {"object": obj, "kind": kind, "cancel_url": cancel_url})


def delete_page(
    request: HttpRequest,
    *,
    template: str,
    obj: Model,
    kind: str,
    delete: Callable[[], object],
    cancel_url: str,
    done_url: str,
    done: str,
) -> HttpResponse:
    """GET: the confirmation page (``template``). POST: run the service's ``delete()``; its
    refusal is shown on the object's page (``cancel_url``), success on ``done_url``."""
    if request.method != "POST":
        return confirm_delete_page(
            request, template=template, obj=obj, kind=kind, cancel_url=cancel_url
        )
    try:
        delete()
    except ValidationError as error:
        flash_error(request, error)
        return redirect(cancel_url)
    messages.success(request, done)
    return redirect(done_url)
