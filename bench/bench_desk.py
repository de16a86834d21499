"""The service desk at size: the staff queue and the SLA state computation for a workspace with
100,000 tickets against one with 1,000, in one run, as ratios (large / small).

Both workspaces get tickets at the same rate (about 33 a day, 20 customer companies, five
experts): the small one holds its last 30 days, the large one eight years more history. So
the open backlog and the last 30 days are alike in both, and what differs is the closed
history a busy desk piles up. With the right indexes a page of the queue and the SLA states
cost the same in both (a ratio near 1); a query that reads every ticket shows up as a ratio
near 100. Tickets are written with ``bulk_create`` inside each workspace's context (no
audit events: this is load, not anybody's action).

Measured, each as the median of several runs:

* **queue pages**: ``GET /desk/`` with the saved views and filters staff use (open tickets,
  breaching, one assignee's, one company's, a priority, an SLA state, a tag with and without
  the open statuses, sorted by due time), through the whole stack (Django's test client,
  signed in as the owner); a page counts at most 1,001 rows (``desk.views._common``), so a
  list that reaches into the closed history costs what a page of the newer one does;
* **SLA states**: the dashboard's SLA-state counts of the open tickets (``sla_state_q`` on
  the indexed clock columns), and the whole dashboard (which also counts every ticket by
  status: that part reads the whole table by design).

Uses the embedded PostgreSQL and Redis, or DATABASE_URL / REDIS_URL when they are set; one
throw-away database, dropped at the end.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta

from bench.common import run_side, scratch_database

SIZES = {"large": 100_000, "small": 1_000}
PER_DAY = 1_000 / 30
COMPANIES = 20
EXPERTS = 5
BATCH = 5_000
RUNS = 15
PASSWORD = "bench owner passphrase"  # a throw-away database's only users
QUEUE_QUERIES = {
    "all tickets": "",
    "not resolved": "?status=active",
    "breaching view": "?view=breaching",
    "one assignee, open": "?assignee={expert}&status=open",
    "one company": "?company=3",
    "high priority, new": "?priority=high&status=new",
    "SLA at risk": "?sla_state=at_risk",
    "tag vip": "?tag=vip",
    "tag vip, not resolved": "?tag=vip&status=active",
    "sorted by due": "?status=active&sort=due",
}


def _host(name: str) -> str:
    return f"desk-{name}.localhost"


def _tickets(count: int, *, now, experts: list[int], company_ids: list[int]):
    from desk.models import Priority, Ticket

    rng = random.Random(f"bench-desk-{count}")
    hours = {"urgent": 4, "high": 8, "normal": 24, "low": 40}
    for index in range(count):
        age = timedelta(days=index / PER_DAY, minutes=rng.randint(0, 40))
        created = now - age
        priority = rng.choice(Priority.values)
        due = created + timedelta(hours=hours[priority] * 3)
        risk = created + timedelta(hours=hours[priority] * 2)
        if age > timedelta(days=20):
            status = rng.choice(["resolved", "closed", "closed", "closed"])
        else:
            status = rng.choice(["new", "open", "open", "pending_customer", "resolved"])
        resolved = (
            created + timedelta(hours=rng.randint(1, 100))
            if status in ("resolved", "closed")
            else None
        )
        running = status in ("new", "open")
        yield Ticket(
            number=f"T-{index + 1:06d}",
            company_id=rng.choice(company_ids),
            requester_name="Customer contact",
            subject=f"Request {index}: printer jams",
            description="It jams on every second page.",
            status=status,
            priority=priority,
            category="Incident",
            assignee_id=rng.choice(experts) if rng.random() < 0.8 else None,
            tags=rng.sample(["onsite", "remote", "hardware", "vip"], k=rng.randint(0, 2)),
            created_at=created,
            first_responded_at=created + timedelta(hours=1) if status != "new" else None,
            resolved_at=resolved,
            closed_at=resolved if status == "closed" else None,
            first_response_due_at=created + timedelta(hours=hours[priority]),
            resolution_due_at=due,
            resolution_risk_at=risk,
            sla_paused_at=created + timedelta(hours=2) if status == "pending_customer" else None,
            sla_due_at=due if running else None,
            sla_risk_at=risk if running else None,
            sla_breached=due < now and status != "pending_customer",
        )


def _analyze(schema: str) -> None:
    """The planner's statistics of the new tickets, as a day of autovacuum would leave them.

    ANALYZE needs the table's owner: run as the runtime role it only warns and does nothing,
    and the planner then guesses (a GIN ``@>`` on ``tags`` at 0.1% of the rows, a quarter in
    truth), which is not what a live workspace gets."""
    from django.db import connection, connections

    with connections["owner"].cursor() as cursor:
        cursor.execute(f'ANALYZE "{schema}".desk_ticket')  # our schema name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stats WHERE schemaname = %s AND tablename = 'desk_ticket'",
            [schema],
        )
        if not cursor.fetchone()[0]:
            raise RuntimeError(f"desk_ticket of {schema} has no planner statistics")


def _interleaved(functions: dict, runs: int = RUNS) -> dict[str, float]:
    """Median milliseconds of each function, called in turn (after one warm-up call each)."""
    timings: dict[str, list[float]] = {name: [] for name in functions}
    for function in functions.values():
        function()  # warm-up: caches, prepared plans
    for _ in range(runs):
        for name, function in functions.items():
            started = time.perf_counter()
            function()
            timings[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) * 1000 for name, values in timings.items()}


def _side() -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from accounts.models import User
    from desk import selectors
    from desk.models import Ticket
    from kernel.roles import Role
    from rbac.models import Membership
    from shop.models import Company
    from tenants.services import tenant_provision

    call_command("migrate_schemas", interactive=False, verbosity=0)
    now = timezone.now()
    owner = User.objects.create_user(email="owner@bench.example", password=PASSWORD)
    experts = [
        User.objects.create_user(email=f"expert{n}@bench.example", password=PASSWORD)
        for n in range(EXPERTS)
    ]
    results: dict[str, dict] = {}
    sides: dict[str, tuple] = {}
    for name, count in SIZES.items():
        connection.set_schema_to_public()
        tenant = tenant_provision(slug=f"desk-{name}", name=f"Desk {name}")
        membership = Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
        membership = Membership.objects.select_related("user", "tenant").get(pk=membership.pk)
        for user in experts:
            Membership.objects.create(user=user, tenant=tenant, role=Role.EXPERT)
        started = time.perf_counter()
        with tenant_context(tenant):
            companies = Company.objects.bulk_create(
                Company(name=f"Customer {n:02d}") for n in range(COMPANIES)
            )
            rows = _tickets(
                count,
                now=now,
                experts=[u.pk for u in experts],
                company_ids=[c.pk for c in companies],
            )
            Ticket.objects.bulk_create(rows, batch_size=BATCH)
            _analyze(tenant.schema_name)
        seed_seconds = time.perf_counter() - started
        connection.set_schema_to_public()
        client = Client(HTTP_HOST=_host(name))
        response = client.post("/accounts/sign-in/", {"email": owner.email, "password": PASSWORD})
        if response.status_code != 302:
            raise RuntimeError(f"bench sign-in failed with status {response.status_code}")
        results[name] = {"tickets": count, "seed_seconds": seed_seconds, "pages": {}}
        sides[name] = (tenant, membership, client)

    # Interleaved, large and small in turn, so a busy machine weighs on both sides alike.
    def page(name: str, path: str):
        def get():
            answer = sides[name][2].get(path)
            if answer.status_code != 200:
                raise RuntimeError(f"GET {path} on {name} answered {answer.status_code}")

        return get

    def sla_states(name: str):
        tenant = sides[name][0]

        def count():
            with tenant_context(tenant):
                open_tickets = Ticket.objects.filter(status__in=selectors.OPEN_STATUSES)
                for state, _label in selectors.SLA_FILTERS:
                    open_tickets.filter(selectors.sla_state_q(state, now)).count()

        return count

    def dashboard(name: str):
        tenant, membership, _client = sides[name]

        def draw():
            with tenant_context(tenant):
                selectors.dashboard(viewer=membership, now=now)

        return draw

    for label, query in QUEUE_QUERIES.items():
        path = "/desk/" + query.format(expert=experts[0].pk)
        timings = _interleaved({name: page(name, path) for name in SIZES})
        for name in SIZES:
            results[name]["pages"][label] = timings[name]
    for key, make in (("sla_states_ms", sla_states), ("dashboard_ms", dashboard)):
        timings = _interleaved({name: make(name) for name in SIZES})
        for name in SIZES:
            results[name][key] = timings[name]
    for name in SIZES:
        with tenant_context(sides[name][0]):
            results[name]["open"] = Ticket.objects.filter(
                status__in=selectors.OPEN_STATUSES
            ).count()
    return results


# --- The runner's entry point ---------------------------------------------------------------


def run() -> list[str]:
    from config import embedded

    embedded.export_service_urls()
    with scratch_database("bench_desk") as database:
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings_stack",
            "BENCH_DATABASE": database,
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        }
        result = run_side("bench.bench_desk", "run", environment=environment, timeout=1800)
    large, small = result["large"], result["small"]
    lines = [
        f"seeded {large['tickets']:,} tickets in {large['seed_seconds']:.1f} s and "
        f"{small['tickets']:,} in {small['seed_seconds']:.1f} s; open backlog "
        f"{large['open']:,} vs {small['open']:,}"
    ]
    for label in QUEUE_QUERIES:
        big, little = large["pages"][label], small["pages"][label]
        lines.append(f"queue {label:22}: {big:7.1f} ms vs {little:7.1f} ms = {big / little:5.2f}x")
    for key, label in (("sla_states_ms", "SLA state counts"), ("dashboard_ms", "dashboard")):
        lines.append(
            f"{label:26}: {large[key]:7.1f} ms vs {small[key]:7.1f} ms = "
            f"{large[key] / small[key]:5.2f}x"
        )
    return lines


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command != "run":
        raise SystemExit(f"unknown side {command!r}")
    print(json.dumps(_side()))
