"""Deleting a company together with all its records, confirmed with an emailed code: the
flow through the pages, what it deletes and records, and every way it is refused."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.tests.twofactor_helpers import confirmed_action
from accounts.twofactor.action_codes import ACTION_CODE_INVALID, Action
from audit.events import Event
from audit.tests.streams import events_since, stream_head
from conftest import PASSWORD, sign_in_client
from desk import services as desk_services
from desk.models import Asset, Ticket, TicketAttachment, TicketMessage
from docrequests import services as docrequest_services
from docrequests.models import DocumentRequest, RequestItem
from docrequests.models import Upload as DocumentRequestUpload
from kernel import capabilities as caps
from kernel.roles import Role
from rbac import services as rbac_services
from rbac.models import Invitation, Membership
from shop import selectors, services, storage
from shop.models import Company, Contact, Invoice, Order, Quote, QuoteLine, StoredFile
from shop.tests.factories import (
    TINY_PDF,
    line,
    make_company,
    make_file,
    make_invoice,
    make_order,
    make_quote,
    upload_of,
)

pytestmark = pytest.mark.django_db

EXPECTED_COUNTS = {
    "contacts": 1,
    "quotes": 2,
    "quote_lines": 3,
    "orders": 1,
    "invoices": 1,
    "files": 2,
    "people": 2,
    "invitations": 1,
    # The service desk's records of the company (desk's company_records declaration).
    "tickets": 1,
    "ticket_messages": 1,
    "ticket_attachments": 0,
    "assets": 1,
    # Document requests of the company (docrequests' company_records declaration).
    "document_requests": 1,
    "document_request_items": 1,
    "document_request_uploads": 1,
}


DESK_COUNTS = ("tickets", "ticket_messages", "ticket_attachments", "assets")
DOCUMENT_REQUEST_COUNTS = (
    "document_requests",
    "document_request_items",
    "document_request_uploads",
)


def url(name: str, pk: int) -> str:
    return reverse(f"shop:{name}", urlconf="config.urls_tenant", args=[pk])


def code_from_outbox() -> str:
    return re.search(r"^\s+(\d{6})$", mail.outbox[-1].body, re.M).group(1)


def company_rows(company: Company) -> dict[str, int]:
    """What is left of ``company`` (its own row included)."""
    return {
        "company": Company.objects.filter(pk=company.pk).count(),
        "contacts": Contact.objects.filter(company_id=company.pk).count(),
        "quotes": Quote.objects.filter(company_id=company.pk).count(),
        "quote_lines": QuoteLine.objects.filter(quote__company_id=company.pk).count(),
        "orders": Order.objects.filter(company_id=company.pk).count(),
        "invoices": Invoice.objects.filter(company_id=company.pk).count(),
        "files": StoredFile.objects.filter(company_id=company.pk).count(),
        "people": Membership.objects.filter(company_id=company.pk).count(),
        "invitations": Invitation.objects.filter(
            company_id=company.pk, revoked_at__isnull=True
        ).count(),
        "tickets": Ticket.objects.filter(company_id=company.pk).count(),
        "ticket_messages": TicketMessage.objects.filter(ticket__company_id=company.pk).count(),
        "ticket_attachments": TicketAttachment.objects.filter(
            ticket__company_id=company.pk
        ).count(),
        "assets": Asset.objects.filter(company_id=company.pk).count(),
        "document_requests": DocumentRequest.objects.filter(company_id=company.pk).count(),
        "document_request_items": RequestItem.objects.filter(
            request__company_id=company.pk
        ).count(),
        "document_request_uploads": DocumentRequestUpload.objects.filter(
            item__request__company_id=company.pk
        ).count(),
    }


@pytest.fixture
def doomed(in_acme, owner):
    """A company of acme with one record of every kind (its own, so deleting its stored files
    never touches the bytes of the shared seed), two of its people and an open invitation."""
    company = make_company(in_acme, name="Doomed Signs Ltd")
    services.contact_create(tenant=in_acme, actor=owner, company=company, name="Dora Doomed")
    draft = make_quote(in_acme, company=company, lines=[line(), line("Second line")])
    order = make_order(in_acme, company=company)
    invoice = make_invoice(in_acme, order=order)
    services.invoice_mark_paid(tenant=in_acme, actor=owner, invoice=invoice)  # paid goes too
    make_file(in_acme, company=company, quote=draft)
    make_file(in_acme, company=company, order=order, filename="order proof.pdf")
    for role in (Role.CUSTOMER, Role.COMPANY_ADMIN):
        user = User.objects.create_user(
            email=f"{role}@doomed.example", password=PASSWORD, full_name=f"Doomed {role}"
        )
        Membership.objects.create(user=user, tenant=in_acme, role=role, company_id=company.pk)
    asset = desk_services.asset_create(
        tenant=in_acme, actor=owner, company_id=company.pk, asset_type="Sign", name="Doomed LED"
    )
    ticket = desk_services.ticket_create(
        tenant=in_acme,
        actor=owner,
        company_id=company.pk,
        requester_name="Dora Doomed",
        subject="Sign is dark",
        description="Since Tuesday.",
        asset_ids=[asset.pk],
    )
    desk_services.ticket_reply(tenant=in_acme, actor=owner, ticket=ticket, body="On it.")
    issued = docrequest_services.document_request_create(
        tenant=in_acme,
        actor=owner,
        company_id=company.pk,
        recipients=["dora@doomed.example"],
        title="Doomed papers",
        items=[docrequest_services.ItemSpec("Contract")],
        lifetime_days=30,
    )
    docrequest_services.item_upload(
        tenant=in_acme,
        document_request=issued.document_request,
        item=issued.document_request.items.get(),
        email="dora@doomed.example",
        upload=docrequest_services.FileIn(upload_of(TINY_PDF), "contract.pdf"),
        ip="192.0.2.99",
    )
    rbac_services.membership_invite(
        tenant=in_acme,
        actor=owner,
        email="later@doomed.example",
        role=Role.CUSTOMER,
        company_id=company.pk,
    )
    assert company_rows(company) == {"company": 1, **EXPECTED_COUNTS}
    return company


@pytest.fixture
def request_code(django_capture_on_commit_callbacks):
    """request_code(client, company) -> the code the delete-all page emailed."""

    def send(client: Client, company: Company) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url("company-delete-all", company.pk), {"step": "send"})
        assert response.status_code == 200
        return code_from_outbox()

    return send


# --- The delete page offers it -------------------------------------------------------------


def test_delete_page_of_a_company_with_records_shows_the_counts_and_the_confirmed_deletion(
    doomed, client_for
):
    response = client_for("acme", "owner").get(url("company-delete", doomed.pk))
    assert response.status_code == 200
    body = response.content.decode()
    for text in (
        "2 quotes (with 3 lines)",
        "1 order",
        "1 invoice, paid ones included",
        "2 files and their stored contents",
        "1 contact",
        "2 people of this company lose access to the workspace",
        "1 open invitation withdrawn",
    ):
        assert text in body
    assert f'href="{url("company-delete-all", doomed.pk)}"' in body
    assert "Delete company and all its records" in body
    assert 'type="submit"' not in body.split("<article>")[1]  # no plain delete: it would fail


def test_delete_page_of_a_company_without_records_keeps_the_plain_delete(in_acme, client_for):
    company = make_company(in_acme, name="Empty Co")
    response = client_for("acme", "owner").get(url("company-delete", company.pk))
    assert response.status_code == 200
    assert url("company-delete-all", company.pk) not in response.content.decode()
    done = client_for("acme", "owner").post(url("company-delete", company.pk))
    assert done.status_code == 302
    assert not Company.objects.filter(pk=company.pk).exists()


def test_button_is_hidden_from_a_role_lacking_a_delete_capability_for_some_records(
    doomed, client_for, monkeypatch
):
    reduced = caps.ROLE_CAPABILITIES[Role.ADMIN] - {caps.INVOICES_DELETE}
    monkeypatch.setitem(caps.ROLE_CAPABILITIES, Role.ADMIN, reduced)
    response = client_for("acme", "admin").get(url("company-delete", doomed.pk))
    assert response.status_code == 200
    assert url("company-delete-all", doomed.pk) not in response.content.decode()
    assert "Your role cannot delete all of these records" in response.content.decode()


# --- The whole flow through the pages ------------------------------------------------------


def test_owner_deletes_company_and_all_its_records_with_the_emailed_code(
    doomed, acme, client_for, member, request_code, django_capture_on_commit_callbacks
):
    customer = User.objects.get(email=f"{Role.CUSTOMER}@doomed.example")
    customer_client = sign_in_client(Client(), customer, acme)
    assert customer_client.get("/").status_code == 200
    keys = list(StoredFile.objects.filter(company=doomed).values_list("storage_key", flat=True))
    keys += list(
        DocumentRequestUpload.objects.filter(item__request__company_id=doomed.pk).values_list(
            "storage_key", flat=True
        )
    )
    assert all(storage.private_storage().exists(key) for key in keys)
    client = client_for("acme", "owner")

    explain = client.get(url("company-delete-all", doomed.pk))
    assert explain.status_code == 200
    assert b"Delete Doomed Signs Ltd and all its records" in explain.content
    assert b"2 quotes (with 3 lines)" in explain.content
    code = request_code(client, doomed)
    assert mail.outbox[-1].to == ["owner@acme.example"]
    assert "Doomed Signs Ltd" in mail.outbox[-1].body

    head = stream_head(acme)
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        done = client.post(url("company-delete-all", doomed.pk), {"step": "confirm", "code": code})
    assert done.status_code == 302
    assert done["Location"] == reverse("shop:company-list", urlconf="config.urls_tenant")
    assert company_rows(doomed) == dict.fromkeys(["company", *EXPECTED_COUNTS], 0)
    # The bytes stay until the deletion has committed, then go.
    assert all(storage.private_storage().exists(key) for key in keys)
    for callback in after_commit:
        callback()
    assert not any(storage.private_storage().exists(key) for key in keys)

    events = events_since(acme, head)
    assert Counter(Event(e.event_type) for e in events) == Counter(
        {
            Event.ACTION_CODE_CONFIRMED: 1,
            Event.FILE_DELETED: 2,
            Event.INVOICE_DELETED: 1,
            Event.ORDER_DELETED: 1,
            Event.QUOTE_DELETED: 2,
            Event.QUOTE_LINE_DELETED: 3,
            Event.CONTACT_DELETED: 1,
            Event.TICKET_DELETED: 1,  # its conversation goes with it
            Event.ASSET_DELETED: 1,
            Event.DOCUMENT_REQUEST_DELETED: 1,  # its items and upload go with it
            Event.MEMBER_REMOVED: 2,
            Event.SESSIONS_ENDED: 1,  # the customer who was signed in
            Event.MEMBER_INVITATION_REVOKED: 1,
            Event.COMPANY_DELETED: 1,
            Event.COMPANY_DELETED_WITH_RECORDS: 1,
        }
    )
    summary = events[-1]
    assert summary.event_type == Event.COMPANY_DELETED_WITH_RECORDS
    assert (summary.target_type, summary.target_id, summary.target_label) == (
        "shop.company",
        str(doomed.pk),
        "Doomed Signs Ltd",
    )
    assert summary.additional_data == {"counts": EXPECTED_COUNTS}
    assert summary.actor_email == "owner@acme.example"
    assert {e.actor_email for e in events} == {"owner@acme.example"}

    # The company's people lost access at once.
    after = customer_client.get("/")
    assert after.status_code == 302
    assert after["Location"].startswith(reverse("accounts:sign-in", urlconf="config.urls_tenant"))
    assert not Membership.objects.filter(user=customer, tenant=acme).exists()


def test_wrong_code_is_refused_with_400_and_deletes_nothing(doomed, acme, client_for, request_code):
    client = client_for("acme", "owner")
    code = request_code(client, doomed)
    wrong = "000000" if code != "000000" else "111111"
    head = stream_head(acme)
    response = client.post(url("company-delete-all", doomed.pk), {"step": "confirm", "code": wrong})
    assert response.status_code == 400
    assert ACTION_CODE_INVALID in response.content.decode()
    assert company_rows(doomed) == {"company": 1, **EXPECTED_COUNTS}
    assert [Event(e.event_type) for e in events_since(acme, head)] == [Event.ACTION_CODE_FAILED]


def test_a_code_for_deleting_company_x_does_not_delete_company_y(
    doomed, in_acme, client_for, request_code
):
    other = make_company(in_acme, name="Innocent Bystander")
    make_quote(in_acme, company=other)
    client = client_for("acme", "owner")
    code_for_doomed = request_code(client, doomed)
    request_code(client, other)  # Y has a live code of its own, just not this one
    response = client.post(
        url("company-delete-all", other.pk), {"step": "confirm", "code": code_for_doomed}
    )
    assert response.status_code == 400
    assert Company.objects.filter(pk=other.pk).exists()
    assert Quote.objects.filter(company=other).count() == 1
    # ... while it still works for the company it was sent for.
    done = client.post(
        url("company-delete-all", doomed.pk), {"step": "confirm", "code": code_for_doomed}
    )
    assert done.status_code == 302
    assert not Company.objects.filter(pk=doomed.pk).exists()


@pytest.mark.parametrize("role", ["manager", "sales", "accountant", "customer", "company_admin"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_role_without_companies_delete_gets_403(doomed, client_for, role, method):
    response = getattr(client_for("acme", role), method)(
        url("company-delete-all", doomed.pk), {"step": "send"} if method == "post" else {}
    )
    assert response.status_code == 403
    assert len(mail.outbox) == 0
    assert company_rows(doomed)["company"] == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_member_of_other_workspace_gets_the_missing_company_404_for_delete_all(
    doomed, acme, globex, member, method
):
    data = {"step": "send"} if method == "post" else {}
    on_acme_host = sign_in_client(Client(), member("globex", "owner"), acme)
    missing = getattr(on_acme_host, method)(url("company-delete-all", 999_999_999), data)
    response = getattr(on_acme_host, method)(url("company-delete-all", doomed.pk), data)
    assert response.status_code == missing.status_code == 404
    assert response.content == missing.content

    from django_tenants.utils import tenant_context

    with tenant_context(globex):
        assert not Company.objects.filter(pk=doomed.pk).exists()
    on_globex_host = sign_in_client(Client(), member("globex", "owner"), globex)
    missing = getattr(on_globex_host, method)(url("company-delete-all", 999_999_999), data)
    response = getattr(on_globex_host, method)(url("company-delete-all", doomed.pk), data)
    assert response.status_code == missing.status_code == 404
    assert response.content == missing.content
    assert len(mail.outbox) == 0


def test_a_company_gone_since_the_page_opened_is_the_missing_404(in_acme, client_for, request_code):
    company = make_company(in_acme, name="Gone Soon")
    make_quote(in_acme, company=company)
    client = client_for("acme", "owner")
    code = request_code(client, company)
    pk = company.pk
    Quote.objects.filter(company=company).delete()
    company.delete()
    missing = client.post(url("company-delete-all", 999_999_999), {"step": "confirm", "code": code})
    response = client.post(url("company-delete-all", pk), {"step": "confirm", "code": code})
    assert response.status_code == missing.status_code == 404
    assert response.content == missing.content


# --- The service refuses without exactly the right confirmation ----------------------------


def test_service_refuses_without_a_confirmation(doomed, in_acme, owner):
    with pytest.raises(PermissionDenied):
        services.company_delete_with_records(
            tenant=in_acme, actor=owner, company=doomed, confirmation=None
        )
    assert company_rows(doomed) == {"company": 1, **EXPECTED_COUNTS}


def test_service_refuses_a_confirmation_for_another_company_or_action_or_member(
    doomed, in_acme, owner, as_role, company_two
):
    def confirmed(actor, action, target):
        return confirmed_action(actor=actor, tenant=in_acme, action=action, target=target)

    mismatched = [
        confirmed(owner, Action.COMPANY_DELETE_WITH_RECORDS, company_two),
        confirmed(owner, Action.WORKSPACE_DELETE, in_acme),
        confirmed(owner, Action.OWNERSHIP_TRANSFER, doomed),
        confirmed(as_role("admin"), Action.COMPANY_DELETE_WITH_RECORDS, doomed),  # not the owner
    ]
    for confirmation in mismatched:
        with pytest.raises(PermissionDenied):
            services.company_delete_with_records(
                tenant=in_acme, actor=owner, company=doomed, confirmation=confirmation
            )
    assert company_rows(doomed) == {"company": 1, **EXPECTED_COUNTS}


def test_service_returns_the_counts_it_deleted(doomed, in_acme, owner):
    confirmation = confirmed_action(
        actor=owner, tenant=in_acme, action=Action.COMPANY_DELETE_WITH_RECORDS, target=doomed
    )
    records = services.company_delete_with_records(
        tenant=in_acme, actor=owner, company=doomed, confirmation=confirmation
    )
    assert records.as_data() == EXPECTED_COUNTS
    assert company_rows(doomed) == dict.fromkeys(["company", *EXPECTED_COUNTS], 0)


def test_service_refuses_a_role_without_companies_delete(doomed, in_acme, as_role):
    manager = as_role("manager")
    confirmation = confirmed_action(
        actor=manager, tenant=in_acme, action=Action.COMPANY_DELETE_WITH_RECORDS, target=doomed
    )
    with pytest.raises(PermissionDenied):
        services.company_delete_with_records(
            tenant=in_acme, actor=manager, company=doomed, confirmation=confirmation
        )
    assert company_rows(doomed) == {"company": 1, **EXPECTED_COUNTS}


def test_service_needs_the_delete_capability_of_every_kind_of_record_it_removes(
    doomed, in_acme, as_role, monkeypatch
):
    admin = as_role("admin")
    monkeypatch.setitem(
        caps.ROLE_CAPABILITIES,
        Role.ADMIN,
        caps.ROLE_CAPABILITIES[Role.ADMIN] - {caps.INVOICES_DELETE},
    )
    confirmation = confirmed_action(
        actor=admin, tenant=in_acme, action=Action.COMPANY_DELETE_WITH_RECORDS, target=doomed
    )
    with pytest.raises(PermissionDenied, match="invoices:delete"):
        services.company_delete_with_records(
            tenant=in_acme, actor=admin, company=doomed, confirmation=confirmation
        )
    assert company_rows(doomed) == {"company": 1, **EXPECTED_COUNTS}


def test_capabilities_needed_follow_the_kinds_of_records_present():
    assert services.company_delete_with_records_capabilities(
        selectors.CompanyRecords(contacts=3)
    ) == {caps.COMPANIES_DELETE}
    declared_kinds = DESK_COUNTS + DOCUMENT_REQUEST_COUNTS
    shop_counts = {k: v for k, v in EXPECTED_COUNTS.items() if k not in declared_kinds}
    desk_counts = tuple((k, EXPECTED_COUNTS[k]) for k in declared_kinds)
    assert services.company_delete_with_records_capabilities(
        selectors.CompanyRecords(**shop_counts, declared=desk_counts)
    ) == {
        caps.TICKETS_DELETE,
        caps.ASSETS_DELETE,
        caps.DOCREQUESTS_MANAGE,
        caps.COMPANIES_DELETE,
        caps.QUOTES_DELETE,
        caps.ORDERS_DELETE,
        caps.INVOICES_DELETE,
        caps.FILES_DELETE,
        caps.MEMBERS_MANAGE,
        caps.MEMBERS_INVITE,
    }


def test_service_for_a_company_already_gone_raises_the_missing_404(in_acme, owner):
    company = make_company(in_acme, name="Already Gone")
    confirmation = confirmed_action(
        actor=owner, tenant=in_acme, action=Action.COMPANY_DELETE_WITH_RECORDS, target=company
    )
    services.company_delete(tenant=in_acme, actor=owner, company=company)
    with pytest.raises(Http404, match=selectors.NOT_FOUND):
        services.company_delete_with_records(
            tenant=in_acme, actor=owner, company=company, confirmation=confirmation
        )


def test_a_failure_midway_deletes_nothing_and_keeps_every_stored_file(
    doomed, in_acme, owner, monkeypatch, django_capture_on_commit_callbacks
):
    keys = list(StoredFile.objects.filter(company=doomed).values_list("storage_key", flat=True))
    confirmation = confirmed_action(
        actor=owner, tenant=in_acme, action=Action.COMPANY_DELETE_WITH_RECORDS, target=doomed
    )

    def fail(**kwargs):
        raise RuntimeError("revoking failed")

    monkeypatch.setattr(rbac_services, "invitation_revoke", fail)
    with (
        django_capture_on_commit_callbacks(execute=True) as after_commit,
        pytest.raises(RuntimeError),
    ):
        services.company_delete_with_records(
            tenant=in_acme, actor=owner, company=doomed, confirmation=confirmation
        )
    assert after_commit == []
    assert company_rows(doomed) == {"company": 1, **EXPECTED_COUNTS}
    assert all(storage.private_storage().exists(key) for key in keys)
