"""Export jobs in the worker: one at a time, ready only when complete, idempotent, and a
worker killed mid-export leaves no archive and gets the job retried or failed."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import psycopg
import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from audit.events import Event
from audit.models import AuditEvent, Outcome
from exports import archive, services, tasks
from exports.models import ExportJob
from exports.tests.conftest import stored_files
from rbac.models import Membership
from shop.storage import private_storage

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: not an Exception, so no cleanup of ours handles it."""


def _events(tenant, *types) -> list[AuditEvent]:
    with tenant_context(tenant):
        return list(AuditEvent.objects.filter(event_type__in=types).order_by("sequence"))


def _kill_after(monkeypatch, writes: int, *, times: int | None = None):
    """Make the archive writer die after ``writes`` member writes, ``times`` times (or always)."""
    state = {"writes": 0, "kills": 0}
    real_write = archive.HashingWriter.write

    def write(self, data):
        state["writes"] += 1
        if (times is None or state["kills"] < times) and state["writes"] > writes:
            state["kills"] += 1
            state["writes"] = 0
            raise WorkerKilled
        return real_write(self, data)

    monkeypatch.setattr(archive.HashingWriter, "write", write)
    return state


def _queued_job(tenant, member, status=ExportJob.Status.QUEUED, **fields) -> ExportJob:
    with tenant_context(tenant):
        return ExportJob.objects.create(
            requested_by=member(tenant.slug, "owner"), status=status, **fields
        )


def test_an_export_becomes_ready_with_a_complete_archive_and_is_audited_and_emailed(
    acme, run_export
):
    job = run_export(acme)

    assert job.status == ExportJob.Status.READY
    assert job.attempts == 1
    assert job.archive_key == f"ws_acme/exports/{job.public_id}.zip"
    with private_storage().open(job.archive_key, "rb") as handle:
        stored = handle.read()
    assert len(stored) == job.archive_size
    assert hashlib.sha256(stored).hexdigest() == job.archive_sha256
    assert job.expires_at == job.finished_at + timedelta(days=7)
    assert job.progress_done == job.progress_total == job.record_count + job.file_count
    started, finished = _events(acme, Event.EXPORT_STARTED, Event.EXPORT_FINISHED)[-2:]
    assert (started.event_type, started.target_id) == (Event.EXPORT_STARTED, str(job.pk))
    assert finished.event_type == Event.EXPORT_FINISHED
    assert finished.additional_data["sha256"] == job.archive_sha256
    assert [message.to for message in mail.outbox] == [["owner@acme.example"]]
    assert f"/settings/exports/{job.pk}/download/" in mail.outbox[0].body
    assert job.archive_sha256 in mail.outbox[0].body


def test_a_second_export_while_one_is_queued_is_refused(acme, member):
    _queued_job(acme, member)
    owner = Membership.objects.get(tenant=acme, user=member("acme", "owner"))

    with tenant_context(acme), pytest.raises(ValidationError) as refused:
        services.export_start(tenant=acme, actor=owner)

    assert refused.value.messages == [services.EXPORT_ALREADY_RUNNING]
    with tenant_context(acme):
        assert ExportJob.objects.filter(status__in=ExportJob.ACTIVE_STATUSES).count() == 1


def test_the_database_refuses_two_active_jobs_in_one_workspace(acme, member):
    _queued_job(acme, member)
    with tenant_context(acme), pytest.raises(IntegrityError), transaction.atomic():
        ExportJob.objects.create(status=ExportJob.Status.RUNNING)


def test_a_role_without_exports_run_cannot_start_one(acme, member):
    manager = Membership.objects.get(tenant=acme, user=member("acme", "manager"))
    with tenant_context(acme), pytest.raises(PermissionDenied):
        services.export_start(tenant=acme, actor=manager)


def test_a_worker_killed_mid_write_leaves_no_archive_and_the_sweep_retries_it(
    acme, run_export, monkeypatch, django_capture_on_commit_callbacks
):
    state = _kill_after(monkeypatch, writes=3, times=1)

    with pytest.raises(WorkerKilled):
        run_export(acme)

    with tenant_context(acme):
        job = ExportJob.objects.get(status__in=ExportJob.ACTIVE_STATUSES)
        assert job.status == ExportJob.Status.RUNNING
        assert job.archive_key == ""
        assert job.archive_sha256 == ""
        assert stored_files(f"ws_acme/exports/{job.public_id}.zip") == []
        assert not ExportJob.objects.filter(status=ExportJob.Status.READY, pk=job.pk).exists()
        # The dead worker's lock went with it: the sweep sees the job as orphaned.
        with django_capture_on_commit_callbacks(execute=True):
            acted = services.export_jobs_recover(tenant=acme)
        assert acted == [(job.pk, services.RETRY)]
        job.refresh_from_db()

    assert state["kills"] == 1
    assert job.status == ExportJob.Status.READY
    assert job.attempts == 2
    assert private_storage().exists(job.archive_key)
    (retried,) = _events(acme, Event.EXPORT_RETRIED)
    assert retried.outcome == Outcome.FAILURE
    assert retried.additional_data == {"attempt": 1, "reason": services.REASON_INTERRUPTED}


def test_a_redelivered_task_after_a_kill_builds_the_job_again(acme, run_export, monkeypatch):
    _kill_after(monkeypatch, writes=2, times=1)
    with pytest.raises(WorkerKilled):
        run_export(acme)
    with tenant_context(acme):
        job = ExportJob.objects.get(status=ExportJob.Status.RUNNING)

    # What acks_late + reject_on_worker_lost do: the same message arrives again.
    outcome = tasks.export_run.apply(
        kwargs={"tenant_schema": acme.schema_name, "job_id": job.pk}
    ).get()

    assert outcome == services.READY
    with tenant_context(acme):
        job.refresh_from_db()
    assert (job.status, job.attempts) == (ExportJob.Status.READY, 2)


def test_a_job_killed_on_every_attempt_ends_failed_with_a_clear_message(
    acme, run_export, monkeypatch, django_capture_on_commit_callbacks
):
    _kill_after(monkeypatch, writes=2)
    with pytest.raises(WorkerKilled):
        run_export(acme)
    with tenant_context(acme):
        job = ExportJob.objects.get(status=ExportJob.Status.RUNNING)
        for _ in range(settings.EXPORT_MAX_ATTEMPTS - 1):
            with pytest.raises(WorkerKilled), django_capture_on_commit_callbacks(execute=True):
                services.export_jobs_recover(tenant=acme)
        with django_capture_on_commit_callbacks(execute=True):
            assert services.export_jobs_recover(tenant=acme) == [(job.pk, services.FAILED)]
        job.refresh_from_db()

    assert job.status == ExportJob.Status.FAILED
    assert job.attempts == settings.EXPORT_MAX_ATTEMPTS
    assert job.error_message == services.EXPORT_FAILED_INTERRUPTED.format(
        attempts=settings.EXPORT_MAX_ATTEMPTS
    )
    assert not private_storage().exists(f"ws_acme/exports/{job.public_id}.zip")
    (failed,) = _events(acme, Event.EXPORT_FAILED)
    assert failed.outcome == Outcome.FAILURE
    assert failed.additional_data["message"] == job.error_message
    assert mail.outbox[-1].subject == "Your export of Acme Signs did not finish"
    assert job.error_message in mail.outbox[-1].body


def test_an_error_while_writing_is_retried_then_fails_with_a_message(acme, run_export, monkeypatch):
    def broken_copy(*args, **kwargs):
        raise OSError("disk full at /var/tmp/secret-path")

    monkeypatch.setattr(archive, "_copy_file", broken_copy)

    job = run_export(acme)

    assert job.status == ExportJob.Status.FAILED
    assert job.attempts == settings.EXPORT_MAX_ATTEMPTS
    assert job.error_message == services.EXPORT_FAILED_ERROR.format(
        attempts=settings.EXPORT_MAX_ATTEMPTS, reason="OSError", reference=job.public_id
    )
    assert "secret-path" not in job.error_message
    assert not private_storage().exists(f"ws_acme/exports/{job.public_id}.zip")
    retries = _events(acme, Event.EXPORT_RETRIED)
    assert [event.additional_data for event in retries] == [
        {"attempt": 1, "reason": "OSError"},
        {"attempt": 2, "reason": "OSError"},
    ]
    assert len(_events(acme, Event.EXPORT_FAILED)) == 1


def test_a_transient_error_is_retried_and_the_export_completes(acme, run_export, monkeypatch):
    real_copy = archive._copy_file
    calls = {"n": 0}

    def flaky_copy(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("storage hiccup")
        return real_copy(*args, **kwargs)

    monkeypatch.setattr(archive, "_copy_file", flaky_copy)

    job = run_export(acme)

    assert (job.status, job.attempts, job.error_message) == (ExportJob.Status.READY, 2, "")


def test_a_redelivered_task_for_a_finished_job_does_nothing(acme, run_export):
    job = run_export(acme)
    with tenant_context(acme):
        before = AuditEvent.objects.count()

    outcome = tasks.export_run.apply(
        kwargs={"tenant_schema": acme.schema_name, "job_id": job.pk}
    ).get()

    assert outcome == services.NOTHING_TO_DO
    with tenant_context(acme):
        assert AuditEvent.objects.count() == before
        assert ExportJob.objects.get(pk=job.pk).attempts == 1


@pytest.fixture
def other_session():
    """A second database session, standing in for another worker."""
    settings_dict = connection.settings_dict
    with psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or None,
        autocommit=True,
    ) as session:
        yield session


def test_a_task_for_a_job_another_worker_is_building_leaves_it_alone(acme, member, other_session):
    job = _queued_job(acme, member, status=ExportJob.Status.RUNNING, attempts=1)
    other_session.execute("SELECT pg_advisory_lock(%s)", [services._builder_lock_key(job)])

    outcome = tasks.export_run.apply(
        kwargs={"tenant_schema": acme.schema_name, "job_id": job.pk}
    ).get()

    assert outcome == services.BUSY
    with tenant_context(acme):
        assert services.export_jobs_recover(tenant=acme) == []  # alive: not orphaned
        job.refresh_from_db()
    assert (job.status, job.attempts) == (ExportJob.Status.RUNNING, 1)


def test_a_job_running_past_the_deadline_is_failed(acme, member, other_session):
    job = _queued_job(
        acme,
        member,
        status=ExportJob.Status.RUNNING,
        attempts=1,
        started_at=timezone.now() - timedelta(seconds=settings.EXPORT_MAX_RUNTIME_SECONDS + 1),
    )
    other_session.execute("SELECT pg_advisory_lock(%s)", [services._builder_lock_key(job)])

    with tenant_context(acme):
        assert services.export_jobs_recover(tenant=acme) == [(job.pk, services.FAILED)]
        job.refresh_from_db()

    assert job.status == ExportJob.Status.FAILED
    assert job.error_message == services.EXPORT_FAILED_TOO_LONG.format(
        hours=settings.EXPORT_MAX_RUNTIME_SECONDS // 3600
    )


def test_a_queued_job_nobody_picked_up_is_sent_again(
    acme, member, django_capture_on_commit_callbacks
):
    job = _queued_job(acme, member)
    with tenant_context(acme):
        assert services.export_jobs_recover(tenant=acme) == []  # just queued: leave it
        ExportJob.objects.filter(pk=job.pk).update(queued_at=timezone.now() - timedelta(hours=1))
        with django_capture_on_commit_callbacks(execute=True):
            assert services.export_jobs_recover(tenant=acme) == [(job.pk, services.RETRY)]
        job.refresh_from_db()
    assert job.status == ExportJob.Status.READY


def test_the_beat_sweeps_walk_every_workspace(acme, globex, member, monkeypatch):
    seen = []
    monkeypatch.setattr(
        services,
        "export_jobs_recover",
        lambda *, tenant: seen.append((tenant.slug, connection.schema_name)) or [],
    )
    tasks.exports_recover_stalled.apply().get()
    assert ("acme", "ws_acme") in seen
    assert ("globex", "ws_globex") in seen
    assert connection.schema_name == "public"


def _leftover_upload(tenant, job) -> str:
    """What a worker killed half-way through the upload leaves: a partial object."""
    from django.core.files.base import ContentFile

    key = services.archive_key_for(tenant, job)
    private_storage().save(key, ContentFile(b"PK\x03\x04 half an archive"))
    return key


def test_an_upload_cut_short_is_replaced_by_the_next_attempt(
    acme, member, django_capture_on_commit_callbacks
):
    job = _queued_job(acme, member, status=ExportJob.Status.RUNNING, attempts=1)
    key = _leftover_upload(acme, job)

    with tenant_context(acme):
        with django_capture_on_commit_callbacks(execute=True):
            services.export_jobs_recover(tenant=acme)
        job.refresh_from_db()

    assert (job.status, job.archive_key) == (ExportJob.Status.READY, key)
    with private_storage().open(key, "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == job.archive_sha256


def test_a_job_failed_after_an_upload_cut_short_leaves_no_object(
    acme, member, django_capture_on_commit_callbacks
):
    job = _queued_job(
        acme, member, status=ExportJob.Status.RUNNING, attempts=settings.EXPORT_MAX_ATTEMPTS
    )
    key = _leftover_upload(acme, job)

    with tenant_context(acme):
        with django_capture_on_commit_callbacks(execute=True):
            assert services.export_jobs_recover(tenant=acme) == [(job.pk, services.FAILED)]
        job.refresh_from_db()

    assert job.status == ExportJob.Status.FAILED
    assert not private_storage().exists(key)
