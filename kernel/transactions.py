"""A service's transaction, run again when PostgreSQL aborted it for a conflict with another.

Invariant: a deadlock (SQLSTATE 40P01) or a serialization failure (40001) rolls the whole
transaction back, so nothing of the attempt remains (its audit events and ``on_commit``
callbacks included) and running it again from the start is the correct answer. Only the
outermost transaction can be run again: :func:`transaction_retrying` opens a durable one and
retries it up to ``RETRY_ATTEMPTS`` times with a short random pause; called inside another
transaction it is a plain nested block and leaves the retrying to whoever owns the outer one.
A conflict that outlasts every attempt becomes a ``ValidationError`` with
``CONCURRENT_CHANGE``, which the pages show like any refusal: never a 500.

Retrying is the safety net; the first defence is taking row locks in one order, which is what
keeps a deadlock from happening at all (``rbac.services._common._lock_members``).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction

logger = logging.getLogger("kernel.transactions")

T = TypeVar("T")
RETRY_ATTEMPTS = 5
RETRY_PAUSE_SECONDS = 0.02  # the first pause's upper bound; it doubles with each attempt
DEADLOCK_DETECTED = "40P01"
SERIALIZATION_FAILURE = "40001"
RETRYABLE_SQLSTATES = frozenset({DEADLOCK_DETECTED, SERIALIZATION_FAILURE})

# What a person sees when the conflict persists (tests assert on it).
CONCURRENT_CHANGE = "Someone else changed this at the same moment. Please try again."

_jitter = random.SystemRandom()


def is_conflict(error: BaseException) -> bool:
    """Whether ``error`` is PostgreSQL aborting a transaction for a conflict with another
    (psycopg's error, wrapped by Django's, carries the SQLSTATE)."""
    cause = error.__cause__ if isinstance(error, DatabaseError) else None
    return getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES


def _outermost() -> bool:
    """No transaction is open, apart from a test case's (which Django's own durable check
    ignores the same way)."""
    return all(getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def transaction_retrying(work: Callable[[], T], *, attempts: int = RETRY_ATTEMPTS) -> T:
    """``work()`` in a durable transaction, run again after a deadlock or serialization
    failure; inside another transaction, in a nested block of it without retrying."""
    if not _outermost():
        with transaction.atomic():
            return work()
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic(durable=True):
                return work()
        except DatabaseError as error:
            if not is_conflict(error):
                raise
            sqlstate = getattr(error.__cause__, "sqlstate", "")
            if attempt == attempts:
                logger.warning("transaction conflict (%s) after %s attempts", sqlstate, attempt)
                raise ValidationError(CONCURRENT_CHANGE, code="concurrent_change") from error
            logger.info(
                "transaction conflict (%s), attempt %s: running it again", sqlstate, attempt
            )
            time.sleep(_jitter.uniform(0, RETRY_PAUSE_SECONDS * 2 ** (attempt - 1)))
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
