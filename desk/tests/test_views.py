"""The desk's pages over HTTP: internal notes never reach a customer's page or download,
bad input on every form answers 400 with the error next to the field, staff pages work."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from desk.models import Ticket, TicketAttachment
from desk.tests.seed import internal_marker

pytestmark = pytest.mark.django_db


def _own_ticket(acme, company_id) -> Ticket:
    with tenant_context(acme):
        return Ticket.objects.get(company_id=company_id)


def _customer_company(acme, email):
    from rbac.models import Membership

    return Membership.objects.get(tenant=acme, user__email=email).company_id


def test_a_customer_sees_the_public_reply_but_never_the_internal_note_or_its_file(acme, client_for):
    company_id = _customer_company(acme, "customer@acme.example")
    ticket = _own_ticket(acme, company_id)
    client = client_for("acme", "customer")
    page = client.get(f"/portal/requests/{ticket.pk}/").content.decode()
    assert f"We are looking into it (acme company {company_id})." in page
    assert internal_marker("acme", company_id) not in page
    assert f"internal-acme-{company_id}.pdf" not in page
    with tenant_context(acme):
        internal = TicketAttachment.objects.get(ticket=ticket, internal=True)
        public = TicketAttachment.objects.get(ticket=ticket, internal=False, message__isnull=False)
    assert client.get(f"/portal/attachments/{internal.pk}/download/").status_code == 404
    assert client.get(f"/portal/attachments/{public.pk}/download/").status_code == 200
    # Staff pages, with their notes, are not the customer's at all.
    assert client.get(f"/desk/tickets/{ticket.pk}/").status_code == 403


def test_staff_see_replies_and_internal_notes_clearly_marked(acme, client_for):
    company_id = _customer_company(acme, "customer@acme.example")
    ticket = _own_ticket(acme, company_id)
    page = client_for("acme", "expert").get(f"/desk/tickets/{ticket.pk}/").content.decode()
    assert internal_marker("acme", company_id) in page
    assert "Internal note" in page
    assert "Public reply" in page
    assert "Ticket created" in page  # the history from the audit log


@pytest.mark.parametrize(
    ("role", "path", "data", "field_error"),
    [
        (
            "customer",
            "/portal/requests/new/",
            {"subject": "", "description": ""},
            "This field is required.",
        ),
        (
            "customer",
            "/portal/requests/new/",
            {"subject": "x", "description": "y", "priority": "urgent"},
            "Select a valid choice.",
        ),
        (
            "expert",
            "/desk/new/",
            {"company": "999999", "subject": "s", "description": "d", "priority": "normal"},
            "Select a valid choice.",
        ),
        (
            "owner",
            "/desk/sla/",
            {
                "name": "x",
                "time_zone": "Mars/Olympus",
                "business_days": ["0"],
                "day_start": "17:00",
                "day_end": "09:00",
                "at_risk_percent": "75",
                "customer_priorities": ["low"],
                "reopen_window_days": "7",
                **{
                    f"{p}_{k}_minutes": "60"
                    for p in ("low", "normal", "high", "urgent")
                    for k in ("first_response", "resolution")
                },
            },
            "Choose a time zone from the list",
        ),
        ("owner", "/desk/sla/", {"holidays": "not-a-date"}, "Write each holiday as a date"),
        (
            "owner",
            "/desk/assets/new/",
            {"company": "", "name": "", "asset_type": ""},
            "This field is required.",
        ),
    ],
)
def test_bad_input_on_desk_forms_answers_400_with_the_error_shown(
    acme, client_for, role, path, data, field_error
):
    response = client_for("acme", role).post(path, data)
    assert response.status_code == 400
    assert field_error in response.content.decode()


def test_bad_input_on_ticket_actions_answers_400_and_changes_nothing(acme, client_for):
    company_id = _customer_company(acme, "customer@acme.example")
    ticket = _own_ticket(acme, company_id)
    client = client_for("acme", "expert")
    for action, data in (
        ("reply", {"body": ""}),
        ("status", {"status": "bogus"}),
        ("assign", {"assignee": "abc"}),
        ("merge", {"into": ""}),
    ):
        assert client.post(f"/desk/tickets/{ticket.pk}/{action}/", data).status_code == 400, action
    assert (
        client_for("acme", "customer")
        .post(f"/portal/requests/{ticket.pk}/reply/", {"body": ""})
        .status_code
        == 400
    )
    with tenant_context(acme):
        assert Ticket.objects.get(pk=ticket.pk).status == ticket.status


def test_an_illegal_status_change_from_the_page_is_refused_with_the_message(acme, client_for):
    ticket = _own_ticket(acme, _customer_company(acme, "customer@acme.example"))
    response = client_for("acme", "expert").post(
        f"/desk/tickets/{ticket.pk}/status/", {"status": "new"}, follow=True
    )
    assert "A ticket cannot go from “Open” to “New”." in response.content.decode()


def test_the_dashboard_draws_svg_charts_without_inline_style(acme, client_for):
    response = client_for("acme", "expert").get("/desk/dashboard/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in body
    assert "<rect" in body
    assert "style=" not in body


def test_the_queue_filters_by_sla_state_and_saved_view(acme, client_for):
    client = client_for("acme", "expert")
    for query in (
        "?sla_state=breached",
        "?view=mine",
        "?view=breaching",
        "?status=open&sort=due",
        "?tag=x&company=1&assignee=none&priority=high&page=2",
    ):
        assert client.get(f"/desk/{query}").status_code == 200, query


def test_the_sla_policy_page_says_a_change_applies_to_tickets_opened_from_now_on(acme, client_for):
    from django.utils.html import escape

    from desk.views.staff import SLA_POLICY_APPLIES_TO_NEW_TICKETS

    response = client_for("acme", "owner").get("/desk/sla/")
    assert response.status_code == 200
    assert escape(SLA_POLICY_APPLIES_TO_NEW_TICKETS) in response.content.decode()
