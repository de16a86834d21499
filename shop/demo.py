"""Demo business records for a workspace (called by the ``seed_demo`` command).

Invariant: everything is written through ``shop.services`` as the workspace owner, so demo
data obeys the same rules (and gets the same audit trail) as real data. The generator is
seeded per workspace, so the same workspace always gets the same records, and it does
nothing at all when the workspace already has companies. History shows in the business dates
(issue and due dates, validity, overdue invoices); creation timestamps are the real ones.
"""

from __future__ import annotations

import io
import random
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import TypedDict

from django.utils import timezone

from accounts.models import User
from kernel.roles import Role
from kernel.samples import pdf_bytes, png_bytes
from rbac.models import Membership
from tenants.models import Tenant

from . import services
from .models import Company, Order, Quote
from .services import LineInput

COMPANY_COUNT = 36


class _Acting(TypedDict):
    """The ``tenant`` and ``actor`` keyword arguments every service call here passes."""

    tenant: Tenant
    actor: Membership


_FIRST = [
    "Harbor",
    "Summit",
    "Maple",
    "Copper",
    "Bluebird",
    "Ironwood",
    "Golden Gate",
    "Riverside",
    "Northstar",
    "Cedar",
    "Lakeside",
    "Old Town",
    "Sunrise",
    "Granite",
    "Pinecrest",
    "Union",
    "Redline",
    "Silver Creek",
    "Oak Hollow",
    "Brightside",
    "Westfield",
    "Eastgate",
    "Juniper",
    "Fox Run",
    "Meadowbrook",
    "Stonebridge",
    "Willow",
    "Crescent",
    "Liberty",
    "Parkview",
]
_BUSINESS = [
    ("Coffee Roasters", "storefront"),
    ("Dental Care", "office"),
    ("Auto Repair", "vehicle"),
    ("Plumbing & Heating", "vehicle"),
    ("Brewing Co.", "storefront"),
    ("Fitness Club", "office"),
    ("Realty Group", "event"),
    ("Pet Clinic", "storefront"),
    ("Bakery", "storefront"),
    ("Landscaping", "vehicle"),
    ("Construction", "site"),
    ("Credit Union", "office"),
    ("Pizza Kitchen", "storefront"),
    ("Music Festival", "event"),
    ("School District", "site"),
    ("Electric", "vehicle"),
    ("Yoga Studio", "storefront"),
    ("Law Offices", "office"),
    ("Food Truck", "vehicle"),
    ("Marathon Club", "event"),
    ("Hardware", "storefront"),
    ("Medical Center", "office"),
    ("Movers", "vehicle"),
    ("Farmers Market", "event"),
]
_STREETS = [
    "Main St",
    "Market St",
    "Oak Ave",
    "Harbor Blvd",
    "Industrial Way",
    "Mill Rd",
    "Station Sq",
    "Commerce Dr",
    "Lake Rd",
    "2nd Ave",
    "Elm St",
    "Bridge St",
]
_CITIES = ["Springfield", "Riverton", "Fairview", "Madison", "Georgetown", "Clinton"]
_PEOPLE = [
    "Maria Lopez",
    "James Chen",
    "Aisha Patel",
    "Tom Becker",
    "Sofia Rossi",
    "Daniel Kim",
    "Grace Okafor",
    "Liam Walsh",
    "Nina Novak",
    "Omar Haddad",
    "Emma Schultz",
    "Lucas Silva",
    "Hannah Berg",
    "Ravi Kumar",
    "Chloe Martin",
    "Ben Carter",
    "Ivy Nguyen",
    "Marco Bianchi",
    "Zoe Adams",
    "Felix Wagner",
]
_TITLES = [
    "Owner",
    "Office Manager",
    "Marketing Lead",
    "Facilities",
    "Store Manager",
    "Operations Director",
    "Event Coordinator",
    "Fleet Manager",
]

# (description, unit, low price, high price, usual quantities) per kind of job.
_CATALOGUE: dict[str, list[tuple[str, str, int, int, tuple[str, ...]]]] = {
    "vehicle": [
        ("Full vehicle wrap, cast vinyl with laminate", "vehicle", 2400, 4200, ("1", "2", "3")),
        ("Partial wrap, rear doors and sides", "vehicle", 900, 1800, ("1", "2", "4")),
        ("Cut vinyl door lettering", "set", 180, 420, ("1", "2", "5", "8")),
        ("Reflective fleet number decals", "each", 12, 35, ("10", "24", "40")),
        ("Removal of old graphics", "hour", 75, 110, ("2", "4", "6.5")),
    ],
    "storefront": [
        ("Illuminated channel letters", "letter", 140, 320, ("8", "12", "16")),
        ("Window vinyl graphics", "sq ft", 9, 18, ("24", "48", "96.5")),
        ("Aluminum composite panel sign 8x2 ft", "each", 450, 950, ("1", "2")),
        ("Projecting blade sign, double sided", "each", 700, 1600, ("1",)),
        ("A-frame sidewalk sign with inserts", "each", 160, 320, ("1", "2")),
    ],
    "office": [
        ("Brushed acrylic lobby sign with standoffs", "each", 850, 2200, ("1",)),
        ("ADA room ID signs with braille", "each", 38, 75, ("12", "24", "40")),
        ("Frosted privacy film", "sq ft", 11, 19, ("40", "80", "120")),
        ("Wayfinding directory panel", "each", 380, 900, ("1", "2", "3")),
    ],
    "event": [
        ("13 oz vinyl banner with grommets", "sq ft", 4, 9, ("18", "32", "60", "120")),
        ("Retractable banner stand", "each", 150, 290, ("1", "2", "4")),
        ("Feather flag with ground spike", "each", 95, 180, ("2", "4", "6")),
        ("Coroplast yard signs", "each", 8, 16, ("25", "50", "100", "250")),
        ("Step-and-repeat backdrop 8x10 ft", "each", 420, 780, ("1",)),
    ],
    "site": [
        ("Construction site hoarding panels", "panel", 160, 340, ("6", "10", "20")),
        ("Monument sign refurbishment", "each", 1500, 4800, ("1",)),
        ("Post and panel directional signs", "each", 140, 380, ("4", "8", "12")),
        ("Safety signage pack", "set", 90, 240, ("1", "2", "3")),
    ],
}
_SERVICES = [
    ("Design and proofing", "hour", 65, 95, ("1", "2", "3.5")),
    ("Installation crew", "hour", 85, 125, ("2", "4", "6", "8")),
    ("Site survey and measurements", "visit", 75, 150, ("1",)),
]
_TAX_RATES = [Decimal("0"), Decimal("6.25"), Decimal("7.5"), Decimal("8.25"), Decimal("20")]
_QUOTE_STATUS_WEIGHTS = [("draft", 14), ("sent", 22), ("accepted", 52), ("declined", 12)]
_ORDER_STATUS_WEIGHTS = [("scheduled", 22), ("in_progress", 18), ("done", 52), ("cancelled", 8)]


def seed_demo_records(*, tenant: Tenant, staff_users: dict[str, User]) -> dict[str, int]:
    """Create a few hundred believable records in ``tenant`` (its schema must be active).

    ``staff_users`` maps role names to the workspace's demo users; the owner acts, the
    installers get the jobs. Returns how many records of each kind were created.
    """
    counts: Counter[str] = Counter()
    if Company.objects.exists():
        return {"companies": 0}
    owner = Membership.objects.select_related("user", "tenant").get(
        tenant=tenant, user=staff_users[Role.OWNER.value], is_active=True
    )
    installers = [
        user for role, user in sorted(staff_users.items()) if role == Role.INSTALLER.value
    ] or [owner.user]
    rng = random.Random(f"shop-demo:{tenant.slug}")  # noqa: S311 - demo data, not secrets
    today = timezone.localdate()
    actor: _Acting = {"tenant": tenant, "actor": owner}

    companies = _companies(rng, actor, counts)
    for company, kind in companies:
        for _ in range(rng.randint(2, 6)):
            days_ago = rng.randint(1, 240)
            status = _weighted(rng, _QUOTE_STATUS_WEIGHTS)
            quote = services.quote_create(
                **actor,
                company=company,
                title=_quote_title(rng, kind, company),
                tax_rate=rng.choice(_TAX_RATES),
                valid_until=today + timedelta(days=rng.choice([14, 30, 45, 60])),
                notes=rng.choice(
                    [
                        "",
                        "",
                        "Price includes one round of proof revisions.",
                        "Permit fees not included.",
                        "50% deposit on approval.",
                    ]
                ),
                lines=_lines(rng, kind),
            )
            counts["quotes"] += 1
            counts["quote_lines"] += quote.lines.count()
            if status != "draft":
                quote = services.quote_send(**actor, quote=quote, notify_customer=False)
            if status == "accepted":
                quote = services.quote_accept(**actor, quote=quote)
                _order_for(rng, actor, quote, installers, days_ago, today, counts)
            elif status == "declined":
                quote = services.quote_decline(**actor, quote=quote)
    return dict(counts)


def _weighted(rng: random.Random, weights: list[tuple[str, int]]) -> str:
    values, chances = zip(*weights, strict=True)
    return rng.choices(values, weights=chances)[0]


def _companies(rng, actor, counts) -> list[tuple[Company, str]]:
    names: set[str] = set()
    made: list[tuple[Company, str]] = []
    while len(made) < COMPANY_COUNT:
        business, kind = rng.choice(_BUSINESS)
        name = f"{rng.choice(_FIRST)} {business}"
        if name in names:
            continue
        names.add(name)
        domain = name.lower().replace("&", "and").replace(".", "").replace(" ", "") + ".example"
        street = f"{rng.randint(10, 980)} {rng.choice(_STREETS)}, {rng.choice(_CITIES)}"
        company = services.company_create(
            **actor,
            name=name,
            email=f"hello@{domain}",
            phone=f"(555) {rng.randint(200, 989)}-{rng.randint(1000, 9999)}",
            billing_address=street,
            site_address=street
            if rng.random() < 0.7
            else f"{rng.randint(10, 980)} {rng.choice(_STREETS)}, {rng.choice(_CITIES)}",
            notes=rng.choice(
                ["", "", "Prefers email.", "Net 30 terms agreed.", "Brand guide on file."]
            ),
        )
        counts["companies"] += 1
        for person in rng.sample(_PEOPLE, rng.randint(1, 3)):
            services.contact_create(
                **actor,
                company=company,
                name=person,
                email=f"{person.split()[0].lower()}@{domain}",
                phone=f"(555) {rng.randint(200, 989)}-{rng.randint(1000, 9999)}",
                role_title=rng.choice(_TITLES),
            )
            counts["contacts"] += 1
        made.append((company, kind))
    return made


def _quote_title(rng, kind: str, company: Company) -> str:
    titles = {
        "vehicle": ["Fleet graphics refresh", "Van wrap", "Truck lettering", "Trailer wrap"],
        "storefront": ["Storefront signage", "Window graphics", "New shop front sign"],
        "office": ["Lobby and wayfinding signs", "Office rebrand signage", "ADA signage"],
        "event": ["Event banners", "Festival signage package", "Open house signs"],
        "site": ["Site hoarding and safety signs", "Monument sign refurbishment"],
    }[kind]
    return f"{rng.choice(titles)} for {company.name}"


def _lines(rng, kind: str) -> list[LineInput]:
    products = rng.sample(_CATALOGUE[kind], rng.randint(1, min(4, len(_CATALOGUE[kind]))))
    extras = rng.sample(_SERVICES, rng.randint(0, 2))
    lines = []
    for description, unit, low, high, quantities in [*products, *extras][:6]:
        price = Decimal(rng.randint(low * 100, high * 100)) / 100
        lines.append(
            LineInput(
                description=f"{description} (per {unit})",
                quantity=Decimal(rng.choice(quantities)),
                unit_price=price.quantize(Decimal("0.01")),
            )
        )
    return lines


def _order_for(rng, actor, quote: Quote, installers, days_ago: int, today, counts) -> None:
    order = services.order_create_from_quote(
        **actor,
        quote=quote,
        assignee=rng.choice(installers) if rng.random() < 0.85 else None,
        due_date=today - timedelta(days=days_ago) + timedelta(days=rng.randint(7, 35)),
        notes=rng.choice(
            [
                "",
                "",
                "Lift required.",
                "Access via rear loading dock.",
                "Customer supplies final logo files.",
            ]
        ),
    )
    counts["orders"] += 1
    target = _weighted(rng, _ORDER_STATUS_WEIGHTS)
    path = {
        "scheduled": [],
        "in_progress": ["in_progress"],
        "done": ["in_progress", "done"],
        "cancelled": ["cancelled"],
    }[target]
    for status in path:
        order = services.order_change_status(**actor, order=order, status=status)
    if rng.random() < 0.45:
        _file_for(rng, actor, order, counts)
    if order.status == Order.Status.DONE or (
        order.status == Order.Status.IN_PROGRESS and rng.random() < 0.3
    ):
        _invoice_for(rng, actor, order, days_ago, today, counts)


def _invoice_for(rng, actor, order: Order, days_ago: int, today, counts) -> None:
    issued = today - timedelta(days=max(days_ago - rng.randint(5, 30), 0))
    invoice = services.invoice_create_from_order(
        **actor, order=order, issue_date=issued, due_date=issued + timedelta(days=30)
    )
    counts["invoices"] += 1
    roll = rng.random()
    if roll < 0.05:
        services.invoice_void(**actor, invoice=invoice)
    elif roll < 0.65 and invoice.due_date < today + timedelta(days=20):
        services.invoice_mark_paid(**actor, invoice=invoice)
    # Anything else stays open; those past their due date show up as overdue.


def _file_for(rng, actor, order: Order, counts) -> None:
    if rng.random() < 0.5:
        data, name, kind = pdf_bytes(f"Proof {order.number}"), f"{order.number} proof.pdf", "proof"
    else:
        colour = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        data, name, kind = png_bytes(24, 16, colour), f"{order.number} artwork.png", "artwork"
    services.file_upload(
        **actor,
        company=order.company,
        order=order,
        upload=io.BytesIO(data),
        filename=name,
        kind=kind,
    )
    counts["files"] += 1
