"""Tasks the broker could not take, kept in PostgreSQL and sent from there once it is back.

Invariant: ``kernel.tasks.QueuedTask`` calls ``unsent_task_keep`` (this app's
``unsent_task_keeper`` declaration) when publishing fails; ``unsent_tasks_send`` (beat, every
minute, ``tenants.tasks``) sends every due row with its original id and routing, and deletes
it once the broker took it. Rows live in the public schema and are written and read in the
public context only, whatever workspace the caller was in (row-level security, migration
0007). The payload is a Fernet token (AES and HMAC) under a key derived from ``SECRET_KEY``
(and its ``SECRET_KEY_FALLBACKS``, so a rotation does not strand a row): the database never
holds a link or code in clear, and a row it cannot authenticate is discarded with an error,
never run. Identical pending tasks (same task, arguments and routing) are kept once.

Why a record rather than a message to the person: the change that queued the task has already
committed when the broker refuses it (tasks go out ``on_commit``), so the only way not to lose
the email is to keep it; the person's request succeeds, and the email follows when Redis is
back. What is not covered: a process killed between the commit and the publish (the message
never reached either place), and an outage of Redis and PostgreSQL at once (then the request
fails and says so with the 503 page, kernel/errors.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from datetime import datetime, timedelta

from celery import Task, current_app
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_tenants.utils import get_public_schema_name, schema_context
from kombu.utils import json as kombu_json

from kernel.tasks import broker_down_errors

from .models import UnsentTask

logger = logging.getLogger("tenants.outbox")

_KEY_SALT = "tenants.outbox.UnsentTask"
SEND_BATCH = 500  # rows one sweep sends at most; the next minute's sweep takes the rest
RETRY_DELAY_MAX = timedelta(hours=1)


def _secrets() -> list[str]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def _fernet() -> MultiFernet:
    keys = [
        base64.urlsafe_b64encode(
            salted_hmac(_KEY_SALT, "fernet", secret=secret, algorithm="sha256").digest()
        )
        for secret in _secrets()
    ]
    return MultiFernet([Fernet(key) for key in keys])


def _fingerprint(plaintext: bytes) -> str:
    # Keyed, so the column says nothing about the arguments (a six-digit code has few values).
    key = salted_hmac(
        _KEY_SALT, "fingerprint", secret=settings.SECRET_KEY, algorithm="sha256"
    ).digest()
    return hmac.new(key, plaintext, hashlib.sha256).hexdigest()


def unsent_task_keep(
    *,
    task_name: str,
    task_id: str,
    args: list,
    kwargs: dict,
    options: dict,
    not_before: datetime,
) -> None:
    """Keep a task the broker refused (``kernel.tasks.QueuedTask`` calls this)."""
    message = {"task": task_name, "args": args, "kwargs": kwargs, "options": options}
    canonical = kombu_json.dumps(message, sort_keys=True).encode()
    row = UnsentTask(
        task_id=task_id,
        task_name=task_name,
        tenant_schema=str(kwargs.get("tenant_schema", ""))[:63],
        fingerprint=_fingerprint(canonical),
        payload=_fernet().encrypt(kombu_json.dumps({**message, "id": task_id}).encode()),
        next_attempt_at=not_before,
    )
    with schema_context(get_public_schema_name()):
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            # The same task with the same arguments is already waiting: one message will do.
            if not UnsentTask.objects.filter(fingerprint=row.fingerprint).exists():
                raise


def _retry_delay(attempts: int) -> timedelta:
    return min(timedelta(seconds=30 * 2**attempts), RETRY_DELAY_MAX)


def unsent_tasks_send(*, limit: int = SEND_BATCH) -> int:
    """Send every kept task that is due, oldest first; return how many the broker took.

    Stops at the first refusal (the broker is still down) and moves that row's next attempt
    back, doubling up to an hour. Rows locked by a concurrent sweep are skipped.
    """
    sent = 0
    now = timezone.now()
    with schema_context(get_public_schema_name()), transaction.atomic():
        due = (
            UnsentTask.objects.select_for_update(skip_locked=True)
            .filter(next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")[:limit]
        )
        for row in due:
            try:
                message = kombu_json.loads(_fernet().decrypt(bytes(row.payload)))
                name, args, kwargs = message["task"], message["args"], message["kwargs"]
            except (InvalidToken, ValueError, KeyError):
                logger.error(
                    "unsent task %s (%s) cannot be read: not written with this SECRET_KEY "
                    "or altered; discarded",
                    row.pk,
                    row.task_name,
                )
                row.delete()
                continue
            task = current_app.tasks.get(name)
            if task is None:  # a deploy renamed or removed it; an operator decides
                logger.error("unsent task %s names a task this worker does not know", row.pk)
                _postpone(row, "unknown task", now)
                continue
            try:
                # Celery's own Task.apply_async: publish or raise, never keep the row again.
                Task.apply_async(
                    task, args, kwargs, task_id=message["id"], **message.get("options", {})
                )
            except broker_down_errors() as error:
                _postpone(row, f"{type(error).__name__}: {error}", now)
                break
            row.delete()
            sent += 1
    if sent:
        logger.info("sent %s task(s) kept while the broker was down", sent)
    return sent


def _postpone(row: UnsentTask, reason: str, now: datetime) -> None:
    row.attempts += 1
    row.next_attempt_at = now + _retry_delay(row.attempts)
    row.last_error = reason[:200]
    row.save(update_fields=["attempts", "next_attempt_at", "last_error"])
