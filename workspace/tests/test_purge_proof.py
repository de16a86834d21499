"""Issue #12: SQL injected into a RUNTIME connection can neither purge a workspace nor make the
owner side drop a schema; a real purge still removes everything, the owner side dropping the
schema and its role on the proof of the keyed receipt.

What injected SQL can do, and these tests do it exactly that way (on the test's connection,
which is the runtime role): UPDATE or DELETE ``tenants_tenant`` rows, and INSERT rows into the
platform audit stream with any column it likes, but without the chain key.

Two kinds of tests. Inside the test's transaction (rolled back): the runtime purge's refusals,
and the owner side's per-schema drop (``schema_drop.purged_schema_drop``, the one function
every owner-side drop goes through) run on this connection, where the forged rows are visible;
a proof wrongly accepted there would reach the DROP and fail with PostgreSQL's 42501, since
this connection is not the owner. Forged audit rows are never committed: the platform stream
is shared by the whole run. Committed (``committed_doomed``): the owner side on its own
connection (``tenants.roles.owner_run``, as the owner-queue worker runs it) drops a purged
schema and its role, and leaves a live workspace's schema alone whatever its row says.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.tests.twofactor_helpers import confirmed_action
from accounts.twofactor.action_codes import Action
from audit.chain import canonical_bytes, content_sha256
from audit.events import Event
from audit.keys import current_key_id
from audit.models import AuditEvent
from config.celery import app
from rbac.models import Membership
from tenants.models import Domain, Tenant
from tenants.roles import OWNER_CREDENTIALS_MISSING
from tenants.services import tenant_provision
from tenants.tasks import OWNER_QUEUE
from tests import schema_pool
from workspace.lifecycle import (
    DropNotProven,
    PurgeNotAuthorized,
    lifecycle_run,
    workspace_cancel,
    workspace_delete_now,
    workspace_purge,
    workspace_restore,
)
from workspace.lifecycle.proof import (
    DECISION_FOR_ANOTHER_SCHEMA,
    DECISION_NOT_A_DELETION,
    DECISION_NOT_GENUINE,
    NO_DECISION,
    NO_RECEIPT,
    PURGE_NOT_DUE,
    RECEIPT_FOR_ANOTHER_SCHEMA,
    RECEIPT_NOT_GENUINE,
    event_problem,
    schema_drop_proof,
    schema_oid,
)
from workspace.lifecycle.schema_drop import SCHEMA_GONE, SchemaDropOutcome, purged_schema_drop
from workspace.management.commands.purged_schemas_drop import OWNER_URL_MISSING, SCHEMA_INVALID
from workspace.tasks import purged_schemas_drop_task

from .lifecycle_helpers import (
    T0,
    assert_counts_of_seeded_workspace,
    assert_purged,
    deletion_requested,
    platform_events,
    role_present,
    schema_present,
    storage_clean,
    stored_keys,
    workspace_with_data,
)

pytestmark = pytest.mark.django_db

VICTIM = "victim-signs"
VICTIM_OWNER = "owner@victim.example"
OTHER = "other-signs"
OTHER_OWNER = "owner@other.example"


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def victim(db, clock):
    tenant = workspace_with_data(VICTIM, VICTIM_OWNER, "admin@victim.example")
    yield tenant
    storage_clean(tenant.schema_name)


@pytest.fixture
def other(db, clock):
    """Another workspace of the platform, whose owner really does delete it."""
    tenant = workspace_with_data(OTHER, OTHER_OWNER, "admin@other.example")
    yield tenant
    storage_clean(tenant.schema_name)


def injected(statement: str, params: list) -> None:
    """One statement as SQL injected into a runtime connection would send it (public schema)."""
    with schema_context("public"), connection.cursor() as cursor:
        cursor.execute(statement, params)


def mark_purging_by_sql(tenant: Tenant) -> None:
    injected(
        f"UPDATE {Tenant._meta.db_table} SET state = %s, purge_requested_at = now()"  # noqa: S608
        " WHERE id = %s",
        [Tenant.State.PURGING.value, tenant.pk],
    )


def delete_row_and_what_points_at_it(tenant: Tenant) -> None:
    """DELETE the Tenant row and every public row referencing it, as the runtime role may (the
    ORM's cascade sends the same DELETE statements injected SQL could)."""
    with schema_context("public"):
        Tenant.objects.filter(pk=tenant.pk).delete()


def cancel(tenant: Tenant, owner_email: str, capture) -> None:
    owner = Membership.objects.select_related("user").get(tenant=tenant, user__email=owner_email)
    with capture(execute=True):
        workspace_cancel(
            tenant=tenant,
            actor=owner,
            confirmation=confirmed_action(
                actor=owner, tenant=tenant, action=Action.WORKSPACE_CANCEL, target=tenant
            ),
        )
    connection.set_schema_to_public()


def platform_head() -> AuditEvent:
    with schema_context("public"):
        return AuditEvent.objects.order_by("-sequence").first()


def forged_at_the_head(template: AuditEvent, forgery: str, **fields) -> AuditEvent:
    """A copy of ``template`` with ``fields`` changed, INSERTed at the next sequence of the
    platform stream and linked to its head, its link made as ``forgery`` says: what injected
    SQL can write. It never knows the chain key."""
    head = platform_head()
    row = AuditEvent(
        **{
            field.attname: getattr(template, field.attname)
            for field in AuditEvent._meta.concrete_fields
            if field.attname != "id"
        }
    )
    for name, value in fields.items():
        setattr(row, name, value)
    row.sequence, row.prev_hash = head.sequence + 1, head.hash
    if forgery == "made-up link":
        row.chain_version, row.key_id, row.hash = 2, current_key_id(), "f" * 64
    elif forgery == "keyless SHA-256 link":
        row.chain_version, row.key_id = 1, ""
        row.hash = content_sha256(row)  # no secret: sha256() in SQL computes the same
    elif forgery == "HMAC under a key of its own":
        row.chain_version, row.key_id = 2, current_key_id()
        row.hash = hmac.new(b"k" * 32, canonical_bytes(row), hashlib.sha256).hexdigest()
    elif forgery != "the original's link":  # a copy keeps what it copied
        raise AssertionError(forgery)
    with schema_context("public"):
        AuditEvent.objects.bulk_create([row])  # one INSERT, as the runtime role may
    assert event_problem(row) is not None
    return row


FORGERIES = ["made-up link", "keyless SHA-256 link", "HMAC under a key of its own"]


def failure_reasons(tenant: Tenant) -> list[str]:
    return [
        event.additional_data.get("reason")
        for event in platform_events(tenant.pk, Event.WORKSPACE_PURGE_FAILED)
    ]


def assert_untouched(tenant: Tenant) -> None:
    connection.set_schema_to_public()
    assert schema_present(tenant.schema_name)
    assert len(stored_keys(tenant)) == 2
    assert Membership.objects.filter(tenant_id=tenant.pk).count() == 2
    assert Domain.objects.filter(tenant_id=tenant.pk).count() == 1
    assert platform_events(tenant.pk, Event.WORKSPACE_PURGED) == []


# --- The runtime purge wants a genuine decision, not the row's word


def test_injected_sql_marking_a_workspace_purging_purges_nothing(victim):
    mark_purging_by_sql(victim)
    with pytest.raises(PurgeNotAuthorized) as refused:
        workspace_purge(tenant_id=victim.pk)
    assert refused.value.reason == NO_DECISION
    assert_untouched(victim)
    (failed,) = platform_events(victim.pk, Event.WORKSPACE_PURGE_FAILED)
    assert failed.additional_data == {"error": "PurgeNotAuthorized", "reason": NO_DECISION}


def test_injected_sql_backdating_an_archive_gets_no_purge_from_the_daily_run(
    victim, django_capture_on_commit_callbacks
):
    injected(
        f"UPDATE {Tenant._meta.db_table} SET state = %s, archived_at = %s"  # noqa: S608
        " WHERE id = %s",
        [Tenant.State.ARCHIVED.value, T0 - timedelta(days=365), victim.pk],
    )
    with django_capture_on_commit_callbacks(execute=True):
        steps = lifecycle_run()
    assert [(step.tenant_slug, step.action) for step in steps] == [(VICTIM, "purge-failed")]
    assert_untouched(victim)
    assert failure_reasons(victim) == [NO_DECISION]


def test_a_cancellation_whose_purge_date_has_not_come_allows_no_purge(
    victim, clock, django_capture_on_commit_callbacks
):
    cancel(victim, VICTIM_OWNER, django_capture_on_commit_callbacks)
    clock.move_to(T0 + timedelta(days=89))
    mark_purging_by_sql(victim)
    with pytest.raises(PurgeNotAuthorized) as refused:
        workspace_purge(tenant_id=victim.pk)
    assert refused.value.reason == PURGE_NOT_DUE
    assert_untouched(victim)


def test_a_restore_withdraws_the_cancellation_a_purge_would_rest_on(
    victim, clock, django_capture_on_commit_callbacks
):
    clock.move_to(T0 - timedelta(days=120))
    cancel(victim, VICTIM_OWNER, django_capture_on_commit_callbacks)
    clock.move_to(T0 - timedelta(days=100))
    agent = User.objects.create_user(
        email="agent@platform.example", password="x" * 12, is_support_agent=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        workspace_restore(tenant=victim, agent=agent, reason="Owner paid, ticket 7")
    clock.move_to(T0)
    mark_purging_by_sql(victim)  # the old cancellation's purge date has long passed
    with pytest.raises(PurgeNotAuthorized) as refused:
        workspace_purge(tenant_id=victim.pk)
    assert refused.value.reason == DECISION_NOT_A_DELETION
    assert_untouched(victim)


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_deletion_decision_inserted_by_sql_without_the_chain_key_allows_no_purge(
    victim, other, forgery, django_capture_on_commit_callbacks
):
    # The other workspace's owner really deletes it: a genuine decision to copy from.
    deletion_requested(other, OTHER_OWNER, django_capture_on_commit_callbacks)
    (genuine,) = platform_events(other.pk, Event.WORKSPACE_DELETION_REQUESTED)
    forged_at_the_head(
        genuine,
        forgery,
        target_id=str(victim.pk),
        target_label=victim.slug,
        additional_data={"schema": victim.schema_name},
    )
    mark_purging_by_sql(victim)
    with pytest.raises(PurgeNotAuthorized) as refused:
        workspace_purge(tenant_id=victim.pk)
    assert refused.value.reason == DECISION_NOT_GENUINE
    assert_untouched(victim)


def test_another_workspaces_genuine_decision_does_not_purge_the_schema_its_row_is_pointed_at(
    victim, other, django_capture_on_commit_callbacks
):
    deletion_requested(other, OTHER_OWNER, django_capture_on_commit_callbacks)
    # The other row (genuinely to be deleted) now names the victim's schema, and so would its
    # files' prefix.
    injected(
        f"UPDATE {Tenant._meta.db_table} SET schema_name = %s WHERE id = %s",  # noqa: S608
        ["ws_parked", victim.pk],
    )
    injected(
        f"UPDATE {Tenant._meta.db_table} SET schema_name = %s WHERE id = %s",  # noqa: S608
        [victim.schema_name, other.pk],
    )
    with pytest.raises(PurgeNotAuthorized) as refused:
        workspace_purge(tenant_id=other.pk)
    assert refused.value.reason == DECISION_FOR_ANOTHER_SCHEMA
    assert schema_present(victim.schema_name)
    assert len(stored_keys(victim)) == 2
    assert platform_events(other.pk, Event.WORKSPACE_PURGED) == []


# --- The owner side drops a schema only on a genuine receipt for exactly that schema


def test_the_owner_side_drops_no_schema_without_a_receipt_whatever_its_row_says(victim):
    mark_purging_by_sql(victim)
    assert purged_schema_drop(schema_name=victim.schema_name) == SchemaDropOutcome(
        victim.schema_name, dropped=False, reason=NO_RECEIPT
    )
    delete_row_and_what_points_at_it(victim)
    assert purged_schema_drop(schema_name=victim.schema_name) == SchemaDropOutcome(
        victim.schema_name, dropped=False, reason=NO_RECEIPT
    )
    assert schema_present(victim.schema_name)
    assert role_present(victim.schema_name)


def _purged_in_this_transaction(tenant: Tenant, owner_email: str, capture) -> AuditEvent:
    deletion_requested(tenant, owner_email, capture)
    with capture(execute=True):
        workspace_purge(tenant_id=tenant.pk)
    connection.set_schema_to_public()
    (receipt,) = platform_events(tenant.pk, Event.WORKSPACE_PURGED)
    return receipt


@pytest.mark.parametrize("forgery", FORGERIES)
def test_the_owner_side_refuses_a_receipt_forged_by_sql(
    victim, other, forgery, django_capture_on_commit_callbacks
):
    genuine = _purged_in_this_transaction(other, OTHER_OWNER, django_capture_on_commit_callbacks)
    oid = schema_oid(victim.schema_name)
    mark_purging_by_sql(victim)
    forged_at_the_head(
        genuine,
        forgery,
        target_id=str(victim.pk),
        target_label=victim.slug,
        additional_data={
            **genuine.additional_data,
            "schema": victim.schema_name,
            "schema_oid": oid,
        },
    )
    assert purged_schema_drop(schema_name=victim.schema_name) == SchemaDropOutcome(
        victim.schema_name, dropped=False, reason=RECEIPT_NOT_GENUINE
    )
    assert schema_present(victim.schema_name)
    assert role_present(victim.schema_name)
    assert platform_events(victim.pk, Event.WORKSPACE_SCHEMA_DROPPED) == []


def test_the_owner_side_refuses_another_workspaces_receipt_copied_and_pointed_at_a_schema(
    victim, other, django_capture_on_commit_callbacks
):
    genuine = _purged_in_this_transaction(other, OTHER_OWNER, django_capture_on_commit_callbacks)
    copy = forged_at_the_head(
        genuine,
        "the original's link",
        additional_data={
            **genuine.additional_data,
            "schema": victim.schema_name,
            "schema_oid": schema_oid(victim.schema_name),
        },
    )
    assert event_problem(copy) == "content does not match its keyed link"
    assert purged_schema_drop(schema_name=victim.schema_name) == SchemaDropOutcome(
        victim.schema_name, dropped=False, reason=RECEIPT_NOT_GENUINE
    )
    assert schema_present(victim.schema_name)


def test_a_genuine_receipt_copied_to_another_position_proves_nothing_more_than_the_original(
    other, django_capture_on_commit_callbacks
):
    genuine = _purged_in_this_transaction(other, OTHER_OWNER, django_capture_on_commit_callbacks)
    moved = forged_at_the_head(genuine, "the original's link")
    assert event_problem(moved) == "content does not match its keyed link"
    # The other workspace really was purged: its own receipt, not the copy, proves the drop.
    proof = schema_drop_proof(schema_name=other.schema_name, oid=schema_oid(other.schema_name))
    assert (proof.pk, proof.sequence) == (genuine.pk, genuine.sequence)


def test_a_receipt_proves_the_drop_of_the_schema_it_names_not_a_later_one_of_the_same_name(
    other, django_capture_on_commit_callbacks
):
    genuine = _purged_in_this_transaction(other, OTHER_OWNER, django_capture_on_commit_callbacks)
    oid = schema_oid(other.schema_name)
    assert genuine.additional_data["schema_oid"] == oid
    with pytest.raises(DropNotProven) as refused:
        schema_drop_proof(schema_name=other.schema_name, oid=oid + 1)
    assert refused.value.reason == RECEIPT_FOR_ANOTHER_SCHEMA


# --- Committed: the owner side on its own connection, as the owner-queue worker runs it
#
# Everything that must be committed runs in a thread of its own (its own connection, which
# commits), and the test's own transaction reads nothing before the owner side's drop: the
# DROP SCHEMA needs an exclusive lock on ``accounts_user`` (workspace tables reference it).


def in_a_thread(work):
    """Run ``work`` on a connection of its own that commits, as a worker would; its result."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as error:  # reported in the test's thread
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


def _discard(tenant: Tenant, emails: list[str]) -> None:
    connection.set_schema_to_public()
    Tenant.objects.filter(pk=tenant.pk).delete()
    if schema_present(tenant.schema_name):
        schema_pool.schema_discard(tenant.schema_name)
    storage_clean(tenant.schema_name)
    with connection.cursor() as cursor:  # raw: the ORM's cascade would chase tenant tables
        cursor.execute("DELETE FROM accounts_user WHERE email = ANY(%s)", [emails])


@contextmanager
def committed(slug: str, owner_email: str, admin_email: str):
    """A workspace with data, committed (the owner side's own connection sees only committed
    rows), removed afterwards whatever happened."""
    tenant = in_a_thread(lambda: workspace_with_data(slug, owner_email, admin_email))
    try:
        yield tenant
    finally:
        in_a_thread(lambda: _discard(tenant, [owner_email, admin_email]))


def owner_deletes_now(tenant: Tenant, owner_email: str) -> None:
    """The owner's "delete now", committed; its purge task runs after commit, inline."""
    owner = Membership.objects.select_related("user").get(tenant=tenant, user__email=owner_email)
    confirmation = confirmed_action(
        actor=owner, tenant=tenant, action=Action.WORKSPACE_DELETE, target=tenant
    )
    workspace_delete_now(
        tenant=tenant, actor=owner, confirmation=confirmation, typed_slug=tenant.slug
    )


class LostTask:
    """The owner-queue message that never arrives (the owner worker was down, Redis lost it)."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def delay(self, **kwargs) -> None:
        self.sent.append(kwargs)


def test_a_purge_whose_owner_task_is_lost_waits_unreachable_until_the_sweep_drops_it(
    monkeypatch,
):
    lost = LostTask()
    monkeypatch.setattr("workspace.lifecycle.purge.purged_schemas_drop_task", lost)
    with committed("lost-task-signs", "owner@lost.example", "admin@lost.example") as doomed:
        in_a_thread(lambda: owner_deletes_now(doomed, "owner@lost.example"))
        assert lost.sent == [{"schema_name": doomed.schema_name}]  # queued, never delivered

        def waiting() -> tuple:
            return (
                schema_present(doomed.schema_name),
                role_present(doomed.schema_name),
                Tenant.objects.filter(pk=doomed.pk).exists(),
                Client(HTTP_HOST=f"{doomed.slug}.localhost").get("/").status_code,
            )

        assert in_a_thread(waiting) == (True, True, False, 404)  # unreachable, not dropped

        assert purged_schemas_drop_task() == [doomed.schema_name]  # the beat's sweep

        assert_counts_of_seeded_workspace(assert_purged(doomed, schema_dropped=True))
        assert [message.subject for message in mail.outbox][-2:] == [
            "[Lost Task Signs] Your workspace is being deleted",
            "[Lost Task Signs] Your workspace has been deleted",
        ]
        assert purged_schemas_drop_task() == []  # the next sweep finds nothing to do


def test_no_old_receipt_and_no_row_change_makes_the_owner_side_drop_a_live_schema():
    with committed("reused-signs", "owner@reused.example", "admin@reused.example") as first:
        in_a_thread(lambda: owner_deletes_now(first, "owner@reused.example"))
        assert_purged(first, schema_dropped=True)  # purged, then dropped by the owner task
        # The name is free again: a new workspace takes it, with a new schema (committed).
        second = in_a_thread(lambda: tenant_provision(slug="reused-signs", name="Reused Signs"))
        try:
            assert second.schema_name == first.schema_name
            assert purged_schemas_drop_task() == []  # the old receipt names the old schema
            # Injected SQL marks the new one purging: neither a purge nor a drop follows.
            in_a_thread(lambda: mark_purging_by_sql(second))

            def purge_attempt() -> str:
                with pytest.raises(PurgeNotAuthorized) as refused:
                    workspace_purge(tenant_id=second.pk)
                return refused.value.reason

            assert in_a_thread(purge_attempt) == NO_DECISION
            assert purged_schemas_drop_task() == []
            # Then it deletes the row: "the row is gone" proves nothing either.
            in_a_thread(lambda: delete_row_and_what_points_at_it(second))
            assert purged_schemas_drop_task() == []
            assert purged_schemas_drop_task(schema_name=second.schema_name) == []

            assert schema_present(second.schema_name)
            assert role_present(second.schema_name)
            (old_receipt,) = platform_events(first.pk, Event.WORKSPACE_PURGED)
            assert schema_oid(second.schema_name) != old_receipt.additional_data["schema_oid"]
        finally:
            in_a_thread(lambda: _discard(second, []))


# --- Where the drop runs, and the command


def test_the_drop_runs_on_the_owner_queue_which_sweeps_every_five_minutes():
    assert settings.CELERY_TASK_ROUTES["workspace.tasks.purged_schemas_drop"] == {
        "queue": OWNER_QUEUE
    }
    assert app.amqp.router.route({}, purged_schemas_drop_task.name)["queue"].name == OWNER_QUEUE
    assert settings.CELERY_BEAT_SCHEDULE["workspace-purged-schemas-drop"] == {
        "task": "workspace.tasks.purged_schemas_drop",
        "schedule": 5 * 60,
    }


def test_the_drop_is_refused_where_the_owner_url_is_not(monkeypatch, victim):
    monkeypatch.delitem(settings.DATABASES, "owner")  # what a web process is given
    with pytest.raises(ImproperlyConfigured) as refused:
        purged_schemas_drop_task(schema_name=victim.schema_name)
    assert str(refused.value) == OWNER_CREDENTIALS_MISSING
    with pytest.raises(CommandError) as refused_command:
        call_command("purged_schemas_drop")
    assert str(refused_command.value) == OWNER_URL_MISSING
    assert schema_present(victim.schema_name)


@pytest.mark.parametrize("garbage", ["public", "tenant_template", "ready_0", "ws_Acme; DROP"])
def test_the_command_refuses_a_name_that_is_not_a_workspace_schema(garbage):
    with pytest.raises(CommandError) as refused:
        call_command("purged_schemas_drop", "--schema", garbage, stdout=StringIO())
    assert str(refused.value) == SCHEMA_INVALID


def test_the_command_prints_what_it_did_with_each_schema(victim):
    # The owner's connection sees only committed rows: this test's workspace is not there.
    out = StringIO()
    call_command("purged_schemas_drop", "--schema", victim.schema_name, stdout=out)
    assert out.getvalue().splitlines() == [
        f"{victim.schema_name}\tleft: {SCHEMA_GONE}",
        "0 schema(s) dropped.",
    ]
    out = StringIO()
    call_command("purged_schemas_drop", "--schema", "ws_acme", stdout=out)
    assert out.getvalue().splitlines() == [f"ws_acme\tleft: {NO_RECEIPT}", "0 schema(s) dropped."]
    assert schema_present("ws_acme")
