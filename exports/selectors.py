"""Reading export jobs.

Invariant: a viewer reads only the jobs of the schema that is current, only when that schema
is the viewer's own workspace and the viewer holds ``exports:run``; a job id from any other
workspace is the same 404 as an id that exists nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from kernel.capabilities import EXPORTS_RUN, require
from kernel.tenant_connection import tenant_connection

from .models import ExportJob
from .services import progress_cache_key


def _viewer_checked(viewer) -> None:
    require(viewer, EXPORTS_RUN)
    if getattr(tenant_connection.tenant, "pk", None) != viewer.tenant_id:
        raise PermissionDenied("the exports of another workspace")


def export_jobs_visible(*, viewer) -> QuerySet[ExportJob]:
    """The workspace's export jobs, newest first."""
    _viewer_checked(viewer)
    return ExportJob.objects.select_related("requested_by").order_by("-created_at", "-pk")


def export_job_get(*, viewer, pk: int) -> ExportJob:
    job = export_jobs_visible(viewer=viewer).filter(pk=pk).first()
    if job is None:
        raise Http404("no such export")
    return job


def export_job_active(*, viewer) -> ExportJob | None:
    return export_jobs_visible(viewer=viewer).filter(status__in=ExportJob.ACTIVE_STATUSES).first()


@dataclass(frozen=True)
class Progress:
    done: int
    total: int

    @property
    def percent(self) -> int:
        if self.total <= 0:
            return 0
        return min(100, self.done * 100 // self.total)


def export_job_progress(job: ExportJob) -> Progress:
    """Live figures from the worker while it runs; the row's figures otherwise."""
    if job.status == ExportJob.Status.RUNNING:
        live = cache.get(progress_cache_key(job))
        if live:
            return Progress(done=live["done"], total=live["total"])
    return Progress(done=job.progress_done, total=job.progress_total)
