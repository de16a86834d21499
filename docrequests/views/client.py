"""The client's pages: no account, only the link.

Invariants. ``link_open`` is the only URL that carries the token; it binds a short session to
that one request (``SESSION_KEY``: the request's id, the verified address, the last request's
time) and redirects to a token-free URL. Its answers (the redirect, or the "not available"
page rendered at the token's URL) carry ``Referrer-Policy: no-referrer``, so the token never
leaves in a ``Referer``. The token-free pages keep the site's ``same-origin``: under
``no-referrer`` browsers send ``Origin: null`` with a form's POST, which CSRF protection
rightly refuses, and their URLs hold nothing a same-host ``Referer`` could leak. Every page reads
the request again: a revoked or expired link, or a session idle for ``IDLE_SECONDS``, ends the
session at that request and shows the same page an unknown link gets, which reveals nothing.
The client sees only this request's checklist and the names of what was sent; nothing here
serves a file. Each view declares PUBLIC and its rate limits (``accounts.throttle``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import throttle
from accounts.throttle import Throttled
from kernel.capabilities import PUBLIC
from kernel.context import client_ip
from kernel.decorators import require_capability
from kernel.views import add_service_error

from .. import services
from ..forms import CodeForm, EmailForm, UploadForm
from ..models import DocumentRequest

SESSION_KEY = "docrequest_link"
IDLE_SECONDS = 30 * 60
UNAVAILABLE_TEMPLATE = "docrequests/client_unavailable.html"


def _no_referrer(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        return response

    return wrapped


def _unavailable(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_KEY, None)
    return render(request, UNAVAILABLE_TEMPLATE, status=404)


def _bound(request: HttpRequest) -> tuple[DocumentRequest | None, str | None]:
    """The live request this session is bound to and the verified address (None until the
    client has confirmed it), or (None, None) after ending a dead session."""
    state = request.session.get(SESSION_KEY)
    if not isinstance(state, dict):
        return None, None
    if time.time() - float(state.get("seen", 0)) > IDLE_SECONDS:
        return None, None
    request_id = state.get("request")
    if not isinstance(request_id, int):
        return None, None
    found = DocumentRequest.objects.select_related("issued_by").filter(pk=request_id)
    document_request = found.first()
    if document_request is None or not document_request.is_live():
        return None, None
    state["seen"] = time.time()
    request.session[SESSION_KEY] = state
    return document_request, state.get("email")


@require_capability(PUBLIC)
@throttle.link_visit_limited
@require_GET
@never_cache
@_no_referrer
def link_open(request: HttpRequest, token: str) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    document_request = services.request_for_token(token, tenant=tenant)
    if document_request is None:
        return _unavailable(request)
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "request": document_request.pk,
        "email": None,
        "seen": time.time(),
    }
    return redirect("docrequests:code")


@require_capability(PUBLIC)
@throttle.limited_by(services.CODE_REQUEST, services.CODE_CONFIRM)
@require_http_methods(["GET", "POST"])
@never_cache
def code_step(request: HttpRequest) -> HttpResponse:
    """Confirm the address the request was sent to: with an emailed code when the request
    requires one, by naming it otherwise."""
    document_request, email = _bound(request)
    if document_request is None:
        return _unavailable(request)
    if email:
        return redirect("docrequests:checklist")
    if request.tenant.is_read_only:  # type: ignore[attr-defined]
        context = {"document_request": document_request, "closed": True}
        status = 200 if request.method == "GET" else 403
        return render(request, "docrequests/client_code.html", context, status=status)
    state = request.session[SESSION_KEY]
    pending = state.get("pending_email")
    email_form = EmailForm(request.POST if request.POST.get("step") == "email" else None)
    code_form = CodeForm(request.POST if request.POST.get("step") == "code" else None)
    status = 200
    ip = client_ip(request)
    try:
        if request.method == "POST" and email_form.is_bound:
            status = 400
            if email_form.is_valid():
                address = email_form.cleaned_data["email"]
                if not document_request.require_code:
                    verified = services.link_open_without_code(
                        document_request=document_request, email=address
                    )
                    return _verified(request, verified)
                services.link_code_request(
                    tenant=request.tenant,  # type: ignore[attr-defined]
                    document_request=document_request,
                    email=address,
                    ip=ip,
                )
                state["pending_email"] = services.normalised_email(address)
                request.session[SESSION_KEY] = state
                return redirect("docrequests:code")
        elif request.method == "POST" and code_form.is_bound and pending:
            status = 400
            if code_form.is_valid():
                verified = services.link_code_confirm(
                    tenant=request.tenant,  # type: ignore[attr-defined]
                    document_request=document_request,
                    email=pending,
                    code=code_form.cleaned_data["code"],
                    ip=ip,
                )
                return _verified(request, verified)
        elif request.method == "POST":
            status = 400
    except Throttled as error:
        return throttle.refusal_page(request, error)
    except ValidationError as error:
        add_service_error(code_form if code_form.is_bound else email_form, error)
    except PermissionDenied:
        return _unavailable(request)
    context = {
        "document_request": document_request,
        "email_form": email_form,
        "code_form": code_form,
        "pending_email": pending,
    }
    return render(request, "docrequests/client_code.html", context, status=status)


def _verified(request: HttpRequest, email: str) -> HttpResponse:
    state = request.session[SESSION_KEY]
    state["email"] = email
    state.pop("pending_email", None)
    request.session.cycle_key()
    request.session[SESSION_KEY] = state
    return redirect("docrequests:checklist")


@require_capability(PUBLIC)
@throttle.not_limited("a page of one bound session; opening the link is counted")
@require_GET
@never_cache
def checklist(request: HttpRequest) -> HttpResponse:
    document_request, email = _bound(request)
    if document_request is None:
        return _unavailable(request)
    if not email:
        return redirect("docrequests:code")
    items = list(document_request.items.prefetch_related("uploads"))
    context = {
        "document_request": document_request,
        "items": items,
        "email": email,
        "missing": sum(1 for item in items if item.status in ("missing", "rejected")),
        "accepting": not request.tenant.is_read_only,  # type: ignore[attr-defined]
        "upload_form": UploadForm(),
    }
    return render(request, "docrequests/client_checklist.html", context)


@require_capability(PUBLIC)
@throttle.limited_by(services.UPLOAD)
@require_POST
@never_cache
def item_upload(request: HttpRequest, pk: int) -> HttpResponse:
    document_request, email = _bound(request)
    if document_request is None:
        return _unavailable(request)
    if not email:
        return redirect("docrequests:code")
    item = document_request.items.filter(pk=pk).first()
    if item is None:
        return _unavailable(request)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a file to send.")
        return redirect("docrequests:checklist")
    uploaded = form.cleaned_data["file"]
    try:
        services.item_upload(
            tenant=request.tenant,  # type: ignore[attr-defined]
            document_request=document_request,
            item=item,
            email=email,
            upload=services.FileIn(stream=uploaded.file, name=uploaded.name),
            ip=client_ip(request),
        )
    except Throttled as error:
        return throttle.refusal_page(request, error)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except PermissionDenied as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"“{services.clean_filename(uploaded.name)}” received.")
    return redirect("docrequests:checklist")
