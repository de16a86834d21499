"""Document requests' side of deleting a customer company with its records (declared on
DocRequestsConfig as ``company_records``; the shop asks ``kernel.plugins`` and never imports
this app): how many requests, items and uploads a company has, what deleting them needs, and
the deletion itself, inside the shop's transaction."""

from __future__ import annotations

from functools import partial

from django.db import transaction

from audit.events import Event
from audit.services import audit_event_record
from kernel import capabilities as caps
from kernel import storage
from kernel.capabilities import Capability, require
from rbac.models import Membership

from .models import DocumentRequest, RequestItem, Upload


class DocRequestCompanyRecords:
    def counts(self, company_id: int) -> dict[str, int]:
        requests = DocumentRequest.objects.filter(company_id=company_id)
        return {
            "document_requests": requests.count(),
            "document_request_items": RequestItem.objects.filter(request__in=requests).count(),
            "document_request_uploads": Upload.objects.filter(item__request__in=requests).count(),
        }

    def capabilities(self, counts: dict[str, int]) -> set[Capability]:
        return {caps.DOCREQUESTS_MANAGE} if counts.get("document_requests") else set()

    def delete(self, *, actor: Membership, company_id: int) -> None:
        """Delete the company's requests (items and uploads with them; the bytes after
        commit), each audited. Runs inside the caller's transaction."""
        for capability in sorted(self.capabilities(self.counts(company_id))):
            require(actor, capability)
        for document_request in DocumentRequest.objects.filter(company_id=company_id).order_by(
            "pk"
        ):
            keys = list(
                Upload.objects.filter(item__request=document_request).values_list(
                    "storage_key", flat=True
                )
            )
            audit_event_record(
                event_type=Event.DOCUMENT_REQUEST_DELETED,
                target=document_request,
                data={"company_id": company_id, "uploads": len(keys)},
            )
            document_request.delete()
            for key in keys:
                transaction.on_commit(partial(storage.delete, key))


COMPANY_RECORDS = DocRequestCompanyRecords()
