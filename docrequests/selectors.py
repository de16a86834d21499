"""Reads of document requests for a member of the workspace. Only staff hold
``document_requests:view`` (a customer-role member never reaches these pages); lookups raise the
same 404 for a missing record and one the viewer may not see."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from kernel import capabilities as caps
from rbac.companies import company_names
from rbac.models import Membership

from .models import DocumentRequest, RequestItem, Upload


def _may_view(viewer: Membership) -> bool:
    return caps.has_capability(viewer, caps.DOCREQUESTS_VIEW)


def requests_visible(viewer: Membership) -> QuerySet[DocumentRequest]:
    if not _may_view(viewer):
        return DocumentRequest.objects.none()
    return DocumentRequest.objects.select_related("issued_by").annotate(
        item_count=Count("items", distinct=True),
        received_count=Count(
            "items",
            filter=Q(items__status__in=[RequestItem.Status.RECEIVED, RequestItem.Status.ACCEPTED]),
            distinct=True,
        ),
    )


def request_get(*, viewer: Membership, pk: int) -> DocumentRequest:
    found = requests_visible(viewer).filter(pk=pk).first()
    if found is None:
        raise Http404("No such document request.")
    return found


def item_get(*, viewer: Membership, pk: int) -> RequestItem:
    found = (
        RequestItem.objects.filter(pk=pk, request__in=requests_visible(viewer))
        .select_related("request")
        .first()
    )
    if found is None:
        raise Http404("No such document.")
    return found


def upload_get(*, viewer: Membership, pk: int) -> Upload:
    found = (
        Upload.objects.filter(pk=pk, item__request__in=requests_visible(viewer))
        .select_related("item__request")
        .first()
    )
    if found is None:
        raise Http404("No such file.")
    return found


def company_name_map(ids: set[int]) -> dict[int, str]:
    return company_names(ids)


def requests_live(viewer: Membership, *, now) -> QuerySet[DocumentRequest]:
    """The viewer's visible requests whose link works now (``DocumentRequest.is_live``)."""
    if not _may_view(viewer):
        return DocumentRequest.objects.none()
    return DocumentRequest.objects.filter(status=DocumentRequest.Status.OPEN, expires_at__gt=now)
