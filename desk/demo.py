"""The demo's service desk (declared as DeskConfig.demo_seeder, run by workspace.demo inside
the workspace's schema): assets per customer company, two demo customers per company for
the portal, and a few hundred tickets over the last weeks in every status and SLA state.

The customers are the first three companies' people, signing in with the demo password as
``customer<n>@<slug>.demo`` (the password is the staff's: it is copied from the owner's
account, never known here). Tickets are written in bulk with their clocks computed by
desk.sla, backdated across the last 30 days, so the demo needs no clock travel; demo rows are
not audited (auditlog is off while it runs: the demo workspace is not a customer's data), and
a ticket's history page says the demo created it.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from auditlog.context import disable_auditlog
from django.utils import timezone

from accounts.models import User
from kernel.roles import Role
from rbac.companies import company_choices
from rbac.models import Membership
from tenants.models import Tenant

from . import selectors, sla
from .models import Asset, Priority, SlaPause, Ticket, TicketMessage, TicketSequence
from .services.tickets import _refresh_running_clock, _start_clocks

SUBJECTS = [
    "Printer shows paper jam",
    "Router drops connection every hour",
    "Sign lighting flickers at night",
    "Laptop will not start",
    "Request new user account",
    "Door sensor offline",
    "Display screen has dead pixels",
    "Invoice portal login fails",
    "Backup job failed overnight",
    "Scheduled maintenance visit",
]
ASSET_TYPES = [
    ("Printer", "HP LaserJet"),
    ("Router", "Cisco ISR"),
    ("Sign", "LED sign"),
    ("Laptop", "ThinkPad"),
]
TICKETS_PER_COMPANY = 40


def _started_before(now: datetime, business_seconds: float, calendar: sla.Calendar) -> datetime:
    """The instant from which ``business_seconds`` of business time have passed by ``now``
    (a search: business time only grows as the start moves back)."""
    earliest, latest = now - timedelta(days=120), now
    for _ in range(40):
        middle = earliest + (latest - earliest) / 2
        if sla.business_seconds_between(middle, now, calendar) > business_seconds:
            earliest = middle
        else:
            latest = middle
    return latest


def seed_demo_records(*, tenant: Tenant, staff_users: dict[str, User]) -> dict[str, int]:
    # Seed data, not a person's action: no "created by System" event per row, whose time
    # would contradict the backdated tickets. The history page says the demo created them.
    with disable_auditlog():
        return _seed(tenant=tenant, staff_users=staff_users)


def _seed(*, tenant: Tenant, staff_users: dict[str, User]) -> dict[str, int]:
    if Ticket.objects.exists():
        return {"tickets": 0}
    owner_user = staff_users[Role.OWNER.value]
    owner = Membership.objects.select_related("tenant").get(tenant=tenant, user=owner_user)
    companies = company_choices(viewer=owner)
    if not companies:
        return {"tickets": 0}
    rng = random.Random(f"desk-demo:{tenant.slug}")  # noqa: S311 - demo data, not secrets
    staff = [staff_users[r] for r in (Role.EXPERT.value, Role.MANAGER.value) if r in staff_users]
    policy = selectors.sla_policy()
    if policy.pk is None:
        policy.save()
    now = timezone.now()
    calendar = selectors.calendar_of(policy)
    counts = {"assets": 0, "tickets": 0, "ticket_messages": 0, "customers": 0}
    # Numbers continue the workspace's sequence (a desk emptied by deletions keeps its row).
    sequence = TicketSequence.objects.order_by("pk").first() or TicketSequence()
    number = sequence.last_value
    for index, (company_id, company_name) in enumerate(companies):
        assets = []
        for kind, model in ASSET_TYPES:
            assets.append(
                Asset.objects.create(
                    company_id=company_id,
                    asset_type=kind,
                    name=f"{model} ({company_name[:40]})",
                    serial=f"{kind[:2].upper()}-{company_id:04d}-{rng.randint(1000, 9999)}",
                    location=rng.choice(["Front desk", "Server room", "Shop floor", "Office 2"]),
                )
            )
            counts["assets"] += 1
        requester = None
        if index < 3:
            email = f"customer{index + 1}@{tenant.slug}.demo"
            requester, created = User.objects.get_or_create(
                email=email, defaults={"full_name": f"{company_name[:60]} customer"}
            )
            if created:
                requester.password = owner_user.password
                requester.save(update_fields=["password"])
            Membership.objects.get_or_create(
                user=requester,
                tenant=tenant,
                defaults={"role": Role.CUSTOMER.value, "company_id": company_id},
            )
            counts["customers"] += int(created)
        for ticket_index in range(TICKETS_PER_COMPANY if index < 8 else 5):
            number += 1
            status = rng.choices(Ticket.Status.values, weights=[15, 35, 10, 20, 20], k=1)[0]
            # Each company's first ticket is at risk whatever the hour the demo is seeded
            # (at night, random ages alone may leave none between its at-risk and due times).
            at_risk = ticket_index == 0
            if at_risk:
                status = Ticket.Status.OPEN
            # Tickets waiting on the customer are recent, so their paused clocks are not all
            # past due; the others spread over the last 30 days (on track to breached).
            # Open tickets of every age: minutes (on track), hours (at risk), weeks (breached).
            if status == Ticket.Status.PENDING_CUSTOMER:
                minutes = 12 * 60
            else:
                minutes = rng.choice([3 * 60, 12 * 60, 3 * 24 * 60, 30 * 24 * 60])
            created_at = now - timedelta(minutes=rng.randint(1, minutes))
            priority = rng.choice(Priority.values)
            if at_risk:
                _, resolution = policy.targets(priority)
                share = (policy.at_risk_percent + 100) / 200  # between at risk and due
                created_at = _started_before(now, resolution * 60 * share, calendar)
            ticket = Ticket(
                number=f"T-{number:05d}",
                company_id=company_id,
                requester=requester,
                requester_name=requester.full_name
                if requester
                else f"Contact at {company_name[:60]}",
                requester_email=requester.email if requester else "",
                subject=rng.choice(SUBJECTS),
                description="Reported by phone; details below.\nPlease call back.",
                priority=priority,
                category=rng.choice(policy.categories or [""]),
                assignee=rng.choice(staff) if staff and rng.random() < 0.7 else None,
                tags=rng.sample(["onsite", "remote", "hardware", "vip"], k=rng.randint(0, 2)),
                created_at=created_at,
            )
            _start_clocks(ticket, policy, created_at)
            ticket.status = status
            if at_risk:
                ticket.first_responded_at = ticket.first_response_risk_at  # answered in time
            elif status != Ticket.Status.NEW and rng.random() < 0.85:
                ticket.first_responded_at = created_at + timedelta(minutes=rng.randint(5, 600))
            if status == Ticket.Status.PENDING_CUSTOMER:
                ticket.sla_paused_at = created_at + (now - created_at) / 2
            if status in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED):
                ticket.resolved_at = created_at + timedelta(hours=rng.randint(1, 96))
                ticket.resolved_at = min(ticket.resolved_at, now)
            if status == Ticket.Status.CLOSED:
                ticket.closed_at = ticket.resolved_at
            _refresh_running_clock(ticket, now)
            ticket.save()
            if ticket.sla_paused_at is not None:  # the pause under way, as the status machine
                SlaPause.objects.create(ticket=ticket, started_at=ticket.sla_paused_at)
            ticket.assets.add(rng.choice(assets))
            counts["tickets"] += 1
            if ticket.first_responded_at:
                TicketMessage.objects.create(
                    ticket=ticket,
                    kind=TicketMessage.Kind.REPLY,
                    author=ticket.assignee,
                    author_name=str(ticket.assignee or owner_user),
                    body="Thanks, we are on it.",
                    created_at=ticket.first_responded_at,
                )
                TicketMessage.objects.create(
                    ticket=ticket,
                    kind=TicketMessage.Kind.NOTE,
                    author=ticket.assignee,
                    author_name=str(ticket.assignee or owner_user),
                    body="Internal: checked the warranty, still covered.",
                    created_at=ticket.first_responded_at,
                )
                counts["ticket_messages"] += 2
    sequence.last_value = number
    sequence.save()
    return counts
