"""Request context for log lines: which workspace and which request."""

from __future__ import annotations

import logging
from contextvars import ContextVar

current_tenant: ContextVar[str] = ContextVar("current_tenant", default="-")
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")


class RequestContextFilter(logging.Filter):
    """Adds ``tenant`` and ``request_id`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.tenant = current_tenant.get()
        record.request_id = current_request_id.get()
        return True
