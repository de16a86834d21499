"""Binds each request to the audit context (actor, IP, user agent, request id).

Sits right after AuthenticationMiddleware so ``request.user`` exists, and after
RequestIdMiddleware so ``request.request_id`` does.
"""

from __future__ import annotations

from kernel.context import _current, context_for_request


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current.set(context_for_request(request))
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
