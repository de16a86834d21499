"""Workspace export at size: throughput, peak memory, and the import of the result.

On one throw-away database (created here, dropped at the end) and a throw-away private
storage folder, two workspaces are filled with bulk_create and random-bytes files:

* **large**: 100,000 records (companies, contacts, quotes, quote lines, files) and 200 MB of
  files (200 files of 1 MiB);
* **small**: a tenth of that (10,000 records, 20 MB), to show memory does not grow with size.

Each export runs the task body (``services.export_job_build``) in a fresh subprocess, after one
export of the small workspace in that process (a worker that has run a task before; set
``BENCH_EXPORT_COLD=1`` to measure a cold process), and reports records/s, MB/s, and the
process's peak RSS (``resource.getrusage``) next to its RSS before the export started. Then the
large archive is verified and imported into a new workspace (``manage.py import_workspace``'s
code path) in another subprocess. Last, the large workspace is deleted as its owner's "delete
now" does it (the keyed decision, then ``workspace.lifecycle.workspace_purge``: counts, files,
rows, receipt; then the owner side's drop of the schema and its role) and its time is reported
as a ratio to an empty workspace's and to its export.

Uses the embedded PostgreSQL and Redis, or DATABASE_URL / REDIS_URL when they are set.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import run_side, scratch_database

SIZES = {
    # name: (companies, contacts, quotes, lines per quote, files, file bytes)
    "large": (2_000, 17_800, 20_000, 3, 200, 1024 * 1024),  # 100,000 records, 200 MiB
    "small": (200, 1_780, 2_000, 3, 20, 1024 * 1024),  # 10,000 records, 20 MiB
}
BATCH = 5_000
ROUNDS = 3


def _rss_kb() -> int:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _current_rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# --- Subprocess sides -----------------------------------------------------------------------


def _seed_side() -> dict:
    import django

    django.setup()
    from datetime import date
    from decimal import Decimal

    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import tenant_context

    from shop.models import Company, Contact, Quote, QuoteLine, StoredFile
    from shop.storage import private_storage
    from tenants.services import tenant_provision

    call_command("migrate_schemas", interactive=False, verbosity=0)
    counts = {}
    for name, (companies, contacts, quotes, lines, files, file_bytes) in SIZES.items():
        tenant = tenant_provision(slug=f"bench-{name}", name=f"Bench {name}")
        with tenant_context(tenant):
            Company.objects.bulk_create(
                (
                    Company(
                        name=f"Company {index:05d} Signs & Print",
                        email=f"office@c{index}.example",
                        billing_address=f"{index} Long Road\nSpringfield",
                        notes="Prefers matte vinyl. " * 3,
                    )
                    for index in range(companies)
                ),
                batch_size=BATCH,
            )
            company_ids = list(Company.objects.values_list("pk", flat=True))
            Contact.objects.bulk_create(
                (
                    Contact(
                        company_id=company_ids[index % companies],
                        name=f"Person {index}",
                        email=f"person{index}@c.example",
                        phone="+1 555 0100",
                    )
                    for index in range(contacts)
                ),
                batch_size=BATCH,
            )
            Quote.objects.bulk_create(
                (
                    Quote(
                        company_id=company_ids[index % companies],
                        number=f"Q-{index + 1:06d}",
                        title=f"Storefront sign {index}",
                        tax_rate=Decimal("8.25"),
                        valid_until=date(2030, 1, 1),
                        subtotal=Decimal("1497.50"),
                        tax_amount=Decimal("123.54"),
                        total=Decimal("1621.04"),
                    )
                    for index in range(quotes)
                ),
                batch_size=BATCH,
            )
            quote_ids = list(Quote.objects.values_list("pk", flat=True))
            QuoteLine.objects.bulk_create(
                (
                    QuoteLine(
                        quote_id=quote_id,
                        position=position,
                        description=f"Item {position}: aluminium composite panel, printed",
                        quantity=Decimal("2.50"),
                        unit_price=Decimal("199.67"),
                    )
                    for quote_id in quote_ids
                    for position in range(1, lines + 1)
                ),
                batch_size=BATCH,
            )
            storage = private_storage()
            stored = []
            for index in range(files):
                key = f"{tenant.schema_name}/files/bench-{index:05d}"
                storage.save(key, ContentFile(os.urandom(file_bytes)))
                stored.append(
                    StoredFile(
                        company_id=company_ids[index % companies],
                        kind="artwork",
                        original_filename=f"artwork-{index}.pdf",
                        content_type="application/pdf",
                        extension="pdf",
                        size=file_bytes,
                        sha256="0" * 64,
                        storage_key=key,
                    )
                )
            StoredFile.objects.bulk_create(stored, batch_size=BATCH)
        connection.set_schema_to_public()
        counts[name] = companies + contacts + quotes + quotes * lines + files
    return {"records": counts}


def _export_side(name: str) -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django_tenants.utils import tenant_context

    from exports import services
    from exports.models import ExportJob
    from tenants.models import Tenant

    # When each record and file was done: the records come first, so the moment the count
    # reaches the number of records ends the records phase (the files follow).
    marks: list[tuple[float, int]] = []
    reporter_call = services._ProgressReporter.__call__

    def marking(self, done: int, total: int) -> None:
        marks.append((time.perf_counter(), done))
        reporter_call(self, done, total)

    services._ProgressReporter.__call__ = marking  # type: ignore[method-assign]
    if os.environ.get("BENCH_EXPORT_COLD") != "1":
        # As a worker that has run a task before: its modules imported and its cache client
        # made (a first export in a new process spends most of a second importing redis-py
        # and compiling modules, which is no part of exporting). The small workspace's export.
        warm = Tenant.objects.get(slug="bench-small")
        with tenant_context(warm):
            warm_job = ExportJob.objects.create()
            services.export_job_build(tenant=warm, job_id=warm_job.pk)
        connection.set_schema_to_public()
        marks.clear()
    tenant = Tenant.objects.get(slug=f"bench-{name}")
    with tenant_context(tenant):
        job = ExportJob.objects.create()
        connection.close()  # start the measurement from a fresh connection
        rss_before = _current_rss_kb()
        started = time.perf_counter()
        outcome = services.export_job_build(tenant=tenant, job_id=job.pk)
        seconds = time.perf_counter() - started
        job.refresh_from_db()
    if outcome != services.READY:
        raise RuntimeError(f"export ended {outcome}: {job.error_message}")
    records_done = next(at for at, done in marks if done >= job.record_count)
    target = Path(os.environ["BENCH_ARCHIVE_DIR"]) / f"{name}.zip"
    from shop.storage import private_storage

    with private_storage().open(job.archive_key, "rb") as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)
    return {
        "seconds": seconds,
        # From the start of the task: connecting, claiming the job and counting included.
        "records_seconds": records_done - started,
        "records": job.record_count,
        "files": job.file_count,
        "archive_bytes": job.archive_size,
        "rss_before_kb": rss_before,
        "rss_peak_kb": _rss_kb(),
        "chunk_size": settings.EXPORT_CHUNK_SIZE,
        "archive": str(target),
    }


def _copy_side(name: str) -> dict:
    """The baseline: PostgreSQL's own COPY of the same rows of the same tables, in the same
    order and the same database context, read to the end and thrown away."""
    import django

    django.setup()
    from django.db import connection, transaction
    from django_tenants.utils import tenant_context

    from exports.format import entities
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=f"bench-{name}")
    with tenant_context(tenant):
        connection.close()
        started = time.perf_counter()
        rows = size = 0
        with transaction.atomic():
            for entity in entities():
                sql, params = entity.queryset(tenant).query.sql_with_params()
                statement = f"COPY ({sql}) TO STDOUT"
                with connection.cursor() as cursor, cursor.cursor.copy(statement, params) as copy:
                    for row in copy:
                        rows += 1
                        size += len(row)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows, "bytes": size}


def _import_side(archive: str) -> dict:
    import django

    django.setup()
    from exports.importer import workspace_import
    from exports.reader import archive_verify

    rss_before = _current_rss_kb()
    started = time.perf_counter()
    verified = archive_verify(archive)
    verify_seconds = time.perf_counter() - started
    started = time.perf_counter()
    report = workspace_import(archive=verified, slug="bench-imported")
    import_seconds = time.perf_counter() - started
    return {
        "verify_seconds": verify_seconds,
        "import_seconds": import_seconds,
        "records": sum(report.records.values()),
        "files": report.files,
        "rss_before_kb": rss_before,
        "rss_peak_kb": _rss_kb(),
    }


def _purge_side(name: str) -> dict:
    """Delete ``bench-<name>`` the way an owner's "delete now" does: the keyed decision, then
    the purge task (counts, files, public rows, receipt) and the owner side's drop of the
    schema and its role, both inline here (Celery runs eagerly, and this process has the
    owner's URL). As the baseline, measured in the same process, a freshly provisioned empty
    workspace."""
    import re
    import secrets

    import django

    django.setup()
    from django.core import mail
    from django.db import connection

    from accounts.models import User
    from accounts.twofactor.action_codes import Action, action_code_confirm, action_code_request
    from audit.events import Event
    from audit.models import AuditEvent
    from kernel.roles import Role
    from rbac.models import Membership
    from tenants.models import Tenant
    from tenants.services import tenant_provision
    from workspace.lifecycle import workspace_delete_now

    def owner_confirms(tenant: Tenant):
        """An owner, and their confirmation with the code they were emailed (locmem)."""
        user = User.objects.create_user(
            email=f"owner@{tenant.slug}.example", password=secrets.token_urlsafe(16)
        )
        owner = Membership.objects.create(user=user, tenant=tenant, role=Role.OWNER)
        action_code_request(
            actor=owner, tenant=tenant, action=Action.WORKSPACE_DELETE, target=tenant
        )
        code = re.search(r"^\s+(\d{6})$", mail.outbox[-1].body, re.M).group(1)
        confirmation = action_code_confirm(
            actor=owner,
            tenant=tenant,
            action=Action.WORKSPACE_DELETE,
            target=tenant,
            code=code,
            ip="127.0.0.1",
        )
        return owner, confirmation

    def purge(tenant: Tenant) -> tuple[float, dict]:
        owner, confirmation = owner_confirms(tenant)
        connection.close()  # start the measurement from a fresh connection
        started = time.perf_counter()
        workspace_delete_now(
            tenant=tenant, actor=owner, confirmation=confirmation, typed_slug=tenant.slug
        )
        seconds = time.perf_counter() - started
        connection.set_schema_to_public()
        about = AuditEvent.objects.filter(target_id=str(tenant.pk))
        receipt = about.filter(event_type=Event.WORKSPACE_PURGED).first()
        dropped = about.filter(event_type=Event.WORKSPACE_SCHEMA_DROPPED).exists()
        if receipt is None or not dropped or Tenant.objects.filter(pk=tenant.pk).exists():
            raise RuntimeError(f"purge of {tenant.slug} did not complete")
        return seconds, receipt.additional_data["counts"]

    # The first purge in a process pays for imports and cold caches: warm up on one empty
    # workspace, then measure the baseline on another.
    purge(tenant_provision(slug="bench-warm-up", name="Bench warm-up"))
    empty_seconds, _ = purge(tenant_provision(slug="bench-empty", name="Bench empty"))
    seconds, counts = purge(Tenant.objects.get(slug=f"bench-{name}"))
    return {
        "seconds": seconds,
        "empty_seconds": empty_seconds,
        "records": counts["records_total"],
        "files": counts["files"],
        "bytes": counts["bytes"],
        "audit_events": counts["audit_events"],
        "rss_peak_kb": _rss_kb(),
    }


# --- The runner's entry point ---------------------------------------------------------------


def run() -> list[str]:
    from config import embedded

    embedded.export_service_urls()
    scratch = Path(tempfile.mkdtemp(prefix="bench-export-"))
    for folder in ("private", "tmp", "archives"):
        (scratch / folder).mkdir()
    try:
        with scratch_database("bench_export") as database:
            environment = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "bench.settings_stack",
                "BENCH_DATABASE": database,
                "PRIVATE_MEDIA_ROOT": str(scratch / "private"),
                "EXPORT_TEMP_DIR": str(scratch / "tmp"),
                "BENCH_ARCHIVE_DIR": str(scratch / "archives"),
                # Side effects (the "ready" email) run inline, not queued on the shared Redis.
                "CELERY_TASK_ALWAYS_EAGER": "true",
                "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            }

            def side(*arguments: str) -> dict:
                return run_side(
                    "bench.bench_export", *arguments, environment=environment, timeout=3600
                )

            started = time.perf_counter()
            seeded = side("seed")["records"]
            seed_seconds = time.perf_counter() - started
            # Interleaved rounds on the large workspace: its export, then COPY of its tables.
            rounds = [(side("export", "large"), side("copy", "large")) for _ in range(ROUNDS)]
            exports = {"small": side("export", "small"), "large": rounds[-1][0]}
            imported = side("import", exports["large"]["archive"])
            purged = side("purge", "large")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    def median(values) -> float:
        return statistics.median(values)

    records = rounds[0][0]["records"]
    export_rate = median(export["records"] / export["records_seconds"] for export, _ in rounds)
    copy_rate = median(copy["rows"] / copy["seconds"] for _, copy in rounds)
    whole_rate = median(export["records"] / export["seconds"] for export, _ in rounds)
    lines = [
        f"seeded {seeded['large']:,} + {seeded['small']:,} records in {seed_seconds:.1f} s",
        f"export large, records ({records:,}, every data/*.jsonl member, from the task's start) "
        f"vs COPY of the same rows of the same tables, median of {ROUNDS} interleaved rounds: "
        f"{export_rate:,.0f} vs {copy_rate:,.0f} records/s = {export_rate / copy_rate:.2f}x "
        "(target >= 0.25x)",
        f"export large, whole (records + {rounds[0][0]['files']} files of 1 MiB, stored): "
        f"{whole_rate:,.0f} records/s = {whole_rate / copy_rate:.2f}x COPY's rate",
    ]
    for name in ("small", "large"):
        result = exports[name]
        mb = result["archive_bytes"] / 1e6
        lines.append(
            f"export {name:5}: {result['records']:>7,} records + {result['files']} files, "
            f"{mb:6.1f} MB archive in {result['seconds']:5.1f} s = "
            f"{result['records'] / result['seconds']:8,.0f} records/s, "
            f"{mb / result['seconds']:5.1f} MB/s; RSS {result['rss_before_kb'] / 1024:.0f} MB "
            f"before, peak {result['rss_peak_kb'] / 1024:.0f} MB "
            f"(chunk {result['chunk_size']})"
        )
    growth = (exports["large"]["rss_peak_kb"] - exports["small"]["rss_peak_kb"]) / 1024
    lines.append(f"peak RSS growth small -> large (10x data): {growth:+.1f} MB")
    lines.append(
        f"import large: verify {imported['verify_seconds']:.1f} s, import "
        f"{imported['import_seconds']:.1f} s ({imported['records']:,} records, "
        f"{imported['files']} files); RSS peak {imported['rss_peak_kb'] / 1024:.0f} MB"
    )
    # Purge, as ratios against baselines measured in this run: an empty workspace's purge (the
    # fixed cost: the decision, locks, receipt, the owner's DROP SCHEMA of ~40 empty tables)
    # and the same data's export.
    lines.append(
        f"purge large: {purged['records']:,} records + {purged['files']} files "
        f"({purged['bytes'] / 1e6:.1f} MB) + {purged['audit_events']:,} audit events in "
        f"{purged['seconds']:.1f} s = {purged['seconds'] / purged['empty_seconds']:.1f}x an "
        f"empty workspace's purge ({purged['empty_seconds']:.2f} s), "
        f"{purged['seconds'] / exports['large']['seconds']:.2f}x its export time; "
        f"RSS peak {purged['rss_peak_kb'] / 1024:.0f} MB"
    )
    return lines


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    sides = {
        "seed": _seed_side,
        "export": _export_side,
        "import": _import_side,
        "copy": _copy_side,
        "purge": _purge_side,
    }
    print(json.dumps(sides[command](*rest)))
