"""The staff queue over HTTP: the saved views "mine" and "breaching", search, sort and
pagination, bulk assign and close, and bad input on the forms the other tests leave out."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django.utils.html import escape
from django_tenants.utils import tenant_context

from audit.events import Event
from audit.models import AuditEvent
from desk import services
from desk.models import SlaOverride, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_ticket(acme, as_email):
    """open_ticket(subject) -> a fresh request of customer@acme's company."""
    customer = as_email("customer@acme.example")

    def make(subject: str) -> Ticket:
        with tenant_context(acme):
            return services.ticket_create(
                tenant=acme,
                actor=customer,
                subject=subject,
                description="Details.",
                priority="normal",
            )

    return make


def _numbers(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def test_the_saved_view_mine_lists_only_open_tickets_assigned_to_the_viewer(
    acme, client_for, open_ticket, as_role
):
    mine, theirs = open_ticket("Zebra printer offline"), open_ticket("Zebra label jam")
    expert, manager = as_role("expert"), as_role("manager")
    with tenant_context(acme):
        services.ticket_assign(tenant=acme, actor=expert, ticket=mine, assignee_id=expert.user_id)
        services.ticket_assign(
            tenant=acme, actor=expert, ticket=theirs, assignee_id=manager.user_id
        )
    page = _numbers(client_for("acme", "expert").get("/desk/?view=mine"))
    assert mine.number in page
    assert theirs.number not in page


def test_the_saved_view_breaching_lists_open_tickets_past_or_near_their_due_time(
    acme, client_for, open_ticket
):
    with time_machine.travel(timezone.now() - timedelta(days=30), tick=False):
        late = open_ticket("Late ticket")
    fresh = open_ticket("Fresh ticket")
    with tenant_context(acme):
        Ticket.objects.filter(pk=fresh.pk).update(
            sla_risk_at=timezone.now() + timedelta(days=1),
            sla_due_at=timezone.now() + timedelta(days=2),
        )
    page = _numbers(client_for("acme", "expert").get("/desk/?view=breaching"))
    assert late.number in page
    assert fresh.number not in page
    breached = _numbers(client_for("acme", "expert").get("/desk/?sla_state=breached"))
    assert late.number in breached
    assert fresh.number not in breached


def test_search_sort_and_pagination_of_the_queue(acme, client_for, open_ticket, monkeypatch):
    first, second = open_ticket("Quokka alpha"), open_ticket("Quokka beta")
    client = client_for("acme", "expert")
    found = _numbers(client.get("/desk/?q=quokka alpha"))
    assert first.number in found
    assert second.number not in found
    ascending = _numbers(client.get("/desk/?q=quokka&sort=subject"))
    assert ascending.index(first.number) < ascending.index(second.number)
    descending = _numbers(client.get("/desk/?q=quokka&sort=-subject"))
    assert descending.index(second.number) < descending.index(first.number)
    monkeypatch.setattr("desk.views._common.PAGE_SIZE", 1)
    page_one = _numbers(client.get("/desk/?q=quokka&sort=subject&page=1"))
    page_two = _numbers(client.get("/desk/?q=quokka&sort=subject&page=2"))
    assert first.number in page_one
    assert second.number not in page_one
    assert second.number in page_two
    assert first.number not in page_two
    # A page past the end shows the last one; a sort the queue does not know is ignored.
    assert second.number in _numbers(client.get("/desk/?q=quokka&sort=subject&page=99"))
    assert client.get("/desk/?q=quokka&sort=password").status_code == 200


def test_bulk_assign_assigns_every_chosen_ticket_and_audits_each(
    acme, client_for, open_ticket, as_role
):
    tickets = [open_ticket("Bulk one"), open_ticket("Bulk two")]
    expert = as_role("expert")
    response = client_for("acme", "expert").post(
        "/desk/bulk/",
        {"action": "assign", "tickets": [t.pk for t in tickets], "assignee": expert.user_id},
        follow=True,
    )
    assert "2 ticket(s) assigned." in response.content.decode()
    with tenant_context(acme):
        assert {t.assignee_id for t in Ticket.objects.filter(pk__in=[t.pk for t in tickets])} == {
            expert.user_id
        }
        audited = AuditEvent.objects.filter(
            event_type=Event.TICKET_ASSIGNED, target_id__in=[str(t.pk) for t in tickets]
        )
        assert audited.count() == 2


def test_bulk_close_closes_the_chosen_tickets_and_audits_each_status_change(
    acme, client_for, open_ticket
):
    tickets = [open_ticket("Close one"), open_ticket("Close two")]
    response = client_for("acme", "expert").post(
        "/desk/bulk/", {"action": "close", "tickets": [t.pk for t in tickets]}, follow=True
    )
    assert "2 ticket(s) closed." in response.content.decode()
    with tenant_context(acme):
        assert set(
            Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("status", flat=True)
        ) == {"closed"}
        changes = AuditEvent.objects.filter(
            event_type=Event.TICKET_STATUS_CHANGED, target_id__in=[str(t.pk) for t in tickets]
        ).values_list("changes", flat=True)
        assert list(changes) == [{"status": ["new", "closed"]}] * 2


@pytest.mark.parametrize(
    ("data", "with_ticket"),
    [
        ({"action": "close"}, False),  # no ticket chosen
        ({"action": "explode"}, True),  # an action that does not exist
        ({"action": "assign", "tickets": ["x"], "assignee": "abc"}, True),  # not ids
    ],
)
def test_bad_bulk_input_answers_400_and_changes_nothing(
    acme, client_for, open_ticket, data, with_ticket
):
    ticket = open_ticket("Untouched")
    if with_ticket:
        data = {**data, "tickets": [*data.get("tickets", []), str(ticket.pk)]}
    response = client_for("acme", "expert").post("/desk/bulk/", data)
    assert response.status_code == 400
    with tenant_context(acme):
        refreshed = Ticket.objects.get(pk=ticket.pk)
    assert (refreshed.status, refreshed.assignee_id) == ("new", None)


def test_bad_input_on_the_edit_and_override_forms_is_shown_and_changes_nothing(
    acme, client_for, open_ticket
):
    ticket = open_ticket("Edit me")
    owner = client_for("acme", "owner")
    edit = owner.post(
        f"/desk/tickets/{ticket.pk}/edit/",
        {"subject": "Edit me", "priority": "normal", "tags": "not/a/tag"},
    )
    assert edit.status_code == 400
    assert escape(services.TICKET_TAG_INVALID) in edit.content.decode()
    no_reason = owner.post(
        f"/desk/tickets/{ticket.pk}/sla/",
        {"target": "resolution", "kind": "extend", "reason": ""},
    )
    assert no_reason.status_code == 400
    assert "This field is required." in no_reason.content.decode()
    no_due = owner.post(
        f"/desk/tickets/{ticket.pk}/sla/",
        {"target": "resolution", "kind": "extend", "reason": "Parts"},
    )
    assert no_due.status_code == 400
    assert escape(services.SLA_OVERRIDE_NEW_DUE_REQUIRED) in no_due.content.decode()
    with tenant_context(acme):
        assert Ticket.objects.get(pk=ticket.pk).tags == []
        assert not SlaOverride.objects.filter(ticket=ticket).exists()


def test_a_queue_longer_than_the_count_cap_says_so_and_pages_forward_past_the_cap(
    client_for, open_ticket, monkeypatch
):
    for n in range(1, 5):
        open_ticket(f"Wombat {n}")
    monkeypatch.setattr("desk.views._common.PAGE_SIZE", 1)
    monkeypatch.setattr("desk.views._common.COUNT_CAP", 2)
    client = client_for("acme", "expert")

    def page(number) -> str:
        return _numbers(client.get(f"/desk/?q=wombat&sort=subject&page={number}"))

    first = page(1)
    assert "Wombat 1" in first
    assert "Page 1 (2+ in all)" in first
    assert "page=2" in first
    assert 'rel="next"' in first
    assert 'rel="prev"' not in first
    # Past the counted rows the page number is still honoured, with a next link while more.
    third = page(3)
    assert "Wombat 3" in third
    assert "Page 3 (2+ in all)" in third
    assert "page=4" in third
    assert 'rel="next"' in third
    last = page(4)
    assert "Wombat 4" in last
    assert 'rel="next"' not in last
    assert "page=3" in last
    assert 'rel="prev"' in last
    # Past the end, not a number, below one or absurdly large: the last counted page or the
    # first one, never an error.
    assert "Wombat 3" in page(5)
    assert "Wombat 3" in page(10**30)
    assert "Wombat 3" in page(-1)
    assert "Wombat 1" in page("x")


def test_a_queue_within_the_count_cap_shows_the_exact_count_and_page_total(
    client_for, open_ticket, monkeypatch
):
    for n in range(1, 4):
        open_ticket(f"Numbat {n}")
    monkeypatch.setattr("desk.views._common.PAGE_SIZE", 1)
    monkeypatch.setattr("desk.views._common.COUNT_CAP", 3)
    page = _numbers(client_for("acme", "expert").get("/desk/?q=numbat&sort=subject&page=3"))
    assert "Numbat 3" in page
    assert "Page 3 of 3 (3 in all)" in page
    assert 'rel="next"' not in page


def test_the_queue_counts_at_most_one_row_past_the_cap(client_for, open_ticket, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(1, 4):
        open_ticket(f"Dingo {n}")
    monkeypatch.setattr("desk.views._common.COUNT_CAP", 2)
    client = client_for("acme", "expert")
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/desk/?tag=nothing-like-it").status_code == 200
    counts = [q["sql"] for q in captured.captured_queries if "COUNT(*)" in q["sql"]]
    counts = [sql for sql in counts if '"desk_ticket"' in sql]
    assert counts
    assert all("LIMIT 3" in sql and "ORDER BY" not in sql for sql in counts)
