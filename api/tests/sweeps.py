"""What the API sweeps share: every operation enumerated from the router, with a path and a
valid body to send, so what answers is the gate and the lookup, never input validation."""

from __future__ import annotations

import re
from dataclasses import dataclass

from api.gate import declared_capability
from api.v1 import operations

# A body each write accepts, per (method, route).
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
}
# The model each path parameter names.
PARAMETER_MODELS = {
    "company_id": "shop.Company",
    "ticket_id": "desk.Ticket",
    "member_id": "rbac.Membership",
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
            return client.get(path)
        sender = client.post if self.method == "POST" else client.put
        return sender(path, self.body)

    def __str__(self) -> str:
        return f"{self.method} {self.route}"


def routes() -> list[Route]:
    return [
        Route(method, route, declared_capability(operation.view_func))
        for method, route, operation in operations()
    ]
