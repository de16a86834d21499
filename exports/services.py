"""Every write to export jobs: start, build (in the worker), publish, fail, recover, expire,
and the single-use download links.

Invariants:
- The actor of a user action is an rbac Membership of ``tenant`` holding ``exports:run``
  (checked again here, so a task or command cannot skip the view's check); the worker's own
  steps are the system. Every start, finish, failure, retry, download (and refused download)
  and expiry writes its audit event inside the transaction of the change.
- One export at a time per workspace: ``export_start`` serialises on a per-workspace lock and
  the table has a partial unique index over queued/running rows.
- A job is built by exactly one worker: the builder holds a session-level advisory lock keyed
  by the job for the whole build. PostgreSQL drops that lock when the worker's connection dies,
  so "running, and nobody holds the lock" means the worker was killed; the recovery sweep
  (and the next start request) re-queues such a job or, after ``EXPORT_MAX_ATTEMPTS``, fails
  it with a message.
- The archive is written to a local temporary file, stored under its final key only when
  complete, and the row becomes ``ready`` (in one transaction with its audit event) only after
  that. Until then no row points at the key, and every failure path deletes it again.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import IO, cast

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from audit.events import Event
from audit.models import Outcome
from audit.services import audit_event_record
from kernel.capabilities import EXPORTS_RUN, require
from kernel.tenant_connection import tenant_connection
from rbac.authz import current_member
from rbac.models import Membership
from shop.storage import private_storage
from tenants.models import Tenant

from .archive import ArchiveContext, archive_write, sha256_of_file
from .models import ExportJob
from .scratch import CappedFile, ScratchFull, ScratchTooLarge, scratch_folder, scratch_sweep

logger = logging.getLogger("exports")

EXPORT_ALREADY_RUNNING = (
    "An export of this workspace is already running. You can start another once it has finished."
)
EXPORT_RETRYING = "Attempt {attempt} did not finish ({reason}); trying again."
EXPORT_FAILED_INTERRUPTED = (
    "The export was interrupted {attempts} times before it could finish (the worker building "
    "it stopped) and has been stopped. Nothing was published. Please start a new export."
)
EXPORT_FAILED_ERROR = (
    "The export could not be completed after {attempts} attempts ({reason}). Nothing was "
    "published. Please start a new export; if it fails again, contact support and mention "
    "reference {reference}."
)
EXPORT_FAILED_TOO_LARGE = (
    "The export was stopped: {reason}. Nothing was published. Please contact support and "
    "mention reference {reference}; the limit can be raised for your workspace's export."
)
EXPORT_FAILED_TOO_LONG = (
    "The export did not finish within {hours} hours and was stopped. Nothing was published. "
    "Please start a new export."
)
REASON_INTERRUPTED = "the worker stopped"
ARCHIVE_NOT_READY = "This export has no archive to download."
ARCHIVE_EXPIRED = (
    "This archive has expired and was deleted. Start a new export from the Exports page."
)
LINK_USED = (
    "This download link has already been used. Each link works once: get a new one from the "
    "Exports page."
)
LINK_EXPIRED = "This download link has expired. Get a new one from the Exports page."
LINK_REPLACED = (
    "This download link was replaced by a newer one. Use the newest link, or get a new one "
    "from the Exports page."
)

# Outcomes of a build attempt (what the task does next).
READY = "ready"
RETRY = "retry"
FAILED = "failed"
BUSY = "busy"  # another worker is building this job right now
NOTHING_TO_DO = "nothing to do"  # already ready, failed or expired (a redelivered task)

PROGRESS_EVERY_SECONDS = 0.5
_START_LOCK_NAMESPACE = 0x45585054  # "EXPT": pg_advisory_xact_lock(namespace, schema hash)


class LinkRefused(Exception):
    """A download link that belongs to this job but cannot be used; ``str()`` says why."""


def archive_key_for(tenant: Tenant, job: ExportJob) -> str:
    return f"{tenant.schema_name}/exports/{job.public_id}.zip"


def progress_cache_key(job: ExportJob) -> str:
    # The default cache is tenant-aware (KEY_FUNCTION), so the key needs no schema.
    return f"exports:progress:{job.public_id}"


def _authorize(*, tenant: Tenant, actor: Membership | None) -> Membership:
    current = current_member(tenant, actor)
    _require_schema(tenant)
    require(current, EXPORTS_RUN)
    return current


def _require_schema(tenant: Tenant) -> None:
    active = tenant_connection.schema_name
    if active != tenant.schema_name:
        raise RuntimeError(f"exports service for {tenant.schema_name} called with schema {active}")


def _enqueue(task, *, tenant: Tenant, **kwargs) -> None:
    """Queue a tenant task (after commit, by the callers). An eager task switches the
    connection back to public when it ends; restore the caller's tenant."""
    active = tenant_connection.tenant
    try:
        task.delay(tenant_schema=tenant.schema_name, **kwargs)
    finally:
        if tenant_connection.tenant is not active:
            tenant_connection.set_tenant(active)


def _locked(job_id: int) -> ExportJob | None:
    return ExportJob.objects.select_for_update().filter(pk=job_id).first()


# --- Starting ------------------------------------------------------------------------------


def export_start(*, tenant: Tenant, actor: Membership) -> ExportJob:
    """Queue an export of the whole workspace; refuse while another one is queued or running."""
    from .tasks import export_run

    _authorize(tenant=tenant, actor=actor)
    export_jobs_recover(tenant=tenant)  # a job whose worker died must not block this forever
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))",
                [_START_LOCK_NAMESPACE],
            )
        if ExportJob.objects.filter(status__in=ExportJob.ACTIVE_STATUSES).exists():
            raise ValidationError(EXPORT_ALREADY_RUNNING, code="running")
        try:
            with transaction.atomic():
                job = ExportJob.objects.create(requested_by=actor.user)
        except IntegrityError as error:  # the partial unique index, should the lock be bypassed
            raise ValidationError(EXPORT_ALREADY_RUNNING, code="running") from error
        audit_event_record(event_type=Event.EXPORT_STARTED, target=job)
        transaction.on_commit(lambda: _enqueue(export_run, tenant=tenant, job_id=job.pk))
    return job


# --- Building (the worker) ----------------------------------------------------------------


def _builder_lock_key(job: ExportJob) -> int:
    return int.from_bytes(job.public_id.bytes[:8], "big", signed=True)


@contextmanager
def _builder_lock(job: ExportJob) -> Iterator[bool]:
    """Session-level advisory lock: held while this worker builds ``job``; PostgreSQL drops
    it with the connection if the worker dies."""
    key = _builder_lock_key(job)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except DatabaseError:
                logger.exception("could not release the export builder lock; closing")
                connection.close()  # closing the session releases its locks


def _builder_alive(job: ExportJob) -> bool:
    """True while some session holds the job's builder lock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_builder_lock_key(job)])
        return not cursor.fetchone()[0]


def export_job_build(*, tenant: Tenant, job_id: int) -> str:
    """Build and publish one job's archive; the body of ``tasks.export_run``.

    Idempotent: a job that is already ready, failed or expired is left alone, and a job some
    other worker is building right now is left to it.
    """
    _require_schema(tenant)
    job = ExportJob.objects.filter(pk=job_id).first()
    if job is None or not job.is_active:
        return NOTHING_TO_DO
    with _builder_lock(job) as acquired:
        if not acquired:
            return BUSY
        job, outcome = _claim(job_id)
        if job is None:
            return outcome
        try:
            published = _build_and_publish(tenant, job)
        except ScratchTooLarge as error:  # trying again cannot help
            logger.warning("export %s stopped: %s", job.public_id, error)
            _archive_discard(tenant, job)
            _fail(job_id, EXPORT_FAILED_TOO_LARGE.format(reason=error, reference=job.public_id))
            return FAILED
        except Exception as error:
            logger.exception("export %s attempt %s failed", job.public_id, job.attempts)
            _archive_discard(tenant, job)
            reason = _reason(error)
            if job.attempts < settings.EXPORT_MAX_ATTEMPTS:
                _requeue(job_id, reason=reason)
                return RETRY
            _fail(
                job_id,
                EXPORT_FAILED_ERROR.format(
                    attempts=job.attempts, reason=reason, reference=job.public_id
                ),
            )
            return FAILED
        return READY if published else NOTHING_TO_DO


def _reason(error: Exception) -> str:
    # What a person may read: the kind of error, not its text (which may hold paths or SQL),
    # unless the error was written for them.
    if isinstance(error, ScratchFull):
        return str(error)
    return f"{type(error).__name__}"


def _claim(job_id: int) -> tuple[ExportJob | None, str]:
    """Mark the job running for this attempt; fail it if its attempts are used up."""
    with transaction.atomic():
        job = _locked(job_id)
        if job is None or not job.is_active:
            return None, NOTHING_TO_DO
        interrupted = job.status == ExportJob.Status.RUNNING
        job.status = ExportJob.Status.RUNNING
        job.attempts += 1
        job.started_at = timezone.now()
        job.save(update_fields=["status", "attempts", "started_at"])
        if interrupted:
            # A redelivered message: the worker that ran the previous attempt died.
            if job.attempts > settings.EXPORT_MAX_ATTEMPTS:
                _fail_locked(job, EXPORT_FAILED_INTERRUPTED.format(attempts=job.attempts - 1))
                return None, FAILED
            _audit_retry(job, attempt=job.attempts - 1, reason=REASON_INTERRUPTED)
    return job, ""


@contextmanager
def _read_snapshot() -> Iterator[None]:
    """One read-only REPEATABLE READ transaction: every entity, count and file reference of
    the archive comes from the same moment. (Nested in a caller's transaction, as in tests,
    it simply reads within that one.)"""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


class _ProgressReporter:
    """Publishes done/total to the (tenant-aware) cache at most twice a second; the row is
    inside the build's read-only snapshot and gets its final figures when published."""

    def __init__(self, job: ExportJob):
        self.key = progress_cache_key(job)
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done == 0 or now - self.last >= PROGRESS_EVERY_SECONDS:
            self.last = now
            cache.set(self.key, {"done": done, "total": total}, settings.EXPORT_MAX_RUNTIME_SECONDS)


def _build_and_publish(tenant: Tenant, job: ExportJob) -> bool:
    """Write the archive into this build's own scratch folder, upload it, publish the job.

    The scratch folder (``exports/scratch.py``) is removed however this ends: return,
    exception, revocation, soft time limit; what a killed worker leaves is swept here and
    when a worker starts."""
    reporter = _ProgressReporter(job)
    scratch_sweep()
    with scratch_folder(f"{tenant.schema_name}-{job.public_id}") as folder:
        path = folder / "archive.zip.partial"
        with open(path, "xb") as handle, _read_snapshot():
            context = ArchiveContext(
                tenant=tenant,
                export_id=str(job.public_id),
                exported_at=timezone.now(),
                requested_by=job.requested_by,
                chunk_size=settings.EXPORT_CHUNK_SIZE,
                progress=reporter,
            )
            # CappedFile passes every file method on to the handle and checks the cap on write.
            manifest = archive_write(cast(IO[bytes], CappedFile(handle, folder)), context)
        digest, size = sha256_of_file(path)
        key = archive_key_for(tenant, job)
        storage = private_storage()
        if storage.exists(key):  # left by an attempt that died while uploading
            storage.delete(key)
        with open(path, "rb") as upload:
            saved_as = storage.save(key, File(upload))
        if saved_as != key:
            storage.delete(saved_as)
            raise RuntimeError("private storage renamed the archive")
        return _publish(
            job.pk, key=key, digest=digest, size=size, manifest=manifest, total=context.total
        )


def _publish(job_id: int, *, key: str, digest: str, size: int, manifest: dict, total: int) -> bool:
    from .tasks import send_export_ready_email

    with transaction.atomic():
        job = _locked(job_id)
        if job is None or job.status != ExportJob.Status.RUNNING:
            # Failed by the sweep meanwhile (ran past the deadline): publish nothing.
            private_storage().delete(key)
            return False
        now = timezone.now()
        records = sum(entry["count"] for entry in manifest["entities"].values())
        job.status = ExportJob.Status.READY
        job.finished_at = now
        job.expires_at = now + timedelta(days=settings.EXPORT_ARCHIVE_DAYS)
        job.archive_key = key
        job.archive_size = size
        job.archive_sha256 = digest
        job.record_count = records
        job.file_count = manifest["files"]["count"]
        job.progress_done = job.progress_total = total
        job.error_message = ""
        job.save()
        audit_event_record(
            event_type=Event.EXPORT_FINISHED,
            target=job,
            data={
                "attempt": job.attempts,
                "records": records,
                "files": job.file_count,
                "missing_files": len(manifest["files"]["missing"]),
                "size": size,
                "sha256": digest,
            },
        )
        tenant = tenant_connection.tenant
        transaction.on_commit(
            lambda: _enqueue(send_export_ready_email, tenant=tenant, job_id=job.pk)
        )
    cache.delete(progress_cache_key(job))
    return True


def _archive_discard(tenant: Tenant, job: ExportJob) -> None:
    try:
        key = archive_key_for(tenant, job)
        if private_storage().exists(key):
            private_storage().delete(key)
    except Exception:  # the failure we are handling matters more; the sweep retries nothing
        logger.exception("could not delete the partial archive of export %s", job.public_id)


def _requeue(job_id: int, *, reason: str) -> None:
    with transaction.atomic():
        job = _locked(job_id)
        if job is None or job.status != ExportJob.Status.RUNNING:
            return
        job.status = ExportJob.Status.QUEUED
        job.queued_at = timezone.now()
        job.error_message = EXPORT_RETRYING.format(attempt=job.attempts, reason=reason)
        job.save(update_fields=["status", "queued_at", "error_message"])
        _audit_retry(job, attempt=job.attempts, reason=reason)


def _audit_retry(job: ExportJob, *, attempt: int, reason: str) -> None:
    audit_event_record(
        event_type=Event.EXPORT_RETRIED,
        target=job,
        outcome=Outcome.FAILURE,
        data={"attempt": attempt, "reason": reason},
    )


def _fail(job_id: int, message: str) -> None:
    with transaction.atomic():
        job = _locked(job_id)
        if job is not None and job.is_active:
            _fail_locked(job, message)


def _fail_locked(job: ExportJob, message: str) -> None:
    from .tasks import send_export_failed_email

    job.status = ExportJob.Status.FAILED
    job.finished_at = timezone.now()
    job.error_message = message
    job.save(update_fields=["status", "finished_at", "error_message"])
    audit_event_record(
        event_type=Event.EXPORT_FAILED,
        target=job,
        outcome=Outcome.FAILURE,
        data={"attempts": job.attempts, "message": message},
    )
    tenant = tenant_connection.tenant
    # An attempt killed while uploading may have left an object under the job's key.
    transaction.on_commit(lambda: _archive_discard(tenant, job))
    transaction.on_commit(lambda: _enqueue(send_export_failed_email, tenant=tenant, job_id=job.pk))
    cache.delete(progress_cache_key(job))


# --- The sweeps (beat) --------------------------------------------------------------------


def export_jobs_recover(*, tenant: Tenant) -> list[tuple[int, str]]:
    """Find jobs whose worker died or that ran past the deadline; re-queue or fail them.

    Returns (job id, what was done) for each job acted on.
    """
    from .tasks import export_run

    _require_schema(tenant)
    now = timezone.now()
    acted: list[tuple[int, str]] = []
    for job_id in ExportJob.objects.filter(status__in=ExportJob.ACTIVE_STATUSES).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            job = _locked(job_id)
            if job is None or not job.is_active:
                continue
            alive = _builder_alive(job)
            if job.status == ExportJob.Status.RUNNING and alive:
                deadline = timedelta(seconds=settings.EXPORT_MAX_RUNTIME_SECONDS)
                if job.started_at and job.started_at < now - deadline:
                    hours = settings.EXPORT_MAX_RUNTIME_SECONDS // 3600
                    _fail_locked(job, EXPORT_FAILED_TOO_LONG.format(hours=hours))
                    acted.append((job.pk, FAILED))
                continue
            if job.status == ExportJob.Status.RUNNING:
                if job.attempts >= settings.EXPORT_MAX_ATTEMPTS:
                    _fail_locked(job, EXPORT_FAILED_INTERRUPTED.format(attempts=job.attempts))
                    acted.append((job.pk, FAILED))
                    continue
                job.status = ExportJob.Status.QUEUED
                job.queued_at = now
                job.error_message = EXPORT_RETRYING.format(
                    attempt=job.attempts, reason=REASON_INTERRUPTED
                )
                job.save(update_fields=["status", "queued_at", "error_message"])
                _audit_retry(job, attempt=job.attempts, reason=REASON_INTERRUPTED)
            elif alive or job.queued_at > now - timedelta(
                seconds=settings.EXPORT_REQUEUE_QUEUED_AFTER_SECONDS
            ):
                continue  # queued recently: its message is still on its way
            job_pk = job.pk
            transaction.on_commit(
                functools.partial(_enqueue, export_run, tenant=tenant, job_id=job_pk)
            )
            acted.append((job_pk, RETRY))
    return acted


def export_archives_expire(*, tenant: Tenant, now=None) -> list[int]:
    """Delete archives older than ``EXPORT_ARCHIVE_DAYS`` and mark their jobs expired."""
    _require_schema(tenant)
    now = now or timezone.now()
    expired = []
    for job_id in ExportJob.objects.filter(
        status=ExportJob.Status.READY, expires_at__lte=now
    ).values_list("pk", flat=True):
        with transaction.atomic():
            job = _locked(job_id)
            if job is None or job.status != ExportJob.Status.READY:
                continue
            job.status = ExportJob.Status.EXPIRED
            job.download_token_digest = ""
            job.download_expires_at = None
            job.save(update_fields=["status", "download_token_digest", "download_expires_at"])
            audit_event_record(
                event_type=Event.EXPORT_EXPIRED,
                target=job,
                data={"sha256": job.archive_sha256, "size": job.archive_size},
            )
        expired.append(job_id)
    # Delete the objects after the rows say "expired"; a failed delete is retried next sweep.
    for job in ExportJob.objects.filter(status=ExportJob.Status.EXPIRED).exclude(archive_key=""):
        try:
            private_storage().delete(job.archive_key)
        except Exception:
            logger.exception("could not delete expired archive of export %s", job.public_id)
            continue
        ExportJob.objects.filter(pk=job.pk).update(archive_key="")
    return expired


# --- Download links -----------------------------------------------------------------------


def _link_signer(tenant: Tenant, job: ExportJob) -> signing.TimestampSigner:
    # The salt binds a link to this workspace and this job: a link of acme's is no link at
    # globex, even for a job with the same id.
    return signing.TimestampSigner(
        salt=f"exports.download:{tenant.schema_name}:{job.public_id}", algorithm="sha256"
    )


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _link_issue(tenant: Tenant, job_id: int, *, seconds: int) -> str:
    with transaction.atomic():
        job = _locked(job_id)
        if job is None or job.status != ExportJob.Status.READY:
            raise ValidationError(ARCHIVE_NOT_READY, code="not_ready")
        token = _link_signer(tenant, job).sign(secrets.token_urlsafe(24))
        job.download_token_digest = _token_digest(token)
        job.download_expires_at = timezone.now() + timedelta(seconds=seconds)
        job.download_used_at = None
        job.save(update_fields=["download_token_digest", "download_expires_at", "download_used_at"])
    return token


def export_link_issue(*, tenant: Tenant, actor: Membership, job: ExportJob) -> str:
    """A fresh single-use link for the Download button (it replaces any earlier link)."""
    _authorize(tenant=tenant, actor=actor)
    return _link_issue(tenant, job.pk, seconds=settings.EXPORT_PAGE_LINK_SECONDS)


def export_link_issue_for_email(*, tenant: Tenant, job: ExportJob) -> str:
    """The link the "export ready" email carries (the worker, acting as the system)."""
    _require_schema(tenant)
    return _link_issue(tenant, job.pk, seconds=settings.EXPORT_EMAIL_LINK_SECONDS)


def export_download_redeem(
    *, tenant: Tenant, actor: Membership, job: ExportJob, token: str
) -> ExportJob:
    """Use up a download link: returns the job whose archive may now be handed out.

    A token that is not a link of this job in this workspace is Http404 (like a missing
    job); a link of this job that is used, expired or replaced raises LinkRefused. Both the
    download and a refused attempt are audited.
    """
    _authorize(tenant=tenant, actor=actor)
    refusal = None
    try:
        _link_signer(tenant, job).unsign(token, max_age=settings.EXPORT_EMAIL_LINK_SECONDS)
    except signing.SignatureExpired:
        refusal = LINK_EXPIRED
    except signing.BadSignature as error:
        raise Http404("no such download link") from error
    with transaction.atomic():
        locked = _locked(job.pk)
        if locked is None:
            raise Http404("no such export")
        now = timezone.now()
        if refusal is None:
            if locked.status == ExportJob.Status.EXPIRED:
                refusal = ARCHIVE_EXPIRED
            elif locked.status != ExportJob.Status.READY:
                refusal = ARCHIVE_NOT_READY
            elif not constant_time_compare(_token_digest(token), locked.download_token_digest):
                refusal = LINK_REPLACED
            elif locked.download_used_at is not None:
                refusal = LINK_USED
            elif locked.download_expires_at is None or locked.download_expires_at <= now:
                refusal = LINK_EXPIRED
        if refusal is None:
            locked.download_used_at = now
            locked.save(update_fields=["download_used_at"])
        audit_event_record(
            event_type=Event.EXPORT_DOWNLOADED,
            target=locked,
            outcome=Outcome.FAILURE if refusal else Outcome.SUCCESS,
            data={"reason": refusal} if refusal else {"sha256": locked.archive_sha256},
        )
    if refusal:
        raise LinkRefused(refusal)
    return locked
