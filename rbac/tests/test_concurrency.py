"""Two owners changing each other at the same moment, on committed rows and separate
connections: every membership change locks its rows in one order (so none deadlocks), a
deadlock or serialization failure would be retried inside the service, and the workspace keeps
exactly one owner. Nothing reaches the person as a 500."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client

from accounts.models import User
from audit.tests.streams import committed_workspace
from conftest import PASSWORD, sign_in_client
from kernel.roles import Role
from rbac import services
from rbac.authz import ACTOR_NOT_IN_WORKSPACE
from rbac.models import Membership

# The mark makes pytest-django create the test database even when this module runs alone.
# The test's own transaction is never written to: threads see only committed rows, so every
# read and write of the tests goes through _committed (a connection of its own).
pytestmark = pytest.mark.django_db
ROUNDS = 12


def _committed(work: Callable[[], object]) -> object:
    """Run ``work`` on a connection of its own (autocommit), outside the test's transaction."""
    results, failures = _race(work)
    if failures:
        raise failures[0]
    return results[0]


@pytest.fixture(scope="module")
def duel(django_db_setup, django_db_blocker):
    """A committed workspace with two owners (threads see only committed rows). The two
    accounts stay behind (the discarded schema's audit rows name them); their emails are
    this module's own."""
    with committed_workspace("duel-signs", django_db_blocker) as tenant:
        with django_db_blocker.unblock():
            owners = []
            for name in ("first", "second"):
                user = User.objects.create_user(
                    email=f"{name}@duel.example", password=PASSWORD, full_name=name.title()
                )
                owners.append(Membership.objects.create(user=user, tenant=tenant, role="owner"))
        yield tenant, owners


def _both_owners_again(tenant, owners) -> list[Membership]:
    """Before each round: both are owners again (recreated if a round removed one)."""
    fresh = []
    for membership in owners:
        row, _ = Membership.objects.update_or_create(
            user=membership.user, tenant=tenant, defaults={"role": Role.OWNER, "is_active": True}
        )
        fresh.append(Membership.objects.select_related("user", "tenant").get(pk=row.pk))
    return fresh


def _race(*work: Callable[[], object]) -> tuple[list[object], list[BaseException]]:
    """Run each callable on its own thread and connection, released at the same moment."""
    start = threading.Barrier(len(work))
    results: list[object] = []
    failures: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        try:
            start.wait()
            results.append(job())
        except (ValidationError, PermissionDenied) as refusal:
            results.append(refusal)  # the rules' answer, shown to the person
        except BaseException as error:  # reported in the main thread
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, failures


def _owner_count(tenant) -> int:
    return Membership.objects.filter(tenant=tenant, role=Role.OWNER, is_active=True).count()


def _change(tenant, actor: Membership, target: Membership, action: str) -> Callable[[], object]:
    if action == "demote":
        return lambda: services.membership_change_role(
            tenant=tenant, actor=actor, membership=target, role=Role.ADMIN
        )
    return lambda: services.membership_remove(tenant=tenant, actor=actor, membership=target)


@pytest.mark.parametrize("action", ["demote", "remove"])
def test_two_owners_changing_each_other_at_once_leave_exactly_one_owner_without_an_error(
    duel, django_db_blocker, action
):
    tenant, owners = duel
    refusals: list[str] = []
    with django_db_blocker.unblock():
        for _ in range(ROUNDS):
            first, second = _committed(lambda: _both_owners_again(tenant, owners))
            results, failures = _race(
                _change(tenant, first, second, action), _change(tenant, second, first, action)
            )
            assert failures == []
            assert _committed(lambda: _owner_count(tenant)) == 1
            refused = [r for r in results if isinstance(r, ValidationError | PermissionDenied)]
            assert len(refused) == 1, results
            refusals.append(
                " ".join(refused[0].messages)
                if isinstance(refused[0], ValidationError)
                else str(refused[0])
            )
    # The loser acts as what they are once the winner has committed: an admin may not change
    # an owner; someone removed is not a member at all.
    expected = services.MEMBER_OUTRANKS_YOU if action == "demote" else ACTOR_NOT_IN_WORKSPACE
    assert set(refusals) == {expected}


def test_two_owners_demoting_each_other_through_the_pages_never_see_a_500(duel, django_db_blocker):
    tenant, owners = duel
    statuses: list[int] = []
    with django_db_blocker.unblock():
        for _ in range(ROUNDS // 2):
            first, second = _committed(lambda: _both_owners_again(tenant, owners))
            clients = _committed(
                lambda first=first, second=second: [
                    sign_in_client(Client(raise_request_exception=False), m.user, tenant)
                    for m in (first, second)
                ]
            )
            paths = [f"/settings/members/{m.pk}/role/" for m in (second, first)]
            results, failures = _race(
                *(
                    (lambda c=c, p=p: c.post(p, {"role": Role.ADMIN}).status_code)
                    for c, p in zip(clients, paths, strict=True)
                )
            )
            assert failures == []
            statuses.extend(results)  # type: ignore[arg-type]
            assert _committed(lambda: _owner_count(tenant)) == 1
    assert all(status < 500 for status in statuses), statuses
    assert 302 in statuses


def test_ownership_transfer_and_a_demotion_at_once_leave_exactly_one_owner(duel, django_db_blocker):
    """The transfer locks the same rows the same way (its confirmation is checked first, so
    the demotion's lock order is what is tested here through the real service)."""
    from accounts.tests.twofactor_helpers import confirmed_action
    from accounts.twofactor.action_codes import Action

    tenant, owners = duel

    def _manager(owner: Membership, manager: Membership):
        """``manager`` becomes a manager; ``owner``'s confirmed hand-over to them."""
        manager.role = Role.MANAGER
        manager.save(update_fields=["role"])
        return confirmed_action(
            actor=owner, tenant=tenant, action=Action.OWNERSHIP_TRANSFER, target=manager
        )

    with django_db_blocker.unblock():
        for _ in range(ROUNDS // 2):
            first, second = _committed(lambda: _both_owners_again(tenant, owners))
            confirmation = _committed(lambda first=first, second=second: _manager(first, second))
            _results, failures = _race(
                lambda first=first, second=second, confirmation=confirmation: (
                    services.ownership_transfer(
                        tenant=tenant, actor=first, new_owner=second, confirmation=confirmation
                    )
                ),
                lambda first=first, second=second: services.membership_remove(
                    tenant=tenant, actor=second, membership=first
                ),
            )
            assert failures == []
            assert _committed(lambda: _owner_count(tenant)) == 1
