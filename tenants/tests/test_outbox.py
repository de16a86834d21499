"""A task the broker refuses is kept in PostgreSQL and sent from there, never lost.

Finding (issue 13): with Redis down, every ``.delay`` inside ``transaction.on_commit`` raised
after the change had committed: the person got a 500 and the email (welcome, invitation,
password reset) was gone. Every task's ``apply_async`` now goes through ``kernel.tasks.
QueuedTask``: when the broker cannot take the message it is kept as an ``UnsentTask`` row
(tenants/outbox.py, its arguments encrypted) and the beat's sweep sends it once the broker is
back. The tasks are idempotent, so a message sent twice does no harm.
"""

from __future__ import annotations

import logging

import pytest
from celery import shared_task
from django.core import mail
from django.test import Client

from kernel import outages
from kernel.roles import Role
from kernel.tasks import TenantTask
from rbac import services as rbac_services
from tenants import outbox
from tenants.models import Tenant, UnsentTask
from tests.outages import broker_at, throwaway_redis
from workspace.tests.signup_helpers import token_in

pytestmark = pytest.mark.django_db

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1
SIGN_UP = {
    "full_name": "Wile Coyote",
    "email": "wile@initech.example",
    "password": "a long passphrase for initech",
    "workspace_name": "Initech Signs",
    "slug": "initech",
}


@shared_task(base=TenantTask, bind=True, name="tests.outbox.record_tenant")
def record_tenant(self, *, tenant_schema: str, note: str) -> None:
    seen.append((self.tenant.slug, note))


seen: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def _fresh_outage_state():
    outages.outages_forget()
    yield
    outages.outages_forget()


def test_sign_up_with_the_broker_down_keeps_both_its_emails_and_lands_in_the_workspace(
    django_capture_on_commit_callbacks, caplog
):
    client = Client(HTTP_HOST="localhost")
    # The form's step: its one email (the link) is kept while the broker is down.
    with broker_at(DEAD_BROKER), django_capture_on_commit_callbacks(execute=True):
        response = client.post("/signup/", SIGN_UP)

    assert response.status_code == 302
    assert response["Location"] == "/signup/sent/"
    assert mail.outbox == []
    (kept,) = UnsentTask.objects.all()
    assert kept.task_name == "accounts.tasks.send_sign_up_confirm_email"
    assert kept.attempts == 0
    [warning] = [r for r in caplog.records if r.name == "kernel.outages"]
    assert warning.levelno == logging.WARNING
    assert warning.getMessage().startswith("Celery broker unreachable")
    assert warning.exc_info is None

    # The broker is back (tests send eagerly): the sweep sends the link and forgets it.
    assert outbox.unsent_tasks_send() == 1
    [link_email] = mail.outbox
    assert link_email.to == ["wile@initech.example"]
    assert not UnsentTask.objects.exists()

    # The link's step, with the broker down again: the workspace is made, its welcome kept.
    outages.outages_forget()
    client.get(f"/signup/confirm/{token_in(link_email.body)}/")
    with broker_at(DEAD_BROKER), django_capture_on_commit_callbacks(execute=True):
        response = client.post("/signup/confirm/", {"slug": "initech"})

    assert response.status_code == 302
    assert response["Location"].startswith("http://initech.localhost:8000/accounts/handoff/")
    (kept,) = UnsentTask.objects.all()
    assert kept.task_name == "accounts.tasks.send_welcome_email"
    assert kept.tenant_schema == "ws_initech"

    assert outbox.unsent_tasks_send() == 1
    [_, welcome] = mail.outbox
    assert welcome.to == ["wile@initech.example"]
    assert welcome.subject == "Welcome to Initech Signs on Shopsafe"
    assert not UnsentTask.objects.exists()


def test_an_invitation_kept_while_the_broker_is_down_holds_its_link_only_encrypted(
    acme, django_capture_on_commit_callbacks
):
    from rbac.models import Membership

    owner = Membership.objects.get(tenant=acme, user__email="owner@acme.example")
    with broker_at(DEAD_BROKER), django_capture_on_commit_callbacks(execute=True):
        issued = rbac_services.membership_invite(
            tenant=acme, actor=owner, email="new.person@example.com", role=Role.DESIGNER
        )

    (kept,) = UnsentTask.objects.all()
    assert kept.task_name == "rbac.tasks.send_invitation_email"
    assert kept.tenant_schema == "ws_acme"
    assert issued.token.encode() not in bytes(kept.payload)  # the database never holds the link
    assert mail.outbox == []

    assert outbox.unsent_tasks_send() == 1

    [message] = mail.outbox
    assert f"http://acme.localhost:8000/invitations/{issued.token}/" in message.body


def test_a_kept_task_is_sent_to_the_real_broker_with_its_id_once_the_broker_is_back():
    from tenants.tasks import ready_spares_refill

    with broker_at(DEAD_BROKER):
        result = ready_spares_refill.delay()
    (kept,) = UnsentTask.objects.all()
    assert kept.task_id == result.id

    with throwaway_redis() as server, broker_at(server.broker_url):
        assert outbox.unsent_tasks_send() == 1
        # Routed like the original call would have been: the owner queue.
        (message,) = server.client().lrange("owner", 0, -1)

    assert result.id.encode() in message
    assert not UnsentTask.objects.exists()


def test_the_sweep_keeps_the_row_and_backs_off_while_the_broker_is_still_down():
    from tenants.tasks import ready_spares_refill

    with broker_at(DEAD_BROKER):
        ready_spares_refill.delay()
        outages.outages_retry_now()
        first_due = UnsentTask.objects.get().next_attempt_at
        assert outbox.unsent_tasks_send() == 0

    kept = UnsentTask.objects.get()
    assert kept.attempts == 1
    assert kept.next_attempt_at > first_due
    assert kept.last_error.startswith("OperationalError")
    # Not due yet: a sweep right away leaves it alone, whatever the broker does.
    assert outbox.unsent_tasks_send() == 0
    assert UnsentTask.objects.get().attempts == 1


def test_while_the_broker_is_known_down_tasks_are_kept_at_once_without_waiting_for_it(globex):
    import time

    with broker_at(DEAD_BROKER):
        record_tenant.delay(tenant_schema=globex.schema_name, note="0")  # finds out (~1 second)
        started = time.monotonic()
        for number in range(1, 6):
            record_tenant.delay(tenant_schema=globex.schema_name, note=str(number))
        elapsed = time.monotonic() - started

    assert UnsentTask.objects.count() == 6
    assert elapsed < 0.5


def test_the_same_task_with_the_same_arguments_is_kept_once(globex):
    with broker_at(DEAD_BROKER):
        for _ in range(3):
            record_tenant.delay(tenant_schema=globex.schema_name, note="same")
        record_tenant.delay(tenant_schema=globex.schema_name, note="other")

    assert UnsentTask.objects.count() == 2


def test_a_row_whose_payload_was_tampered_with_is_discarded_never_run(caplog):
    from tenants.tasks import ready_spares_refill

    with broker_at(DEAD_BROKER):
        ready_spares_refill.delay()
    kept = UnsentTask.objects.get()
    # Someone with write access to the table swaps the task for another one.
    forged = bytearray(bytes(kept.payload))
    forged[-5] ^= 0x01
    UnsentTask.objects.filter(pk=kept.pk).update(payload=bytes(forged))

    assert outbox.unsent_tasks_send() == 0

    assert not UnsentTask.objects.exists()
    [error] = [r for r in caplog.records if r.name == "tenants.outbox"]
    assert error.levelno == logging.ERROR
    assert "cannot be read" in error.getMessage()


def test_a_kept_tenant_task_runs_in_its_own_workspace_when_sent(acme, globex, in_tenant):
    seen.clear()
    with broker_at(DEAD_BROKER), in_tenant(acme):
        # Queued from acme's context for globex: the task carries its tenant, not the caller's.
        record_tenant.delay(tenant_schema=globex.schema_name, note="for globex")

    assert UnsentTask.objects.get().tenant_schema == globex.schema_name
    assert outbox.unsent_tasks_send() == 1
    assert seen == [("globex", "for globex")]
    assert Tenant.objects.filter(schema_name="ws_globex").exists()


def test_a_workspace_context_neither_sees_nor_writes_unsent_tasks(acme, globex, in_tenant):
    from django.db import ProgrammingError, transaction
    from django.utils import timezone

    with broker_at(DEAD_BROKER):
        record_tenant.delay(tenant_schema=globex.schema_name, note="globex's")
    assert UnsentTask.objects.count() == 1  # the public context, the platform's view

    with in_tenant(acme):
        assert UnsentTask.objects.count() == 0
        assert UnsentTask.objects.filter(tenant_schema="ws_globex").delete() == (0, {})
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            UnsentTask.objects.create(
                task_id="forged",
                task_name="workspace.tasks.workspace_purge_task",
                fingerprint="forged",
                payload=b"forged",
                next_attempt_at=timezone.now(),
            )
    assert UnsentTask.objects.count() == 1


def test_beat_sends_the_kept_tasks_every_minute_from_the_ordinary_worker():
    from django.conf import settings

    from tenants.tasks import unsent_tasks_send

    entry = settings.CELERY_BEAT_SCHEDULE["tenants-unsent-tasks-send"]
    assert entry == {"task": unsent_tasks_send.name, "schedule": 60}
    assert unsent_tasks_send.name not in settings.CELERY_TASK_ROUTES  # not the owner queue
