"""kernel.transactions: a real deadlock between two connections is run again (or, once the
attempts are used up, becomes the person-facing refusal), and only the outermost transaction
is ever retried."""

from __future__ import annotations

import threading
from collections import Counter

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction

from kernel.transactions import CONCURRENT_CHANGE, is_conflict, transaction_retrying
from tenants.models import Tenant


def test_deadlocks_and_serialization_failures_are_conflicts_other_errors_are_not():
    def wrapped(django_error, cause):
        error = django_error("from psycopg")
        error.__cause__ = cause
        return error

    assert is_conflict(wrapped(OperationalError, psycopg.errors.DeadlockDetected("x")))
    assert is_conflict(wrapped(OperationalError, psycopg.errors.SerializationFailure("x")))
    assert not is_conflict(wrapped(IntegrityError, psycopg.errors.UniqueViolation("x")))
    assert not is_conflict(wrapped(OperationalError, psycopg.errors.QueryCanceled("x")))
    assert not is_conflict(RuntimeError("not a database error"))


def _lock(pk: int) -> None:
    Tenant.objects.select_for_update().filter(pk=pk).first()


def _deadlock(attempts: int) -> tuple[list[object], list[BaseException], Counter]:
    """Two connections lock the two seeded workspaces' rows in opposite orders, each waiting
    (on its first attempt) until the other holds its first row: PostgreSQL must end one."""
    first, second = Tenant.objects.filter(slug__in=["acme", "globex"]).order_by("pk")
    both_hold_one = threading.Barrier(2)
    runs: Counter = Counter()
    results: list[object] = []
    failures: list[BaseException] = []

    def body(name: str, order: tuple[int, int]) -> str:
        runs[name] += 1
        _lock(order[0])
        if runs[name] == 1:
            both_hold_one.wait(timeout=30)
        _lock(order[1])
        return name

    def run(name: str, order: tuple[int, int]) -> None:
        try:
            results.append(transaction_retrying(lambda: body(name, order), attempts=attempts))
        except BaseException as error:  # reported in the main thread
            failures.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("ab", (first.pk, second.pk))),
        threading.Thread(target=run, args=("ba", (second.pk, first.pk))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, failures, runs


@pytest.mark.django_db
def test_a_real_deadlock_is_run_again_and_both_transactions_complete(django_db_blocker):
    with django_db_blocker.unblock():
        results, failures, runs = _deadlock(attempts=3)
    assert failures == []
    assert sorted(results) == ["ab", "ba"]
    assert sorted(runs.values()) == [1, 2]  # the one PostgreSQL ended ran once more


@pytest.mark.django_db
def test_a_conflict_outlasting_every_attempt_is_the_refusal_a_person_reads(django_db_blocker):
    with django_db_blocker.unblock():
        results, failures, runs = _deadlock(attempts=1)
    assert len(results) == 1
    [refusal] = failures
    assert isinstance(refusal, ValidationError)
    assert refusal.messages == [CONCURRENT_CHANGE]
    assert sorted(runs.values()) == [1, 1]


@pytest.mark.django_db
def test_inside_another_transaction_it_is_part_of_that_one(acme):
    """Nested (a company deleted with its people removes each membership): no durable block,
    no retry; the outer transaction's owner decides, and a rollback undoes the inner work."""
    with transaction.atomic():
        outer_depth = len(connection.atomic_blocks)
        depth = transaction_retrying(lambda: len(connection.atomic_blocks))
        assert depth == outer_depth + 1

    def outer_fails() -> None:
        with transaction.atomic():
            transaction_retrying(
                lambda: Tenant.objects.filter(pk=acme.pk).update(name="Renamed, then undone")
            )
            raise RuntimeError("the outer transaction fails")

    with pytest.raises(RuntimeError):
        outer_fails()
    acme.refresh_from_db()
    assert acme.name != "Renamed, then undone"


@pytest.mark.django_db
def test_at_the_top_it_opens_a_durable_transaction(acme):
    """Durable: a top-level service cannot be nested by accident (Django refuses it)."""
    assert transaction_retrying(lambda: connection.atomic_blocks[-1].durable) is True
