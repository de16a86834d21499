"""The Exports page of workspace settings: start an export, watch it, download it.

Every view declares ``exports:run``; the archive itself is reached only through a
single-use signed link (``download``), which the Download button mints and follows at once
and the "export ready" email carries. Objects are fetched through the selectors (a job of
another workspace is the same 404 as a missing one) and changed only through the services.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from kernel.capabilities import EXPORTS_RUN
from kernel.decorators import require_capability
from shop import storage

from . import selectors, services

EXPORT_STARTED_MESSAGE = "Export started. We will email you a download link when it is ready."
ARCHIVE_CONTENT_TYPE = "application/zip"
LIST_LENGTH = 20


def _actor(request) -> dict:
    return {"tenant": request.tenant, "actor": request.membership}


def _list_page(request, *, start_error: str = "", status: int = 200) -> HttpResponse:
    jobs = list(selectors.export_jobs_visible(viewer=request.membership)[:LIST_LENGTH])
    rows = [(job, selectors.export_job_progress(job)) for job in jobs]
    context = {
        "rows": rows,
        "running": any(job.is_active for job in jobs),
        "start_error": start_error,
        "archive_days": settings.EXPORT_ARCHIVE_DAYS,
    }
    return render(request, "exports/export_list.html", context, status=status)


@require_capability(EXPORTS_RUN)
@require_GET
def export_list(request):
    return _list_page(request)


@require_capability(EXPORTS_RUN)
@require_POST
def export_start(request):
    try:
        services.export_start(**_actor(request))
    except ValidationError as error:
        return _list_page(request, start_error=" ".join(error.messages), status=409)
    messages.success(request, EXPORT_STARTED_MESSAGE)
    return redirect("exports:list")


# A cancelled workspace is export-only: starting an export and minting a link stay open.
export_start.allowed_when_cancelled = True


@require_capability(EXPORTS_RUN)
def export_progress(request, pk: int):
    """The small partial the page polls (htmx) while a job runs."""
    job = selectors.export_job_get(viewer=request.membership, pk=pk)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return render(
        request,
        "exports/includes/progress.html",
        {"job": job, "progress": selectors.export_job_progress(job)},
    )


@require_capability(EXPORTS_RUN)
def export_link(request, pk: int):
    """Mint a fresh single-use link and follow it (the Download button)."""
    job = selectors.export_job_get(viewer=request.membership, pk=pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        token = services.export_link_issue(**_actor(request), job=job)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("exports:list")
    return redirect(reverse("exports:download", kwargs={"pk": job.pk, "token": token}))


export_link.allowed_when_cancelled = True


@dataclass(frozen=True)
class _Archive:
    """What ``shop.storage.download_response`` needs to hand out a stored object."""

    storage_key: str
    download_filename: str
    content_type: str = ARCHIVE_CONTENT_TYPE


@require_capability(EXPORTS_RUN)
def export_download(request, pk: int, token: str):
    job = selectors.export_job_get(viewer=request.membership, pk=pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    try:
        job = services.export_download_redeem(**_actor(request), job=job, token=token)
    except services.LinkRefused as refusal:
        return render(
            request, "exports/link_refused.html", {"job": job, "reason": str(refusal)}, status=410
        )
    filename = f"{request.tenant.slug}-{job.archive_filename}"
    return storage.download_response(_Archive(job.archive_key, filename))
