"""The writes the pages offer, through the API: each goes through the page's service, is
audited as the person with the API token, answers bad input with a field error, and refuses
an illegal step with the page's own message."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from api.tests.conftest import ApiClient, token_for
from audit.events import Event
from audit.models import AuditEvent
from desk.models import Asset, Ticket
from desk.services import assets as asset_services
from desk.services import tickets as ticket_services
from desk.services.sla_policies import SLA_OVERRIDE_REASON_REQUIRED
from shop.models import Company, Contact, Invoice, Order, Quote, StoredFile
from shop.services import companies as company_services
from shop.services.companies import COMPANY_HAS_RECORDS, CONTACT_NAME_REQUIRED
from shop.services.invoices import INVOICE_NOT_OPEN, INVOICE_PAID_NOT_DELETABLE
from shop.services.orders import (
    ORDER_HAS_INVOICES,
    ORDER_STATUS_CHANGE_NOT_ALLOWED,
    ORDER_STATUS_UNKNOWN,
)
from shop.services.quotes import (
    QUOTE_ACCEPTED_NOT_DELETABLE,
    QUOTE_LINE_DESCRIPTION_REQUIRED,
    QUOTE_NOT_EDITABLE,
    QUOTE_NOT_SENT,
)
from shop.tests import factories

pytestmark = pytest.mark.django_db


def _client(role: str = "owner"):
    token, secret = token_for("acme", role)
    return token, ApiClient("acme", secret)


def _company(acme) -> Company:
    with tenant_context(acme):
        return Company.objects.order_by("pk").first()


def _audited(acme, token, event: Event, record) -> AuditEvent:
    """The latest event of ``event`` on ``record``, checked to name the person and the token."""
    with tenant_context(acme):
        found = AuditEvent.objects.filter(
            event_type=event,
            target_type=record._meta.label_lower,
            target_id=str(record.pk),
        ).latest("sequence")
    assert found.actor_kind == "api_token"
    assert found.additional_data["api_token"] == token.pk
    return found


def _problem(response, status: int, field: str, message: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == message
    assert {"field": field, "message": message} in response.json()["errors"]


# --- Contacts


def _contact(acme) -> Contact:
    owner = factories.membership(acme, "owner")
    with tenant_context(acme):
        return company_services.contact_create(
            tenant=acme, actor=owner, company=_company(acme), name="Dana Doe", phone="555-0100"
        )


def test_a_contact_is_patched_through_the_service_and_audited_as_the_token(acme):
    contact = _contact(acme)
    token, client = _client()
    response = client.patch(f"/contacts/{contact.pk}", {"email": "dana@example.com"})
    assert response.status_code == 200, response.content
    assert response.json()["email"] == "dana@example.com"
    assert response.json()["name"] == "Dana Doe"  # left out, so kept
    assert response.json()["phone"] == "555-0100"
    event = _audited(acme, token, Event.CONTACT_UPDATED, contact)
    assert event.actor_email == "owner@acme.example"


def test_a_contact_patched_with_a_blank_name_gets_the_pages_field_error_and_stays(acme):
    contact = _contact(acme)
    _token, client = _client()
    response = client.patch(f"/contacts/{contact.pk}", {"name": "   ", "phone": "1"})
    _problem(response, 422, "name", CONTACT_NAME_REQUIRED)
    with tenant_context(acme):
        contact.refresh_from_db()
    assert (contact.name, contact.phone) == ("Dana Doe", "555-0100")


def test_a_contact_is_deleted_with_204_and_audited_and_is_then_missing(acme):
    contact = _contact(acme)
    token, client = _client()
    response = client.delete(f"/contacts/{contact.pk}")
    assert (response.status_code, response.content) == (204, b"")
    _audited(acme, token, Event.CONTACT_DELETED, contact)
    assert client.delete(f"/contacts/{contact.pk}").status_code == 404
    with tenant_context(acme):
        assert not Contact.objects.filter(pk=contact.pk).exists()


# --- Quotes


def _in(acme, make, **fields):
    with tenant_context(acme):
        return make(acme, **fields)


def test_a_draft_quote_is_replaced_header_and_lines_and_audited(acme):
    quote = _in(acme, factories.make_quote, company=_company(acme))
    token, client = _client()
    body = {
        "company_id": quote.company_id,
        "title": "Window lettering, revised",
        "tax_rate": "10.00",
        "lines": [{"description": "Lettering", "quantity": "3", "unit_price": "20.00"}],
    }
    response = client.put(f"/quotes/{quote.pk}", body)
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Window lettering, revised"
    assert [line["amount"] for line in response.json()["lines"]] == ["60.00"]
    assert response.json()["total"] == "66.00"
    _audited(acme, token, Event.QUOTE_UPDATED, quote)
    blank = {**body, "title": "Not saved", "lines": [{**body["lines"][0], "description": " "}]}
    _problem(
        client.put(f"/quotes/{quote.pk}", blank), 422, "lines", QUOTE_LINE_DESCRIPTION_REQUIRED
    )
    with tenant_context(acme):
        quote.refresh_from_db()
        assert (quote.title, quote.lines.count()) == ("Window lettering, revised", 1)


def test_a_sent_quote_cannot_be_edited_and_says_so_as_the_page_does(acme):
    quote = _in(acme, factories.make_quote, company=_company(acme), status=Quote.Status.SENT)
    _token, client = _client()
    response = client.put(f"/quotes/{quote.pk}", {"company_id": quote.company_id, "title": "X"})
    assert response.status_code == 422
    assert response.json()["detail"] == QUOTE_NOT_EDITABLE


# --- Orders and invoices


def test_an_order_moves_along_its_statuses_and_refuses_an_illegal_step(acme):
    order = _in(acme, factories.make_order, company=_company(acme))
    token, client = _client()
    response = client.post(f"/orders/{order.pk}/status", {"status": "in_progress"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "in_progress"
    events = _audited(acme, token, Event.ORDER_UPDATED, order)
    assert events.changes["status"] == ["scheduled", "in_progress"]
    assert client.post(f"/orders/{order.pk}/status", {"status": "done"}).status_code == 200
    illegal = client.post(f"/orders/{order.pk}/status", {"status": "scheduled"})
    _problem(illegal, 422, "", ORDER_STATUS_CHANGE_NOT_ALLOWED)
    unknown = client.post(f"/orders/{order.pk}/status", {"status": "shipped"})
    _problem(unknown, 422, "", ORDER_STATUS_UNKNOWN)
    with tenant_context(acme):
        assert Order.objects.get(pk=order.pk).status == "done"


def test_an_invoice_is_recorded_paid_and_a_paid_one_cannot_be_voided(acme):
    invoice = _in(
        acme, factories.make_invoice, order=_in(acme, factories.make_order, company=_company(acme))
    )
    token, client = _client()
    response = client.post(f"/invoices/{invoice.pk}/pay", {})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "paid"
    assert _audited(acme, token, Event.INVOICE_UPDATED, invoice).changes["status"][1] == "paid"
    _problem(client.post(f"/invoices/{invoice.pk}/void", {}), 422, "", INVOICE_NOT_OPEN)
    with tenant_context(acme):
        assert Invoice.objects.get(pk=invoice.pk).status == "paid"


def test_an_open_invoice_is_voided_by_someone_who_may_void(acme):
    invoice = _in(
        acme, factories.make_invoice, order=_in(acme, factories.make_order, company=_company(acme))
    )
    _token, client = _client()
    response = client.post(f"/invoices/{invoice.pk}/void", {})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "void"


# --- Tickets and requests


def _ticket(acme, **fields) -> Ticket:
    owner = factories.membership(acme, "owner")
    with tenant_context(acme):
        return ticket_services.ticket_create(
            tenant=acme,
            actor=owner,
            subject="Printer jams",
            description="Every third sheet",
            company_id=_company(acme).pk,
            requester_name="Dana Doe",
            **fields,
        )


def test_a_ticket_patch_changes_fields_assignee_and_status_each_audited_as_the_token(acme):
    ticket = _ticket(acme)
    expert = factories.membership(acme, "expert")
    token, client = _client()
    body = {"priority": "high", "tags": ["printer"], "assignee_id": expert.user_id}
    response = client.patch(f"/tickets/{ticket.pk}", {**body, "status": "open"})
    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["priority"], answer["tags"], answer["status"]) == ("high", ["printer"], "open")
    assert answer["assignee_id"] == expert.user_id
    assert answer["subject"] == "Printer jams"
    _audited(acme, token, Event.TICKET_UPDATED, ticket)
    _audited(acme, token, Event.TICKET_ASSIGNED, ticket)
    changed = _audited(acme, token, Event.TICKET_STATUS_CHANGED, ticket)
    assert changed.changes == {"status": ["new", "open"]}


def test_an_illegal_ticket_status_step_gets_the_pages_message_and_undoes_the_whole_patch(acme):
    ticket = _ticket(acme)
    _token, client = _client()
    assert client.patch(f"/tickets/{ticket.pk}", {"status": "closed"}).status_code == 200
    response = client.patch(f"/tickets/{ticket.pk}", {"priority": "urgent", "status": "resolved"})
    message = ticket_services.TICKET_STATUS_CHANGE_NOT_ALLOWED.format(
        current="Closed", new="Resolved"
    )
    _problem(response, 422, "status", message)
    with tenant_context(acme):
        ticket.refresh_from_db()
    assert (ticket.status, ticket.priority) == ("closed", "normal")


def test_a_ticket_patch_with_a_bad_tag_or_a_customer_assignee_gets_a_field_error(acme):
    ticket = _ticket(acme)
    customer = factories.membership(acme, "customer")
    _token, client = _client()
    bad_tag = client.patch(f"/tickets/{ticket.pk}", {"tags": ["two words"]})
    _problem(bad_tag, 422, "tags", ticket_services.TICKET_TAG_INVALID)
    not_staff = client.patch(f"/tickets/{ticket.pk}", {"assignee_id": customer.user_id})
    _problem(not_staff, 422, "assignee", ticket_services.TICKET_ASSIGNEE_NOT_STAFF)
    with tenant_context(acme):
        ticket.refresh_from_db()
    assert (ticket.tags, ticket.assignee_id) == ([], None)


def _resolved_request(acme) -> Ticket:
    customer = factories.membership(acme, "customer")
    owner = factories.membership(acme, "owner")
    with tenant_context(acme):
        ticket = ticket_services.ticket_create(
            tenant=acme,
            actor=customer,
            subject="Sign flickers",
            description="Since Monday",
            company_id=customer.company_id,
            requester=customer,
        )
        return ticket_services.ticket_change_status(
            tenant=acme, actor=owner, ticket=ticket, status="resolved"
        )


def test_a_customer_confirms_a_resolved_request_solved_and_it_closes(acme):
    ticket = _resolved_request(acme)
    token, client = _client("customer")
    response = client.post(f"/requests/{ticket.pk}/solved", {})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "closed"
    with tenant_context(acme):
        event = AuditEvent.objects.filter(
            event_type=Event.TICKET_STATUS_CHANGED, target_id=str(ticket.pk)
        ).latest("sequence")
    assert event.changes == {"status": ["resolved", "closed"]}
    assert (event.actor_kind, event.additional_data["api_token"]) == ("api_token", token.pk)
    again = client.post(f"/requests/{ticket.pk}/reopen", {})
    _problem(again, 422, "", ticket_services.TICKET_NOT_RESOLVED)


def test_a_customer_reopens_a_resolved_request(acme):
    ticket = _resolved_request(acme)
    _token, client = _client("customer")
    response = client.post(f"/requests/{ticket.pk}/reopen", {})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "open"


# --- Assets


def test_an_asset_is_created_patched_and_deleted_by_staff_each_audited_as_the_token(acme):
    token, client = _client()
    body = {"company_id": _company(acme).pk, "asset_type": "Printer", "name": "Front desk"}
    created = client.post("/assets", body)
    assert created.status_code == 201, created.content
    with tenant_context(acme):
        asset = Asset.objects.get(pk=created.json()["id"])
    _audited(acme, token, Event.ASSET_CREATED, asset)
    patched = client.patch(f"/assets/{asset.pk}", {"status": "maintenance"})
    assert patched.status_code == 200, patched.content
    assert (patched.json()["status"], patched.json()["name"]) == ("maintenance", "Front desk")
    _audited(acme, token, Event.ASSET_UPDATED, asset)
    assert client.delete(f"/assets/{asset.pk}").status_code == 204
    _audited(acme, token, Event.ASSET_DELETED, asset)
    with tenant_context(acme):
        assert not Asset.objects.filter(pk=asset.pk).exists()


def test_an_asset_with_a_blank_name_or_another_companys_id_is_refused(acme):
    _token, client = _client()
    body = {"company_id": _company(acme).pk, "asset_type": "Printer", "name": "  "}
    _problem(client.post("/assets", body), 422, "name", asset_services.ASSET_NAME_REQUIRED)
    unknown = client.post("/assets", {**body, "name": "Back office", "company_id": 999_999_999})
    assert unknown.status_code == 404
    with tenant_context(acme):
        assert not Asset.objects.filter(name__in=["", "Back office"]).exists()


# --- Deletions the pages offer, with the pages' rules


def _deleted(acme, client, token, path: str, event: Event, record) -> None:
    response = client.delete(path)
    assert (response.status_code, response.content) == (204, b""), response.content
    _audited(acme, token, event, record)
    assert client.delete(path).status_code == 404
    with tenant_context(acme):
        assert not type(record).objects.filter(pk=record.pk).exists()


def _kept(acme, response, message: str, record) -> None:
    _problem(response, 422, "", message)
    with tenant_context(acme):
        assert type(record).objects.filter(pk=record.pk).exists()


def test_a_company_without_records_is_deleted_and_audited_as_the_token(acme):
    owner = factories.membership(acme, "owner")
    with tenant_context(acme):
        company = company_services.company_create(tenant=acme, actor=owner, name="Gone Ltd")
    token, client = _client()
    _deleted(acme, client, token, f"/companies/{company.pk}", Event.COMPANY_DELETED, company)


def test_a_company_with_records_is_refused_with_the_pages_message(acme):
    company = _company(acme)  # the seed gave it a request and an asset
    _token, client = _client()
    _kept(acme, client.delete(f"/companies/{company.pk}"), COMPANY_HAS_RECORDS, company)


def test_a_draft_quote_is_deleted_and_an_accepted_one_is_refused(acme):
    token, client = _client()
    draft = _in(acme, factories.make_quote, company=_company(acme))
    _deleted(acme, client, token, f"/quotes/{draft.pk}", Event.QUOTE_DELETED, draft)
    accepted = _in(acme, factories.make_quote, company=_company(acme), status="accepted")
    _kept(acme, client.delete(f"/quotes/{accepted.pk}"), QUOTE_ACCEPTED_NOT_DELETABLE, accepted)


def test_an_order_without_invoices_is_deleted_and_one_with_invoices_is_refused(acme):
    token, client = _client()
    order = _in(acme, factories.make_order, company=_company(acme))
    _deleted(acme, client, token, f"/orders/{order.pk}", Event.ORDER_DELETED, order)
    invoiced = _in(acme, factories.make_order, company=_company(acme))
    _in(acme, factories.make_invoice, order=invoiced)
    _kept(acme, client.delete(f"/orders/{invoiced.pk}"), ORDER_HAS_INVOICES, invoiced)


def test_an_open_invoice_is_deleted_and_a_paid_one_is_refused(acme):
    token, client = _client()
    order = _in(acme, factories.make_order, company=_company(acme))
    invoice = _in(acme, factories.make_invoice, order=order)
    _deleted(acme, client, token, f"/invoices/{invoice.pk}", Event.INVOICE_DELETED, invoice)
    paid = _in(acme, factories.make_invoice, order=order)
    assert client.post(f"/invoices/{paid.pk}/pay", {}).status_code == 200
    _kept(acme, client.delete(f"/invoices/{paid.pk}"), INVOICE_PAID_NOT_DELETABLE, paid)


def test_a_file_is_deleted_and_audited_and_a_member_without_the_capability_is_refused(acme):
    stored = _in(acme, factories.make_file, company=_company(acme))
    _token, expert = _client("expert")
    refused = expert.delete(f"/files/{stored.pk}")
    assert refused.status_code == 403, refused.content
    with tenant_context(acme):
        assert StoredFile.objects.filter(pk=stored.pk).exists()
    token, client = _client()
    _deleted(acme, client, token, f"/files/{stored.pk}", Event.FILE_DELETED, stored)


# --- Quote answers recorded by staff


def test_staff_record_a_customers_acceptance_and_a_second_answer_is_refused(acme):
    quote = _in(acme, factories.make_quote, company=_company(acme), status=Quote.Status.SENT)
    token, client = _client()
    response = client.post(f"/quotes/{quote.pk}/record-acceptance", {})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    assert _audited(acme, token, Event.QUOTE_UPDATED, quote).changes["status"][1] == "accepted"
    again = client.post(f"/quotes/{quote.pk}/record-decline", {})
    _problem(again, 422, "", QUOTE_NOT_SENT)


def test_staff_record_a_customers_decline(acme):
    quote = _in(acme, factories.make_quote, company=_company(acme), status=Quote.Status.SENT)
    _token, client = _client()
    response = client.post(f"/quotes/{quote.pk}/record-decline", {})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "declined"


# --- Ticket merge and SLA override (staff only: customers hold neither capability)


def test_a_ticket_is_merged_into_another_and_audited_on_both_as_the_token(acme):
    duplicate, target = _ticket(acme), _ticket(acme)
    token, client = _client()
    response = client.post(f"/tickets/{duplicate.pk}/merge", {"into_id": target.pk})
    assert response.status_code == 200, response.content
    assert response.json()["id"] == target.pk
    _audited(acme, token, Event.TICKET_MERGED, duplicate)
    _audited(acme, token, Event.TICKET_MERGED, target)
    with tenant_context(acme):
        duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into_id) == ("closed", target.pk)


def test_a_ticket_merged_into_itself_or_by_a_customer_is_refused(acme):
    ticket = _ticket(acme)
    _token, client = _client()
    itself = client.post(f"/tickets/{ticket.pk}/merge", {"into_id": ticket.pk})
    _problem(itself, 422, "into", ticket_services.TICKET_MERGE_SAME)
    _token, customer = _client("customer")
    by_customer = customer.post(f"/tickets/{ticket.pk}/merge", {"into_id": ticket.pk})
    assert by_customer.status_code == 403, by_customer.content
    with tenant_context(acme):
        ticket.refresh_from_db()
    assert (ticket.status, ticket.merged_into_id) == ("new", None)


def test_an_sla_target_is_waived_with_a_reason_and_audited_as_the_token(acme):
    ticket = _ticket(acme)
    assert ticket.resolution_due_at is not None
    token, client = _client()
    body = {"target": "resolution", "kind": "waive", "reason": "Customer on holiday"}
    response = client.post(f"/tickets/{ticket.pk}/sla-override", body)
    assert response.status_code == 200, response.content
    event = _audited(acme, token, Event.SLA_OVERRIDDEN, ticket)
    assert event.additional_data["reason"] == "Customer on holiday"
    with tenant_context(acme):
        ticket.refresh_from_db()
    assert ticket.resolution_due_at is None


def test_an_sla_override_without_a_reason_or_by_a_customer_is_refused(acme):
    ticket = _ticket(acme)
    _token, client = _client()
    body = {"target": "resolution", "kind": "waive", "reason": "  "}
    blank = client.post(f"/tickets/{ticket.pk}/sla-override", body)
    _problem(blank, 422, "reason", SLA_OVERRIDE_REASON_REQUIRED)
    _token, customer = _client("customer")
    body["reason"] = "Mine"
    by_customer = customer.post(f"/tickets/{ticket.pk}/sla-override", body)
    assert by_customer.status_code == 403, by_customer.content
    with tenant_context(acme):
        ticket.refresh_from_db()
    assert ticket.resolution_due_at is not None
