"""An export's local scratch archive never outlives its build: removed on every failure path,
swept when a worker starts (without touching a build still running), and capped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded, Terminated
from celery.signals import worker_ready
from django.conf import settings
from django.core import mail
from django.utils import timezone
from django_tenants.utils import tenant_context

from audit.events import Event
from audit.models import AuditEvent, Outcome
from exports import archive, scratch, services
from exports.models import ExportJob
from shop.storage import private_storage

ROOT = Path(__file__).resolve().parents[2]


class WorkerKilled(BaseException):
    """Stands in for SystemExit and the like: not an Exception, so no ``except`` handles it."""


def _root_contents() -> list[str]:
    root = scratch.scratch_root()
    return sorted(path.name for path in root.iterdir()) if root.exists() else []


def _left_by_a_killed_worker(name: str = "ws_acme-0000-4242-dead") -> Path:
    """What a build killed by SIGKILL leaves: its folder with a partial archive, and its lock
    file, which nobody holds any more (the kernel dropped the lock with the process)."""
    root = scratch.scratch_root()
    root.mkdir(parents=True, exist_ok=True)
    folder = root / name
    folder.mkdir()
    (folder / "archive.zip.partial").write_bytes(b"PK\x03\x04" + b"\0" * 4096)
    (root / f"{name}{scratch.LOCK_SUFFIX}").touch()
    return folder


# --- The worker-start sweep -----------------------------------------------------------------


def test_a_scratch_archive_left_by_a_killed_worker_is_removed_when_a_worker_starts():
    _left_by_a_killed_worker()  # written a moment ago: no age rule would remove it yet

    worker_ready.send(sender=None)

    assert _root_contents() == []


def test_the_worker_start_sweep_keeps_the_scratch_of_a_build_still_running():
    _left_by_a_killed_worker()
    with scratch.scratch_folder("ws_globex-1111") as folder:
        (folder / "archive.zip.partial").write_bytes(b"still being written")

        worker_ready.send(sender=None)

        assert (folder / "archive.zip.partial").read_bytes() == b"still being written"
        assert _root_contents() == sorted([folder.name, f"{folder.name}{scratch.LOCK_SUFFIX}"])
    assert _root_contents() == []


def test_a_lock_file_without_its_folder_is_swept_and_a_folder_without_its_lock_too():
    root = scratch.scratch_root()
    root.mkdir(parents=True)
    (root / f"orphan-lock{scratch.LOCK_SUFFIX}").touch()
    (root / "orphan-folder").mkdir()

    assert scratch.scratch_sweep() == ["orphan-folder", "orphan-lock"]
    assert _root_contents() == []


_SCRATCH_CHILD = """
import sys, time
from django.conf import settings
settings.configure(EXPORT_TEMP_DIR=sys.argv[1])
from exports import scratch
with scratch.scratch_folder("ws_acme-killed") as folder:
    (folder / "archive.zip.partial").write_bytes(b"x" * 65536)
    print(folder.name, flush=True)
    time.sleep(60)
"""


def _start_build_process() -> tuple[subprocess.Popen, str]:
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", _SCRATCH_CHILD, settings.EXPORT_TEMP_DIR],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


def test_a_build_process_killed_with_sigkill_leaves_scratch_that_the_next_worker_start_removes():
    killed, killed_name = _start_build_process()
    running, running_name = _start_build_process()
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=10)
        assert killed_name in _root_contents()  # no Python code ran to clean it up

        worker_ready.send(sender=None)

        assert _root_contents() == sorted([running_name, f"{running_name}{scratch.LOCK_SUFFIX}"])
    finally:
        running.kill()
        running.wait(timeout=10)
    worker_ready.send(sender=None)
    assert _root_contents() == []


@pytest.mark.parametrize(
    "error", [OSError, SoftTimeLimitExceeded, Terminated, WorkerKilled, KeyboardInterrupt]
)
def test_a_scratch_folder_is_removed_however_its_build_ends(error):
    def build():
        with scratch.scratch_folder("ws_acme-2222") as folder:
            (folder / "archive.zip.partial").write_bytes(b"half an archive")
            raise error

    with pytest.raises(error):
        build()

    assert _root_contents() == []


def test_flat_scratch_files_of_the_earlier_layout_are_swept_once_stale(tmp_path):
    parent = scratch.scratch_root().parent
    parent.mkdir(parents=True)
    stale = parent / "export-aaaa-1.zip.partial"
    fresh = parent / "export-bbbb-2.zip.partial"
    other = parent / "unrelated.zip"
    for path in (stale, fresh, other):
        path.write_bytes(b"x")
    old = time.time() - settings.EXPORT_MAX_RUNTIME_SECONDS - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))

    assert scratch.scratch_sweep() == [stale.name]
    assert sorted(path.name for path in parent.iterdir()) == [fresh.name, other.name]


# --- Builds ---------------------------------------------------------------------------------


def _fail_after(monkeypatch, error: type[BaseException], writes: int, seen: list):
    """Make the archive writer raise ``error`` after ``writes`` writes on the first attempt,
    recording what the scratch root held at that moment."""
    real_write = archive.HashingWriter.write
    state = {"writes": 0, "raised": False}

    def write(self, data):
        state["writes"] += 1
        if not state["raised"] and state["writes"] > writes:
            state["raised"] = True
            seen.extend(_root_contents())
            raise error("stopped mid-write")
        return real_write(self, data)

    monkeypatch.setattr(archive.HashingWriter, "write", write)


@pytest.mark.django_db
@pytest.mark.parametrize("error", [OSError, SoftTimeLimitExceeded, Terminated])
def test_an_export_failing_mid_write_leaves_no_scratch_file_and_is_retried(
    acme, run_export, monkeypatch, error
):
    seen: list[str] = []
    _fail_after(monkeypatch, error, writes=3, seen=seen)

    job = run_export(acme)

    assert (job.status, job.attempts) == (ExportJob.Status.READY, 2)
    assert len(seen) == 2  # the failed attempt's folder and its lock
    assert seen[0].startswith(f"ws_acme-{job.public_id}-")
    assert _root_contents() == []


@pytest.mark.django_db
def test_an_export_whose_worker_is_stopped_mid_write_leaves_no_scratch_file(
    acme, run_export, monkeypatch
):
    seen: list[str] = []
    _fail_after(monkeypatch, WorkerKilled, writes=3, seen=seen)

    with pytest.raises(WorkerKilled):
        run_export(acme)

    assert len(seen) == 2
    assert _root_contents() == []


@pytest.mark.django_db
def test_an_export_failing_during_the_upload_leaves_no_scratch_file(acme, run_export, monkeypatch):
    seen: list[str] = []
    storage_class = type(private_storage())
    real_save = storage_class.save

    def broken_save(self, name, content, *args, **kwargs):
        if "/exports/" in name and not seen:
            seen.extend(_root_contents())
            raise ConnectionError("storage went away")
        return real_save(self, name, content, *args, **kwargs)

    monkeypatch.setattr(storage_class, "save", broken_save)

    job = run_export(acme)

    assert (job.status, job.attempts) == (ExportJob.Status.READY, 2)
    assert len(seen) == 2
    assert _root_contents() == []


@pytest.mark.django_db
def test_an_export_larger_than_the_scratch_cap_fails_at_once_with_a_message_to_the_owner(
    acme, run_export, settings
):
    settings.EXPORT_SCRATCH_MAX_BYTES = 4096

    job = run_export(acme)

    reason = scratch.SCRATCH_TOO_LARGE.format(limit="4.0 KiB")
    assert job.status == ExportJob.Status.FAILED
    assert job.attempts == 1
    assert job.error_message == services.EXPORT_FAILED_TOO_LARGE.format(
        reason=reason, reference=job.public_id
    )
    assert job.error_message == (
        "The export was stopped: the archive needs more than the 4.0 KiB of scratch space this "
        "server allows an export. Nothing was published. Please contact support and mention "
        f"reference {job.public_id}; the limit can be raised for your workspace's export."
    )
    with tenant_context(acme):
        (failed,) = AuditEvent.objects.filter(event_type=Event.EXPORT_FAILED)
        assert not AuditEvent.objects.filter(event_type=Event.EXPORT_RETRIED).exists()
    assert failed.outcome == Outcome.FAILURE
    assert failed.additional_data == {"attempts": 1, "message": job.error_message}
    assert [message.to for message in mail.outbox] == [["owner@acme.example"]]
    assert mail.outbox[0].subject == "Your export of Acme Signs did not finish"
    assert job.error_message in mail.outbox[0].body
    assert not private_storage().exists(f"ws_acme/exports/{job.public_id}.zip")
    assert _root_contents() == []


@pytest.mark.django_db
def test_an_export_that_fits_alone_but_not_beside_running_builds_is_retried_then_failed(
    acme, run_export, settings
):
    settings.EXPORT_SCRATCH_MAX_BYTES = 10 * 1024**2
    with scratch.scratch_folder("ws_globex-running") as other:
        with open(other / "archive.zip.partial", "wb") as handle:
            handle.truncate(10 * 1024**2 - 1024)  # sparse: 10 MiB minus 1 KiB, no real disk

        job = run_export(acme)

        assert _root_contents() == sorted([other.name, f"{other.name}{scratch.LOCK_SUFFIX}"])

    reason = scratch.SCRATCH_BUSY.format(limit="10.0 MiB")
    assert job.status == ExportJob.Status.FAILED
    assert job.attempts == settings.EXPORT_MAX_ATTEMPTS
    assert job.error_message == services.EXPORT_FAILED_ERROR.format(
        attempts=settings.EXPORT_MAX_ATTEMPTS, reason=reason, reference=job.public_id
    )
    with tenant_context(acme):
        retries = AuditEvent.objects.filter(event_type=Event.EXPORT_RETRIED).order_by("sequence")
        assert [event.additional_data for event in retries] == [
            {"attempt": 1, "reason": reason},
            {"attempt": 2, "reason": reason},
        ]
    assert _root_contents() == []


@pytest.mark.django_db
def test_an_export_that_fits_beside_the_running_builds_completes(acme, run_export, settings):
    settings.EXPORT_SCRATCH_MAX_BYTES = 10 * 1024**2
    with scratch.scratch_folder("ws_globex-running") as other:
        with open(other / "archive.zip.partial", "wb") as handle:
            handle.truncate(1024**2)

        job = run_export(acme)

    assert (job.status, job.attempts) == (ExportJob.Status.READY, 1)
    assert job.archive_size < 9 * 1024**2
    assert job.finished_at <= timezone.now()
    assert _root_contents() == []
