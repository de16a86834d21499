"""The workspace lifecycle: cancel -> archive (30 days) -> purge (60 more), the warning emails,
immediate deletion, restore by support, the daily run (idempotent, dry run, crash recovery,
concurrency) and its command. Each test provisions its own throwaway workspace inside the
test's transaction (rolled back afterwards); the seeded acme/globex are never touched."""

from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from accounts.models import User, UserSession
from accounts.tests.factories import tracked_session_for
from accounts.tests.twofactor_helpers import confirmed_action
from accounts.twofactor.action_codes import Action
from audit.events import Event
from rbac.models import Membership
from tenants.models import Tenant
from tenants.selectors import tenant_for_hostname
from tenants.services import hostname_for
from tests import schema_pool
from workspace import lifecycle
from workspace.lifecycle import (
    CANCEL_NOT_ACTIVE,
    RESTORE_NOT_AN_AGENT,
    RESTORE_NOT_RESTORABLE,
    RESTORE_REASON_REQUIRED,
    TYPED_SLUG_MISMATCH,
    lifecycle_dates,
    lifecycle_run,
    workspace_cancel,
    workspace_delete_now,
    workspace_purge,
    workspace_restore,
)
from workspace.management.commands.lifecycle_run import NOW_INVALID, NOW_NEEDS_DRY_RUN

from .lifecycle_helpers import (
    ADMIN_EMAIL,
    OWNER_EMAIL,
    SLUG,
    T0,
    assert_counts_of_seeded_workspace,
    assert_purged,
    day,
    platform_events,
    schema_present,
    storage_clean,
    stored_keys,
    workspace_events,
    workspace_with_data,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def doomed(db, clock):
    tenant = workspace_with_data(SLUG, OWNER_EMAIL, ADMIN_EMAIL)
    yield tenant
    storage_clean(tenant.schema_name)


@pytest.fixture
def owner_of(db):
    def get(tenant: Tenant, email: str = OWNER_EMAIL) -> Membership:
        return Membership.objects.select_related("user").get(tenant=tenant, user__email=email)

    return get


@pytest.fixture
def confirmation_for():
    def make(membership: Membership, action: str):
        return confirmed_action(
            actor=membership, tenant=membership.tenant, action=action, target=membership.tenant
        )

    return make


@pytest.fixture
def run_lifecycle(django_capture_on_commit_callbacks):
    """Run the lifecycle as the beat would (after-commit work executed) -> (slug, action)."""

    def run(**kwargs) -> list[tuple[str, str]]:
        with django_capture_on_commit_callbacks(execute=True):
            steps = lifecycle_run(**kwargs)
        return [(step.tenant_slug, step.action) for step in steps]

    return run


def subjects_and_recipients() -> list[tuple[str, list[str]]]:
    return [(message.subject, message.to) for message in mail.outbox]


def cancel(tenant, owner_of, confirmation_for, capture) -> Tenant:
    owner = owner_of(tenant)
    with capture(execute=True):
        return workspace_cancel(
            tenant=tenant,
            actor=owner,
            confirmation=confirmation_for(owner, Action.WORKSPACE_CANCEL),
        )


def set_state(tenant, **fields) -> Tenant:
    Tenant.objects.filter(pk=tenant.pk).update(**fields)
    tenant.refresh_from_db()
    return tenant


# --- Cancel


def test_owner_cancels_workspace_read_only_with_dates_emailed_and_audited_in_both_streams(
    doomed, owner_of, confirmation_for, django_capture_on_commit_callbacks
):
    host = hostname_for(doomed.slug)
    assert tenant_for_hostname(host).state == Tenant.State.ACTIVE  # now cached

    cancelled = cancel(doomed, owner_of, confirmation_for, django_capture_on_commit_callbacks)

    doomed.refresh_from_db()
    assert doomed.state == Tenant.State.CANCELLED
    assert doomed.cancelled_at == T0
    assert doomed.billing_status == Tenant.BillingStatus.CANCELLED
    assert doomed.lifecycle_notices == []
    assert cancelled.state == Tenant.State.CANCELLED
    dates = lifecycle_dates(doomed)
    assert dates.archive_at == T0 + timedelta(days=30)
    assert dates.purge_at == T0 + timedelta(days=90)
    # The gate sees the new state at once (the host lookup cache was dropped).
    assert tenant_for_hostname(host).state == Tenant.State.CANCELLED
    assert subjects_and_recipients() == [
        ("[Doomed Signs] Your workspace has been cancelled", [OWNER_EMAIL])
    ]
    assert day(dates.archive_at) in mail.outbox[0].body
    assert day(dates.purge_at) in mail.outbox[0].body
    (in_workspace,) = workspace_events(doomed, Event.WORKSPACE_CANCELLED)
    (in_platform,) = platform_events(doomed.pk, Event.WORKSPACE_CANCELLED)
    for event in (in_workspace, in_platform):
        assert event.actor_email == OWNER_EMAIL
        assert event.changes["state"] == ["active", "cancelled"]
        assert event.additional_data["purge_at"] == dates.purge_at.isoformat()


def test_cancelled_workspace_is_read_only_through_the_gate_and_archived_one_is_closed(
    doomed, owner_of, confirmation_for, run_lifecycle, clock, django_capture_on_commit_callbacks
):
    from django.test import Client

    from conftest import sign_in_client

    admin = owner_of(doomed, ADMIN_EMAIL)
    browser = sign_in_client(Client(), admin.user, doomed)
    cancel(doomed, owner_of, confirmation_for, django_capture_on_commit_callbacks)
    assert browser.get("/companies/").status_code == 200
    assert browser.post("/companies/new/", {"name": "New"}).status_code == 403
    clock.move_to(T0 + timedelta(days=30, hours=1))
    assert run_lifecycle() == [(SLUG, "archive")]
    assert browser.get("/companies/").status_code == 404


def test_cancel_is_refused_for_a_member_without_workspace_delete(
    doomed, owner_of, confirmation_for
):
    admin = owner_of(doomed, ADMIN_EMAIL)
    with pytest.raises(PermissionDenied):
        workspace_cancel(
            tenant=doomed,
            actor=admin,
            confirmation=confirmation_for(admin, Action.WORKSPACE_CANCEL),
        )
    doomed.refresh_from_db()
    assert doomed.state == Tenant.State.ACTIVE
    assert platform_events(doomed.pk, Event.WORKSPACE_CANCELLED) == []


def test_cancel_is_refused_without_a_confirmation_for_cancelling(
    doomed, owner_of, confirmation_for
):
    owner = owner_of(doomed)
    for confirmation in (None, confirmation_for(owner, Action.WORKSPACE_DELETE)):
        with pytest.raises(PermissionDenied):
            workspace_cancel(tenant=doomed, actor=owner, confirmation=confirmation)
    doomed.refresh_from_db()
    assert doomed.state == Tenant.State.ACTIVE


@pytest.mark.parametrize(
    "state", [Tenant.State.CANCELLED, Tenant.State.ARCHIVED, Tenant.State.PURGING]
)
def test_cancel_is_refused_unless_active(doomed, owner_of, confirmation_for, state):
    set_state(doomed, state=state, cancelled_at=T0)
    owner = owner_of(doomed)
    with pytest.raises(ValidationError) as refused:
        workspace_cancel(
            tenant=doomed,
            actor=owner,
            confirmation=confirmation_for(owner, Action.WORKSPACE_CANCEL),
        )
    assert refused.value.messages == [CANCEL_NOT_ACTIVE]
    doomed.refresh_from_db()
    assert doomed.state == state


# --- The daily run: notices, archive, purge


def test_cancelled_workspace_is_warned_archived_warned_again_and_purged_on_schedule(
    doomed, clock, owner_of, confirmation_for, run_lifecycle, django_capture_on_commit_callbacks
):
    cancel(doomed, owner_of, confirmation_for, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    archive_at, purge_at = T0 + timedelta(days=30), T0 + timedelta(days=90)
    schedule = [
        # (moment, the step due, the email it sends)
        (archive_at - timedelta(days=7), "notify-archive-7", "will be archived in 7 days"),
        (archive_at - timedelta(days=1), "notify-archive-1", "will be archived in 1 day"),
        (archive_at, "archive", "has been archived"),
        (purge_at - timedelta(days=7), "notify-purge-7", "will be permanently deleted in 7 days"),
        (purge_at - timedelta(days=1), "notify-purge-1", "will be permanently deleted in 1 day"),
    ]
    for moment, action, subject in schedule:
        clock.move_to(moment - timedelta(minutes=1))
        assert run_lifecycle() == []  # not due a minute early
        clock.move_to(moment + timedelta(hours=3))
        assert run_lifecycle() == [(SLUG, action)]
        assert subjects_and_recipients() == [
            (f"[Doomed Signs] Your workspace {subject}", [OWNER_EMAIL])
        ]
        assert run_lifecycle() == []  # a second run changes nothing more
        assert len(mail.outbox) == 1  # each email exactly once
        mail.outbox.clear()
        if action == "archive":
            doomed.refresh_from_db()
            assert doomed.state == Tenant.State.ARCHIVED
            assert doomed.archived_at == archive_at  # the promised date, not the run's
            assert lifecycle_dates(doomed).purge_at == purge_at
            assert len(workspace_events(doomed, Event.WORKSPACE_ARCHIVED)) == 1
            assert len(platform_events(doomed.pk, Event.WORKSPACE_ARCHIVED)) == 1

    doomed.refresh_from_db()
    assert doomed.lifecycle_notices == ["purge-7", "purge-1"]
    notices = platform_events(doomed.pk, Event.WORKSPACE_LIFECYCLE_NOTICE_SENT)
    assert [event.additional_data["notice"] for event in notices] == [
        "archive-7",
        "archive-1",
        "purge-7",
        "purge-1",
    ]
    assert len(workspace_events(doomed, Event.WORKSPACE_LIFECYCLE_NOTICE_SENT)) == 4

    clock.move_to(purge_at + timedelta(hours=3))
    assert run_lifecycle() == [(SLUG, "purge")]
    counts = assert_purged(doomed)
    assert_counts_of_seeded_workspace(counts)
    (started,) = platform_events(doomed.pk, Event.WORKSPACE_PURGE_STARTED)
    assert started.changes["state"] == ["archived", "purging"]
    assert started.additional_data["counts"] == counts
    assert subjects_and_recipients() == [
        ("[Doomed Signs] Your workspace has been deleted", [OWNER_EMAIL])
    ]
    assert run_lifecycle() == []


def test_missed_days_send_only_the_nearest_notice(
    doomed, clock, run_lifecycle, owner_of, confirmation_for, django_capture_on_commit_callbacks
):
    cancel(doomed, owner_of, confirmation_for, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    clock.move_to(T0 + timedelta(days=29, hours=12))  # both warnings due, neither sent
    assert run_lifecycle() == [(SLUG, "notify-archive-1")]
    assert len(mail.outbox) == 1
    clock.move_to(T0 + timedelta(days=29, hours=13))
    assert run_lifecycle() == []
    doomed.refresh_from_db()
    assert sorted(doomed.lifecycle_notices) == ["archive-1", "archive-7"]


def test_a_run_long_overdue_archives_and_purges_in_one_go(
    doomed, clock, run_lifecycle, owner_of, confirmation_for, django_capture_on_commit_callbacks
):
    cancel(doomed, owner_of, confirmation_for, django_capture_on_commit_callbacks)
    clock.move_to(T0 + timedelta(days=200))
    assert run_lifecycle() == [(SLUG, "archive"), (SLUG, "purge")]
    assert_counts_of_seeded_workspace(assert_purged(doomed))


def test_dry_run_lists_what_is_due_and_changes_nothing(doomed, clock, run_lifecycle):
    set_state(doomed, state=Tenant.State.CANCELLED, cancelled_at=T0)
    platform_head = len(platform_events(doomed.pk, Event.WORKSPACE_ARCHIVED))
    clock.move_to(T0 + timedelta(days=95))
    steps = lifecycle_run(dry_run=True)
    assert [(step.tenant_slug, step.action, step.due_at) for step in steps] == [
        (SLUG, "archive", T0 + timedelta(days=30)),
        (SLUG, "purge", T0 + timedelta(days=90)),
    ]
    doomed.refresh_from_db()
    assert doomed.state == Tenant.State.CANCELLED
    assert doomed.lifecycle_notices == []
    assert schema_present(doomed.schema_name)
    assert len(stored_keys(doomed)) == 2
    assert mail.outbox == []
    assert len(platform_events(doomed.pk, Event.WORKSPACE_ARCHIVED)) == platform_head
    clock.move_to(T0 + timedelta(days=29))
    assert [step.action for step in lifecycle_run(dry_run=True)] == ["notify-archive-1"]
    doomed.refresh_from_db()
    assert doomed.lifecycle_notices == []


# --- Crashes


@pytest.fixture
def due_for_purge(doomed, clock, owner_of, confirmation_for, django_capture_on_commit_callbacks):
    """``doomed``, cancelled by its owner 91 days ago (the keyed decision a purge needs) and
    archived on time: its purge is due now."""
    clock.move_to(T0 - timedelta(days=91))
    cancel(doomed, owner_of, confirmation_for, django_capture_on_commit_callbacks)
    clock.move_to(T0)
    set_state(doomed, state=Tenant.State.ARCHIVED, archived_at=T0 - timedelta(days=61))
    mail.outbox.clear()
    return doomed


def test_purge_that_crashes_deleting_files_is_finished_by_the_next_run_with_the_right_receipt(
    due_for_purge, run_lifecycle, monkeypatch
):
    doomed = due_for_purge
    storage_class = type(storages["private"])
    real_delete = storage_class.delete
    crashes = []

    def delete_that_fails_once(self, name):
        if not crashes:
            crashes.append(name)
            raise OSError("storage went away")
        return real_delete(self, name)

    monkeypatch.setattr(storage_class, "delete", delete_that_fails_once)

    assert run_lifecycle() == [(SLUG, "purge-failed")]
    doomed.refresh_from_db()
    assert doomed.state == Tenant.State.PURGING
    assert doomed.purge_counts["files"] == 2
    assert schema_present(doomed.schema_name)
    (failed,) = platform_events(doomed.pk, Event.WORKSPACE_PURGE_FAILED)
    assert failed.outcome == "failure"
    assert failed.additional_data == {"error": "OSError"}

    assert run_lifecycle() == [(SLUG, "purge")]
    assert_counts_of_seeded_workspace(assert_purged(doomed))
    assert len(platform_events(doomed.pk, Event.WORKSPACE_PURGE_STARTED)) == 1


def test_purge_that_crashes_writing_the_receipt_rolls_back_and_completes_next_run(
    due_for_purge, run_lifecycle, monkeypatch
):
    doomed = due_for_purge
    real_audit = lifecycle._audit_both
    crashes = []

    def audit_that_fails_on_the_receipt_once(tenant, event_type, **kwargs):
        if event_type == Event.WORKSPACE_PURGED and not crashes:
            crashes.append(event_type)
            raise RuntimeError("worker killed")
        return real_audit(tenant, event_type, **kwargs)

    monkeypatch.setattr(
        "workspace.lifecycle.purge.audit_both", audit_that_fails_on_the_receipt_once
    )

    assert run_lifecycle() == [(SLUG, "purge-failed")]
    doomed.refresh_from_db()
    assert doomed.state == Tenant.State.PURGING
    assert schema_present(doomed.schema_name)  # the schema is never the runtime's to drop
    assert Tenant.objects.filter(pk=doomed.pk).exists()  # rolled back with the receipt
    assert Membership.objects.filter(tenant=doomed).count() == 2
    assert stored_keys(doomed) == []  # files went before the failing transaction

    assert run_lifecycle() == [(SLUG, "purge")]
    # Counted before the files were deleted, so the receipt still says 2 files.
    assert_counts_of_seeded_workspace(assert_purged(doomed))


def test_purge_does_nothing_for_a_workspace_that_is_not_being_deleted(doomed):
    assert workspace_purge(tenant_id=doomed.pk) is None
    assert workspace_purge(tenant_id=10**9) is None
    assert schema_present(doomed.schema_name)


# --- Immediate deletion


def test_delete_now_with_a_wrong_typed_slug_changes_nothing(doomed, owner_of, confirmation_for):
    owner = owner_of(doomed)
    with pytest.raises(ValidationError) as refused:
        workspace_delete_now(
            tenant=doomed,
            actor=owner,
            confirmation=confirmation_for(owner, Action.WORKSPACE_DELETE),
            typed_slug="doomed",
        )
    assert refused.value.message_dict == {"typed_slug": [TYPED_SLUG_MISMATCH]}
    doomed.refresh_from_db()
    assert doomed.state == Tenant.State.ACTIVE
    assert doomed.purge_requested_at is None
    assert platform_events(doomed.pk, Event.WORKSPACE_DELETION_REQUESTED) == []


def test_delete_now_is_refused_without_a_confirmation_for_deleting_or_for_non_owners(
    doomed, owner_of, confirmation_for
):
    owner, admin = owner_of(doomed), owner_of(doomed, ADMIN_EMAIL)
    for actor, confirmation in (
        (owner, None),
        (owner, confirmation_for(owner, Action.WORKSPACE_CANCEL)),
        (admin, confirmation_for(admin, Action.WORKSPACE_DELETE)),
    ):
        with pytest.raises(PermissionDenied):
            workspace_delete_now(
                tenant=doomed, actor=actor, confirmation=confirmation, typed_slug=SLUG
            )
    doomed.refresh_from_db()
    assert doomed.state == Tenant.State.ACTIVE


def test_delete_now_closes_the_workspace_ends_sessions_and_purges_it(
    doomed, owner_of, confirmation_for, django_capture_on_commit_callbacks
):
    admin = owner_of(doomed, ADMIN_EMAIL)
    tracked_session_for(session_key="k" * 32, user=admin.user, tenant=doomed)
    owner = owner_of(doomed)
    confirmation = confirmation_for(owner, Action.WORKSPACE_DELETE)
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        workspace_delete_now(
            tenant=doomed, actor=owner, confirmation=confirmation, typed_slug=f" {SLUG} "
        )
    assert doomed.state == Tenant.State.PURGING
    assert doomed.purge_requested_at == T0
    assert not UserSession.objects.filter(tenant=doomed).exists()
    (requested,) = workspace_events(doomed, Event.WORKSPACE_DELETION_REQUESTED)
    assert requested.actor_email == OWNER_EMAIL
    assert len(platform_events(doomed.pk, Event.WORKSPACE_DELETION_REQUESTED)) == 1
    assert len(workspace_events(doomed, Event.SESSIONS_ENDED)) == 1
    assert mail.outbox == []  # nothing leaves before commit

    with django_capture_on_commit_callbacks(execute=True):
        for callback in after_commit:
            callback()

    assert_counts_of_seeded_workspace(assert_purged(doomed))
    assert subjects_and_recipients() == [
        ("[Doomed Signs] Your workspace is being deleted", [OWNER_EMAIL]),
        ("[Doomed Signs] Your workspace has been deleted", [OWNER_EMAIL]),
    ]


def test_delete_now_works_from_cancelled_too(
    doomed, owner_of, confirmation_for, django_capture_on_commit_callbacks
):
    cancel(doomed, owner_of, confirmation_for, django_capture_on_commit_callbacks)
    owner = owner_of(doomed)
    with django_capture_on_commit_callbacks(execute=True):
        workspace_delete_now(
            tenant=doomed,
            actor=owner,
            confirmation=confirmation_for(owner, Action.WORKSPACE_DELETE),
            typed_slug=SLUG,
        )
    assert_purged(doomed)


# --- Restore by support


@pytest.fixture
def agent(db):
    return User.objects.create_user(
        email="agent@platform.example",
        password="x" * 12,
        full_name="Sam Support",
        is_support_agent=True,
    )


def test_support_agent_restores_an_archived_workspace(
    doomed, agent, django_capture_on_commit_callbacks
):
    set_state(
        doomed,
        state=Tenant.State.ARCHIVED,
        billing_status=Tenant.BillingStatus.CANCELLED,
        cancelled_at=T0 - timedelta(days=31),
        archived_at=T0 - timedelta(days=1),
        lifecycle_notices=["purge-7"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        restored = workspace_restore(tenant=doomed, agent=agent, reason="Owner paid, ticket 42")
    doomed.refresh_from_db()
    assert restored.state == doomed.state == Tenant.State.ACTIVE
    assert doomed.billing_status == Tenant.BillingStatus.ACTIVE
    assert (doomed.cancelled_at, doomed.archived_at, doomed.lifecycle_notices) == (None, None, [])
    assert lifecycle_dates(doomed) == lifecycle.LifecycleDates(None, None)
    (in_workspace,) = workspace_events(doomed, Event.WORKSPACE_RESTORED)
    (in_platform,) = platform_events(doomed.pk, Event.WORKSPACE_RESTORED)
    for event in (in_workspace, in_platform):
        assert event.actor_kind == "support_agent"
        assert event.actor_email == agent.email
        assert event.additional_data == {"reason": "Owner paid, ticket 42"}
        assert event.changes["state"] == ["archived", "active"]
    assert subjects_and_recipients() == [
        ("[Doomed Signs] Your workspace has been restored", [OWNER_EMAIL])
    ]


def test_restore_is_refused_for_non_agents_without_a_reason_and_for_other_states(
    doomed, agent, member
):
    set_state(doomed, state=Tenant.State.ARCHIVED, archived_at=T0)
    for not_an_agent in (member("acme", "owner"), User.objects.get(email=OWNER_EMAIL)):
        with pytest.raises(PermissionDenied) as refused:
            workspace_restore(tenant=doomed, agent=not_an_agent, reason="please")
        assert str(refused.value) == RESTORE_NOT_AN_AGENT
    with pytest.raises(ValidationError) as refused:
        workspace_restore(tenant=doomed, agent=agent, reason="   ")
    assert refused.value.message_dict == {"reason": [RESTORE_REASON_REQUIRED]}
    for state in (Tenant.State.ACTIVE, Tenant.State.PURGING):
        set_state(doomed, state=state)
        with pytest.raises(ValidationError) as refused:
            workspace_restore(tenant=doomed, agent=agent, reason="ticket 42")
        assert refused.value.messages == [RESTORE_NOT_RESTORABLE]
    assert platform_events(doomed.pk, Event.WORKSPACE_RESTORED) == []


def test_restored_workspace_starts_the_lifecycle_afresh_when_cancelled_again(
    doomed,
    agent,
    clock,
    run_lifecycle,
    owner_of,
    confirmation_for,
    django_capture_on_commit_callbacks,
):
    set_state(doomed, state=Tenant.State.CANCELLED, cancelled_at=T0 - timedelta(days=29))
    assert run_lifecycle() == [(SLUG, "notify-archive-1")]
    workspace_restore(tenant=doomed, agent=agent, reason="changed their mind")
    assert run_lifecycle() == []
    clock.move_to(T0 + timedelta(days=5))
    cancel(doomed, owner_of, confirmation_for, django_capture_on_commit_callbacks)
    assert lifecycle_dates(doomed).archive_at == T0 + timedelta(days=35)
    clock.move_to(T0 + timedelta(days=28, hours=1))
    assert run_lifecycle() == [(SLUG, "notify-archive-7")]


# --- The command


def test_lifecycle_run_command_prints_each_step_and_its_dry_run_changes_nothing(
    doomed, clock, django_capture_on_commit_callbacks
):
    set_state(doomed, state=Tenant.State.CANCELLED, cancelled_at=T0 - timedelta(days=31))
    due = (T0 - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")

    dry = StringIO()
    call_command("lifecycle_run", "--dry-run", stdout=dry)
    assert dry.getvalue().splitlines() == [
        f"{SLUG}\tarchive\tdue {due} UTC",
        "1 step (would do).",
    ]
    doomed.refresh_from_db()
    assert doomed.state == Tenant.State.CANCELLED

    later = StringIO()
    call_command("lifecycle_run", "--dry-run", "--now", "2027-06-01", stdout=later)
    assert [line.split("\t")[1] for line in later.getvalue().splitlines()[:-1]] == [
        "archive",
        "purge",
    ]

    done = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("lifecycle_run", stdout=done)
    assert done.getvalue().splitlines() == [f"{SLUG}\tarchive\tdue {due} UTC", "1 step (did)."]
    doomed.refresh_from_db()
    assert doomed.state == Tenant.State.ARCHIVED

    again = StringIO()
    call_command("lifecycle_run", stdout=again)
    assert again.getvalue().strip() == "Nothing is due; nothing changed."


@pytest.mark.parametrize("garbage", ["yesterday", "2027-13-45", "2027-02-30T25:00"])
def test_lifecycle_run_command_refuses_a_now_it_cannot_read(db, garbage):
    with pytest.raises(CommandError) as refused:
        call_command("lifecycle_run", "--dry-run", "--now", garbage, stdout=StringIO())
    assert str(refused.value) == NOW_INVALID


def test_lifecycle_run_command_refuses_now_outside_a_dry_run(db):
    with pytest.raises(CommandError) as refused:
        call_command("lifecycle_run", "--now", "2099-01-01", stdout=StringIO())
    assert str(refused.value) == NOW_NEEDS_DRY_RUN


def test_beat_runs_the_lifecycle_daily():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["tenants-lifecycle-run"]
    assert entry == {"task": "workspace.tasks.lifecycle_run_task", "schedule": 24 * 60 * 60}


# --- Concurrency: two runs at once purge once


@pytest.fixture(scope="module")
def race(django_db_setup, django_db_blocker):
    """A committed workspace past its purge date (threads see only committed rows): cancelled
    by its owner 91 days ago, archived on time."""
    with django_db_blocker.unblock():
        tenant = workspace_with_data("race-signs", "owner@race.example", "admin@race.example")
        owner = Membership.objects.select_related("user").get(
            tenant=tenant, user__email="owner@race.example"
        )
        with time_machine.travel(timezone.now() - timedelta(days=91), tick=False):
            workspace_cancel(
                tenant=tenant,
                actor=owner,
                confirmation=confirmed_action(
                    actor=owner, tenant=tenant, action=Action.WORKSPACE_CANCEL, target=tenant
                ),
            )
        Tenant.objects.filter(pk=tenant.pk).update(
            state=Tenant.State.ARCHIVED, archived_at=timezone.now() - timedelta(days=61)
        )
    yield tenant
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        if Tenant.objects.filter(pk=tenant.pk).exists():  # the test failed: purge it anyway
            Tenant.objects.filter(pk=tenant.pk).update(state=Tenant.State.PURGING)
            workspace_purge(tenant_id=tenant.pk)
        if schema_present(tenant.schema_name):  # the owner side did not drop it
            schema_pool.schema_discard(tenant.schema_name)
        storage_clean(tenant.schema_name)
        # Raw: the ORM's cascade would chase the users into tenant tables from public.
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM accounts_user WHERE email LIKE %s", ["%@race.example"])


def test_two_runs_at_once_purge_the_workspace_once_with_one_receipt(race, django_db_blocker):
    start = threading.Barrier(2)
    results: list[list] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            results.append(lifecycle_run())
        except BaseException as error:  # reported in the main thread
            failures.append(error)
        finally:
            connection.close()

    with django_db_blocker.unblock():
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert failures == []
    purges = [
        step.action for steps in results for step in steps if step.tenant_slug == "race-signs"
    ]
    assert purges == ["purge"]
    # The purge committed, so the owner side (queued after commit, run inline here) saw the
    # receipt and dropped the schema and its role.
    assert_counts_of_seeded_workspace(assert_purged(race, schema_dropped=True))
    assert len(platform_events(race.pk, Event.WORKSPACE_PURGE_STARTED)) == 1
