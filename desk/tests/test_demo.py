"""The demo's service desk: a few hundred tickets in every SLA state, and portal customers."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import User
from desk import demo, selectors, services, sla
from desk.models import SlaPause, Ticket
from kernel.roles import STAFF_ROLES
from rbac.models import Membership

pytestmark = pytest.mark.django_db


def test_the_demo_desk_has_tickets_in_every_sla_state_and_customers_for_the_portal(acme, in_tenant):
    staff = {
        role.value: User.objects.get(email=f"{role.value}@acme.example") for role in STAFF_ROLES
    }
    with in_tenant(acme):
        Ticket.objects.all().delete()  # the suite's seed; the demo seeds an empty desk only
        counts = demo.seed_demo_records(tenant=acme, staff_users=staff)
        assert counts["tickets"] == Ticket.objects.count() > 0
        now = timezone.now()
        for state in (sla.ON_TRACK, sla.AT_RISK, sla.BREACHED, sla.PAUSED):
            condition = selectors.sla_state_q(state, now)
            assert Ticket.objects.filter(condition).exists(), state
        # Every paused ticket has its pause under way stored, as the status machine leaves it.
        paused = Ticket.objects.filter(sla_paused_at__isnull=False)
        assert sorted(paused.values_list("pk", "sla_paused_at")) == sorted(
            SlaPause.objects.filter(ended_at__isnull=True).values_list("ticket_id", "started_at")
        )
        again = demo.seed_demo_records(tenant=acme, staff_users=staff)
    assert again == {"tickets": 0}
    assert counts["customers"] >= 1
    assert User.objects.filter(email="customer1@acme.demo").exists()


def test_a_demo_tickets_history_says_the_demo_created_it_and_a_real_ticket_shows_no_such_row(
    acme, in_tenant, client_for
):
    staff = {
        role.value: User.objects.get(email=f"{role.value}@acme.example") for role in STAFF_ROLES
    }
    with in_tenant(acme):
        Ticket.objects.all().delete()  # the suite's seed; the demo seeds an empty desk only
        demo.seed_demo_records(tenant=acme, staff_users=staff)
        seeded = Ticket.objects.order_by("pk").first()
        customer = Membership.objects.get(tenant=acme, user__email="customer@acme.example")
        real = services.ticket_create(
            tenant=acme, actor=customer, subject="Screen flickers", description="Since Monday."
        )
    client = client_for("acme", "owner")
    response = client.get(f"/desk/tickets/{seeded.pk}/")
    assert response.status_code == 200
    demo_page = response.content.decode()
    real_page = client.get(f"/desk/tickets/{real.pk}/").content.decode()
    assert "Ticket created by the demo" in demo_page
    assert "Ticket created by the demo" not in real_page
    assert "Ticket created" in real_page  # its desk.ticket.created event


@pytest.mark.parametrize(
    "moment",
    ["2026-12-06T23:30:00+00:00", "2026-12-08T00:30:00+00:00", "2026-12-09T10:00:00+00:00"],
    ids=["sunday-night", "tuesday-after-midnight", "wednesday-morning"],
)
def test_the_demo_has_tickets_at_risk_whatever_the_hour_it_is_seeded(acme, in_tenant, moment):
    import time_machine

    staff = {
        role.value: User.objects.get(email=f"{role.value}@acme.example") for role in STAFF_ROLES
    }
    with in_tenant(acme), time_machine.travel(moment, tick=False):
        Ticket.objects.all().delete()
        demo.seed_demo_records(tenant=acme, staff_users=staff)
        at_risk = Ticket.objects.filter(selectors.sla_state_q(sla.AT_RISK, timezone.now()))
        assert at_risk.count() >= 3  # one per company at least
