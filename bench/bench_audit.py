"""What the audit stream costs: per audited write, under concurrent writers, and per export.

All on one throw-away database (created here, dropped at the end), each measurement in its own
subprocess (development settings, DEBUG off):

* **update**: one shop update through ``shop.services.company_update`` (row lock, checks,
  full_clean, save, in its transaction) with django-auditlog writing its event into the
  keyed (HMAC-SHA-256) stream, against the very same call with auditing switched off
  (``auditlog.context.disable_auditlog``); interleaved in rounds, medians, as a ratio.
  Also the bare ``Model.save()`` in a transaction, where the audit share is largest.
* **keyed vs plain chain**: the same audited update in a second workspace whose events are
  linked with the old keyless SHA-256 (chain version 1), measured in the same run, and the
  link computation alone (HMAC vs SHA-256 of one event's canonical bytes).
* **writers**: events/second appended to ONE workspace's stream by 1 and by 4 concurrent
  processes (one event per transaction, like one request each), all serialised by the
  stream's advisory lock; the 4 writers interleaved with 4 appending as before (INSERT on a
  cursor of its own, commit waiting for the disk with the lock held), as a ratio; then the
  chain is verified to prove nothing forked.
* **export**: 100,000 events streamed as CSV and as JSON Lines, events/second and the
  process's peak RSS against its RSS before the export; for scale, the peak of loading the
  same events as a list of model instances. Also ``audit_verify``'s speed on that stream.

Uses the embedded PostgreSQL and Redis, or DATABASE_URL / REDIS_URL when they are set.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time

from bench.common import scratch_database, side_result

WORKSPACE = "bench-audit"
LEGACY_WORKSPACE = "bench-audit-legacy"  # audited with the keyless SHA-256 chain, for the baseline
UPDATE_ROUNDS = 8
UPDATES_PER_ROUND = 50
WRITER_SECONDS = 5.0
WRITER_ROUNDS = 2
EXPORT_EVENTS = 100_000
CHUNK = 2000


def _setup_django():
    import django

    django.setup()


def _tenant(slug: str = WORKSPACE):
    from tenants.models import Tenant

    return Tenant.objects.get(slug=slug)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# --- Subprocess sides -----------------------------------------------------------------------


def _prepare_side() -> dict:
    _setup_django()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from kernel.roles import Role
    from rbac.models import Membership
    from tenants.services import tenant_provision

    call_command("migrate_schemas", interactive=False, verbosity=0)
    tenant = tenant_provision(slug=WORKSPACE, name="Bench Audit Signs")
    legacy = tenant_provision(slug=LEGACY_WORKSPACE, name="Bench Audit Legacy")
    owner = User.objects.create_user(email="owner@bench.example", password=None, full_name="Owner")
    Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
    Membership.objects.create(user=owner, tenant=legacy, role=Role.OWNER)
    connection.set_schema_to_public()
    return {"ok": True}


def _chain_side() -> dict:
    """The audited update with the keyed chain (bench-audit) and with the keyless SHA-256
    chain (bench-audit-legacy, its own stream so neither chain mixes versions), interleaved
    in rounds in one process."""
    _setup_django()
    from django.db import connection
    from django_tenants.utils import tenant_context

    from accounts.models import User
    from audit import services as audit_services
    from audit.chain import KEYED, LEGACY
    from kernel.context import ActorKind, audit_context
    from rbac.models import Membership
    from shop import services

    owner = User.objects.get(email="owner@bench.example")
    sides = {}
    for label, slug, version in (
        ("keyed", WORKSPACE, KEYED),
        ("legacy", LEGACY_WORKSPACE, LEGACY),
    ):
        tenant = _tenant(slug)
        actor = Membership.objects.select_related("user", "tenant").get(user=owner, tenant=tenant)
        with tenant_context(tenant):
            company = services.company_create(tenant=tenant, actor=actor, name=f"Chain {label}")
        connection.set_schema_to_public()
        sides[label] = {"tenant": tenant, "actor": actor, "company": company, "version": version}
    timings: dict[str, list[float]] = {"keyed": [], "legacy": []}
    counter = 0
    with audit_context(actor_kind=ActorKind.USER, actor=owner):
        for round_number in range(UPDATE_ROUNDS + 1):  # round 0 warms up
            for label, side in sides.items():
                audit_services.CHAIN_VERSION = side["version"]
                with tenant_context(side["tenant"]):
                    for _ in range(UPDATES_PER_ROUND):
                        counter += 1
                        started = time.perf_counter()
                        side["company"] = services.company_update(
                            tenant=side["tenant"],
                            actor=side["actor"],
                            company=side["company"],
                            name=f"Chain {counter}",
                        )
                        if round_number:
                            timings[label].append(time.perf_counter() - started)
    audit_services.CHAIN_VERSION = KEYED
    return {label: statistics.median(values) * 1000 for label, values in timings.items()}


def _update_side() -> dict:
    _setup_django()
    from auditlog.context import disable_auditlog
    from django.db import transaction
    from django_tenants.utils import tenant_context

    from accounts.models import User
    from kernel.context import ActorKind, audit_context
    from rbac.models import Membership
    from shop import services

    tenant = _tenant()
    owner = User.objects.get(email="owner@bench.example")
    actor = Membership.objects.select_related("user", "tenant").get(user=owner, tenant=tenant)
    timings: dict[str, list[float]] = {"service": [], "service_off": [], "save": [], "save_off": []}
    with tenant_context(tenant), audit_context(actor_kind=ActorKind.USER, actor=owner):
        company = services.company_create(tenant=tenant, actor=actor, name="Bench Company")
        counter = 0

        def service_update():
            nonlocal company, counter
            counter += 1
            company = services.company_update(
                tenant=tenant, actor=actor, company=company, name=f"Bench Company {counter}"
            )

        def save_update():
            nonlocal counter
            counter += 1
            with transaction.atomic():
                company.name = f"Bench Company {counter}"
                company.save(update_fields=["name"])

        def timed(kind: str, work, audited: bool) -> None:
            for _ in range(UPDATES_PER_ROUND):
                started = time.perf_counter()
                if audited:
                    work()
                else:
                    with disable_auditlog():
                        work()
                timings[kind].append(time.perf_counter() - started)

        for _ in range(10):  # warm-up
            service_update()
        for _ in range(UPDATE_ROUNDS):
            timed("service", service_update, True)
            timed("service_off", service_update, False)
            timed("save", save_update, True)
            timed("save_off", save_update, False)
    return {kind: statistics.median(values) * 1000 for kind, values in timings.items()}


def _writer_side(start_at: float, seconds: float, protocol: str) -> dict:
    _setup_django()
    from django.db import connection, transaction

    from audit import services
    from audit.events import Event
    from audit.services import Target, audit_event_record

    if protocol == "held":
        # The baseline, as events were appended before: the INSERT sent at once on a cursor
        # of its own, and the commit waiting for the disk with the stream's lock held.
        services.commit_flushes_after_locks = lambda connection, flush_with: "SELECT 1"  # type: ignore[assignment]

        def insert_now(connection, sql, params):
            with connection.cursor() as cursor:
                cursor.execute(sql, params)

        services.send_with_next = insert_now  # type: ignore[assignment]

    connection.set_tenant(_tenant())
    audit_event_record(event_type=Event.MEMBER_ADDED)  # connect and warm up before the start
    while time.time() < start_at:
        time.sleep(0.005)
    written, waits = 0, []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        with transaction.atomic():
            audit_event_record(
                event_type=Event.MEMBER_ROLE_CHANGED, target=Target("bench", str(written), "w")
            )
        waits.append(time.perf_counter() - started)
        written += 1
    return {"events": written, "median_ms": statistics.median(waits) * 1000}


def _fill_side(count: int) -> dict:
    """Append ``count`` valid, chained events fast (bulk insert under the stream lock)."""
    _setup_django()
    import datetime as dt

    from django.db import connection, connections, transaction
    from django.utils import timezone

    from audit.chain import CHAIN_VERSION, GENESIS_HASH, event_hash, json_safe
    from audit.keys import chain_keys, current_key_id
    from audit.models import AuditEvent
    from audit.services import AUDIT_LOCK_NAMESPACE

    keys, key_id = chain_keys(), current_key_id()

    connection.set_tenant(_tenant())
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))",
                [AUDIT_LOCK_NAMESPACE],
            )
        head = AuditEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
        sequence, previous = head if head else (0, GENESIS_HASH)
        start = timezone.now() - dt.timedelta(days=300)
        batch = []
        for index in range(count):
            sequence += 1
            event = _bench_event(
                sequence=sequence,
                prev_hash=previous,
                request_id=f"{index:032x}",
                target_id=str(index % 500),
                target_label=f"Company {index % 500:04d} Signs & Print",
                timestamp=start + dt.timedelta(seconds=index * 200),
                changes=json_safe({"name": [f"Old {index}", f"New {index}"], "phone": ["1", "2"]}),
                additional_data=None,
                chain_version=CHAIN_VERSION,
                key_id=key_id,
            )
            event.hash = event_hash(event, keys)
            previous = event.hash
            batch.append(event)
            if len(batch) == 5000:
                AuditEvent.objects.bulk_create(batch)
                batch.clear()
        AuditEvent.objects.bulk_create(batch)
    # ANALYZE needs the table's owner: as the runtime role it only warns and does nothing, and
    # the planner would guess instead of reading what a day of autovacuum leaves it. After the
    # commit, so the owner's connection sees the rows.
    with connections["owner"].cursor() as cursor:
        cursor.execute(f'ANALYZE "{_tenant().schema_name}".audit_auditevent')  # our schema name
    return {"head": sequence}


def _bench_event(**fields):
    """An unsaved company-update event by the bench owner; ``fields`` give the rest."""
    from audit.models import AuditEvent

    return AuditEvent(
        event_type=1002,
        outcome="success",
        action=1,
        actor_kind="user",
        actor_id=1,
        actor_name="Bench Owner",
        actor_email="owner@bench.example",
        remote_addr="192.0.2.1",
        user_agent="Mozilla/5.0 (bench)",
        target_type="shop.company",
        **fields,
    )


def _export_side(kind: str) -> dict:
    _setup_django()
    from django.db import connection

    from audit import export
    from audit.models import AuditEvent

    tenant = _tenant()
    connection.set_tenant(tenant)
    events = AuditEvent.objects.filter(event_type=1002).order_by("sequence")
    list(events[:10])  # warm: connection, query compilation
    baseline = _rss_mib()
    started = time.perf_counter()
    rows = size = 0
    if kind == "list":
        loaded = list(events)
        rows = len(loaded)
    else:
        writer = export.csv_chunks if kind == "csv" else export.jsonl_chunks
        for piece in writer(events, schema_name=tenant.schema_name, chunk_size=CHUNK):
            size += len(piece)
            rows += piece.count("\n")
        rows -= kind == "csv"  # the header
    elapsed = time.perf_counter() - started
    return {
        "rows": rows,
        "seconds": elapsed,
        "bytes": size,
        "baseline_mib": baseline,
        "peak_mib": _rss_mib(),
    }


def _link_side() -> dict:
    """Microseconds to link one event: HMAC-SHA-256 (keyed) vs plain SHA-256 (legacy)."""
    _setup_django()
    import datetime as dt

    from audit.chain import KEYED, LEGACY, event_hash
    from audit.keys import chain_keys, current_key_id

    keys = chain_keys()
    event = _bench_event(
        sequence=1234,
        prev_hash="a" * 64,
        request_id="0" * 32,
        target_id="1",
        target_label="Company 0001 Signs & Print",
        timestamp=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        changes={"name": ["Old", "New"]},
        key_id=current_key_id(),
    )
    result = {}
    for label, version in (("keyed", KEYED), ("legacy", LEGACY)):
        event.chain_version = version
        runs = []
        for _ in range(7):
            started = time.perf_counter()
            for _ in range(2000):
                event_hash(event, keys)
            runs.append((time.perf_counter() - started) / 2000)
        result[label] = statistics.median(runs) * 1e6
    return result


def _verify_side() -> dict:
    _setup_django()
    from audit.selectors import audit_stream_verify

    started = time.perf_counter()
    report = audit_stream_verify(schema_name=_tenant().schema_name)
    return {"ok": report.ok, "events": report.events, "seconds": time.perf_counter() - started}


SIDES = {
    "prepare": _prepare_side,
    "update": _update_side,
    "chain": _chain_side,
    "link": _link_side,
    "writer": lambda: _writer_side(float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]),
    "fill": lambda: _fill_side(int(sys.argv[2])),
    "export": lambda: _export_side(sys.argv[2]),
    "verify": _verify_side,
}


# --- The runner's entry point ---------------------------------------------------------------


def _environment(database: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings_stack",
        "BENCH_DATABASE": database,
    }


def _start(database: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our interpreter and module
        [sys.executable, "-m", "bench.bench_audit", *args],
        env=_environment(database),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(process: subprocess.Popen) -> dict:
    stdout, stderr = process.communicate(timeout=900)
    if process.returncode != 0:
        raise RuntimeError(f"{process.args[3:]} failed:\n{stdout}\n{stderr}")
    return side_result(stdout)


def _side(database: str, *args: str) -> dict:
    return _result(_start(database, *args))


def _writers(database: str, count: int, protocol: str = "chained") -> dict:
    start_at = time.time() + 8  # every process set up and connected before the start
    processes = [
        _start(database, "writer", str(start_at), str(WRITER_SECONDS), protocol)
        for _ in range(count)
    ]
    results = [_result(process) for process in processes]
    return {
        "rate": sum(r["events"] for r in results) / WRITER_SECONDS,
        "median_ms": statistics.median(r["median_ms"] for r in results),
    }


def run() -> list[str]:
    from config import embedded

    embedded.export_service_urls()
    with scratch_database("bench_audit") as database:
        _side(database, "prepare")
        update = _side(database, "update")
        chain = _side(database, "chain")
        link = _side(database, "link")
        one = _writers(database, 1)
        # Interleaved: 4 writers appending as before (lock held through the INSERT's round
        # trip and the commit's disk write) and as now.
        rounds = [
            (_writers(database, 4, "held"), _writers(database, 4)) for _ in range(WRITER_ROUNDS)
        ]
        held = statistics.median(r[0]["rate"] for r in rounds)
        four = {
            "rate": statistics.median(r[1]["rate"] for r in rounds),
            "median_ms": statistics.median(r[1]["median_ms"] for r in rounds),
        }
        chain_after_writers = _side(database, "verify")
        _side(database, "fill", str(EXPORT_EVENTS))
        exports = {kind: _side(database, "export", kind) for kind in ("csv", "jsonl", "list")}
        verify = _side(database, "verify")

    def export_line(label: str, result: dict) -> str:
        return (
            f"{label}: {result['rows'] / result['seconds']:9,.0f} events/s  "
            f"({result['rows']:,} in {result['seconds']:.2f} s, "
            f"{result['bytes'] / 2**20:5.1f} MiB)  "
            f"peak RSS {result['peak_mib']:.0f} MiB (before {result['baseline_mib']:.0f} MiB, "
            f"+{result['peak_mib'] - result['baseline_mib']:.0f})"
        )

    listed = exports["list"]
    return [
        f"audited shop update (company_update service, auditlog on vs off), median of "
        f"{UPDATE_ROUNDS * UPDATES_PER_ROUND}: {update['service']:.2f} ms vs "
        f"{update['service_off']:.2f} ms = {update['service'] / update['service_off']:.2f}x "
        f"(+{update['service'] - update['service_off']:.2f} ms)",
        f"bare Model.save() in a transaction, audited vs not: {update['save']:.2f} ms vs "
        f"{update['save_off']:.2f} ms = {update['save'] / update['save_off']:.2f}x",
        f"audited update, keyed HMAC chain vs keyless SHA-256 chain (interleaved, median of "
        f"{UPDATE_ROUNDS * UPDATES_PER_ROUND} each): {chain['keyed']:.2f} ms vs "
        f"{chain['legacy']:.2f} ms = {chain['keyed'] / chain['legacy']:.2f}x "
        f"({chain['keyed'] - chain['legacy']:+.2f} ms)",
        f"link one event: HMAC-SHA-256 {link['keyed']:.1f} us vs SHA-256 {link['legacy']:.1f} us "
        f"({link['keyed'] - link['legacy']:+.1f} us)",
        f"one stream, 1 writer : {one['rate']:7.0f} events/s (median {one['median_ms']:.2f} ms "
        f"per event+commit)",
        f"one stream, 4 writers: {four['rate']:7.0f} events/s (median {four['median_ms']:.2f} ms "
        f"per event+commit, serialised by the stream lock) vs {held:.0f} events/s with the lock "
        f"held through the INSERT and the commit's disk write (before), median of "
        f"{WRITER_ROUNDS} interleaved rounds: {four['rate'] / held:.2f}x (target >= 1,000/s)",
        f"chain after the writers: {'intact' if chain_after_writers['ok'] else 'BROKEN'} "
        f"({chain_after_writers['events']} events)",
        export_line("export CSV   100k", exports["csv"]),
        export_line("export JSONL 100k", exports["jsonl"]),
        f"for scale, list(queryset) of the same 100k: peak RSS {listed['peak_mib']:.0f} MiB "
        f"(+{listed['peak_mib'] - listed['baseline_mib']:.0f}) in {listed['seconds']:.2f} s",
        f"audit_verify: {verify['events'] / verify['seconds']:,.0f} events/s "
        f"({verify['events']:,} events, {'intact' if verify['ok'] else 'BROKEN'})",
    ]


if __name__ == "__main__":
    print(json.dumps(SIDES[sys.argv[1]]()))
