"""The demo's service desk: a few hundred tickets in every SLA state, and portal customers."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import User
from desk import demo, selectors, sla
from desk.models import Ticket
from kernel.roles import STAFF_ROLES

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
        again = demo.seed_demo_records(tenant=acme, staff_users=staff)
    assert again == {"tickets": 0}
    assert counts["customers"] >= 1
    assert User.objects.filter(email="customer1@acme.demo").exists()
