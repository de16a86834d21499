"""What the API sweeps share: every operation enumerated from the router, with a path and a
valid body to send, so what answers is the gate and the lookup, never input validation."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile

from api.gate import declared_capability
from api.v1 import operations

# A body each write accepts, per (method, route) (None: a DELETE, which has none).
BODIES = {
    ("POST", "/companies"): {"name": "Made by the sweep"},
    ("PUT", "/companies/{company_id}"): {"name": "Renamed by the sweep"},
    ("POST", "/tickets"): {
        "company_id": 999_999_999,
        "subject": "Sweep",
        "description": "Made by the sweep",
        "requester_name": "Sweep",
    },
    ("POST", "/tickets/{ticket_id}/messages"): {"body": "Sweep reply"},
    ("POST", "/requests"): {"subject": "Sweep", "description": "Made by the sweep"},
    ("POST", "/requests/{ticket_id}/messages"): {"body": "Sweep reply"},
    ("POST", "/contacts"): {"company_id": 999_999_999, "name": "Sweep"},
    ("PATCH", "/contacts/{contact_id}"): {"name": "Renamed by the sweep"},
    ("DELETE", "/contacts/{contact_id}"): None,
    ("PUT", "/quotes/{quote_id}"): {"company_id": 999_999_999, "title": "Sweep"},
    ("POST", "/orders/{order_id}/status"): {"status": "in_progress"},
    ("POST", "/invoices/{invoice_id}/pay"): {},
    ("POST", "/invoices/{invoice_id}/void"): {},
    ("PATCH", "/tickets/{ticket_id}"): {"priority": "high", "tags": ["sweep"]},
    ("POST", "/requests/{ticket_id}/solved"): {},
    ("POST", "/requests/{ticket_id}/reopen"): {},
    ("POST", "/assets"): {"company_id": 999_999_999, "asset_type": "Sweep", "name": "Sweep"},
    ("PATCH", "/assets/{asset_id}"): {"name": "Renamed by the sweep"},
    ("DELETE", "/assets/{asset_id}"): None,
    ("POST", "/quotes"): {"company_id": 999_999_999, "title": "Sweep"},
    ("POST", "/quotes/{quote_id}/send"): {},
    ("POST", "/quotes/{quote_id}/accept"): {},
    ("POST", "/quotes/{quote_id}/decline"): {},
    ("POST", "/orders"): {"quote_id": 999_999_999},
    ("POST", "/invoices"): {
        "order_id": 999_999_999,
        "issue_date": "2026-01-05",
        "due_date": "2026-02-05",
    },
    ("POST", "/files"): {"company_id": 999_999_999},  # multipart, with a PDF as "upload"
    ("DELETE", "/companies/{company_id}"): None,
    ("DELETE", "/quotes/{quote_id}"): None,
    ("POST", "/quotes/{quote_id}/record-acceptance"): {},
    ("POST", "/quotes/{quote_id}/record-decline"): {},
    ("DELETE", "/orders/{order_id}"): None,
    ("DELETE", "/invoices/{invoice_id}"): None,
    ("DELETE", "/files/{file_id}"): None,
    ("POST", "/tickets/{ticket_id}/merge"): {"into_id": 999_999_999},
    ("POST", "/tickets/{ticket_id}/sla-override"): {
        "target": "resolution",
        "kind": "waive",
        "reason": "Made by the sweep",
    },
    ("POST", "/exports"): {},
    ("POST", "/exports/{export_id}/link"): {},
}
# Query parameters a read needs (a link that is no link: the lookup answers first).
QUERIES = {
    ("GET", "/files/{file_id}/content"): {"link": "not-a-link"},
    ("GET", "/exports/{export_id}/download"): {"link": "not-a-link"},
}
# Sent as multipart/form-data (with an "upload" file) instead of JSON.
MULTIPART = {("POST", "/files")}
PDF = b"%PDF-1.4\n% sweep\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
# The model each path parameter names.
PARAMETER_MODELS = {
    "company_id": "shop.Company",
    "ticket_id": "desk.Ticket",
    "member_id": "rbac.Membership",
    "contact_id": "shop.Contact",
    "quote_id": "shop.Quote",
    "order_id": "shop.Order",
    "invoice_id": "shop.Invoice",
    "file_id": "shop.StoredFile",
    "asset_id": "desk.Asset",
    "event_id": "audit.AuditEvent",
    "export_id": "exports.ExportJob",
}
_PARAMETER = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Route:
    method: str
    route: str
    capability: str | None

    @property
    def parameters(self) -> list[str]:
        return _PARAMETER.findall(self.route)

    def path(self, object_id: int = 999_999_999) -> str:
        return _PARAMETER.sub(str(object_id), self.route)

    @property
    def body(self):
        return BODIES.get((self.method, self.route))

    def call(self, client, object_id: int = 999_999_999):
        path = self.path(object_id)
        if self.method == "GET":
            return client.get(path, QUERIES.get((self.method, self.route)))
        if (self.method, self.route) in MULTIPART:
            upload = SimpleUploadedFile("sweep.pdf", PDF, content_type="application/pdf")
            return client.upload(path, {**self.body, "upload": upload})
        if self.method == "DELETE":
            return client.delete(path)
        sender = {"POST": client.post, "PUT": client.put, "PATCH": client.patch}[self.method]
        return sender(path, self.body)

    def __str__(self) -> str:
        return f"{self.method} {self.route}"


def routes() -> list[Route]:
    return [
        Route(method, route, declared_capability(operation.view_func))
        for method, route, operation in operations()
    ]
