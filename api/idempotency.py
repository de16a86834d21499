"""``Idempotency-Key`` on POST: a retried create does not create twice.

The key is scoped to the token. The first request with a key claims it (a committed row), runs,
and on success stores its response; a retry with the same key and the same method, path and
body gets that response again (``Idempotent-Replayed: true``) without running anything; the
same key with another body is a 422; a retry while the first still runs is a 409. A failed
first request releases the key. Keys are kept ``KEEP_HOURS``.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from django.utils import timezone

from .models import IdempotentRequest

KEEP_HOURS = 24
KEY_MAX = 255
HEADER = "Idempotency-Key"
KEY_INVALID = f"{HEADER} must be 1 to {KEY_MAX} printable ASCII characters."
KEY_REUSED = f"This {HEADER} was already used for a different request."
KEY_IN_FLIGHT = f"A request with this {HEADER} is still running; retry in a moment."
_CLAIM = "_idempotency_claim"


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    for part in (request.method or "", request.path, *_body_parts(request)):
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def _body_parts(request: HttpRequest) -> list[bytes | str]:
    """The body; for a multipart upload (read as a stream, so ``request.body`` is gone) its
    fields and each file's name and bytes, which say the same."""
    try:
        return [request.body]
    except RawPostDataException:
        parts: list[bytes | str] = []
        for name, values in sorted(request.POST.lists()):
            parts += [name, *values]
        for name, uploads in sorted(request.FILES.lists()):
            for upload in uploads:
                upload.seek(0)
                parts += [name, upload.name or "", hashlib.sha256(upload.read()).hexdigest()]
                upload.seek(0)
        return parts


def _problem(status: int, title: str, detail: str) -> HttpResponse:
    from .gate import problem

    return problem(status, title, detail, errors=[{"field": HEADER, "message": detail}])


def idempotent(operation: Callable) -> Callable:
    """Wrap a POST operation (inside ``gate.endpoint``, so the caller is known)."""

    @functools.wraps(operation)
    def run(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return operation(request, *args, **kwargs)
        if not (0 < len(key) <= KEY_MAX and key.isascii() and key.isprintable()):
            return _problem(422, "Unprocessable Content", KEY_INVALID)
        token_id = request.auth.token.pk  # type: ignore[attr-defined]
        fingerprint = _fingerprint(request)
        cutoff = timezone.now() - timedelta(hours=KEEP_HOURS)
        IdempotentRequest.objects.filter(token_id=token_id, created_at__lt=cutoff).delete()
        try:
            with transaction.atomic():
                claim = IdempotentRequest.objects.create(
                    token_id=token_id, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            earlier = IdempotentRequest.objects.filter(token_id=token_id, key=key).first()
            if earlier is None:  # released a moment ago: the caller may simply retry
                return _problem(409, "Conflict", KEY_IN_FLIGHT)
            if earlier.fingerprint != fingerprint:
                return _problem(422, "Unprocessable Content", KEY_REUSED)
            if earlier.status == 0:
                return _problem(409, "Conflict", KEY_IN_FLIGHT)
            replay = HttpResponse(
                earlier.body, status=earlier.status, content_type=earlier.content_type
            )
            replay["Idempotent-Replayed"] = "true"
            return replay
        setattr(request, _CLAIM, claim)
        return operation(request, *args, **kwargs)

    return run


def settle(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """After the operation's response is rendered: keep a success, release anything else."""
    claim: IdempotentRequest | None = getattr(request, _CLAIM, None)
    if claim is None:
        return response
    if 200 <= response.status_code < 300:
        IdempotentRequest.objects.filter(pk=claim.pk).update(
            status=response.status_code,
            content_type=response.get("Content-Type", ""),
            body=response.content.decode(),
        )
    else:
        IdempotentRequest.objects.filter(pk=claim.pk).delete()
    return response
