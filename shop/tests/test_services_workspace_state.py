"""Every shop service that writes refuses a workspace that is not ACTIVE, by itself.

The gate already makes a cancelled workspace read-only for requests; these tests call the
services directly, as a task or a management command would, so nothing but the service's own
check stands between them and the data. Each case builds what its service needs while acme is
active, then cancels acme through a fresh copy of the row (the ``tenant`` the service gets is
the test's older copy, still saying ACTIVE, as a cached host lookup would) and shows that the
call is refused with the read-only message, leaves every row, stored file and audit event as
it was, and succeeds once acme is active again.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import timezone

from accounts.tests.twofactor_helpers import confirmed_action
from accounts.twofactor.action_codes import Action
from audit.tests.streams import events_since, stream_head
from rbac.models import Invitation, Membership
from shop import services, storage
from shop.models import Company, Invoice, Order, Quote
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
from tenants.models import Tenant
from tenants.writability import require_writable
from workspace.middleware import WORKSPACE_READ_ONLY_MESSAGE

pytestmark = pytest.mark.django_db

# A case builds its records (acme active) and returns the call to make; the call is made
# twice: refused while cancelled, then for real once active again.
Case = Callable[[Tenant, Membership], Callable[[], object]]


def _company_create(tenant, owner):
    return lambda: services.company_create(tenant=tenant, actor=owner, name="Read Only Signs")


def _company_update(tenant, owner):
    company = make_company(tenant, name="Before Cancel Co")
    return lambda: services.company_update(
        tenant=tenant, actor=owner, company=company, name="After Cancel Co"
    )


def _company_delete(tenant, owner):
    company = make_company(tenant, name="Not Deleted Co")
    return lambda: services.company_delete(tenant=tenant, actor=owner, company=company)


def _company_delete_with_records(tenant, owner):
    company = make_company(tenant, name="Kept With Records Co")
    make_quote(tenant, company=company)
    confirmation = confirmed_action(
        actor=owner, tenant=tenant, action=Action.COMPANY_DELETE_WITH_RECORDS, target=company
    )
    return lambda: services.company_delete_with_records(
        tenant=tenant, actor=owner, company=company, confirmation=confirmation
    )


def _contact_create(tenant, owner):
    company = make_company(tenant, name="Contactless Co")
    return lambda: services.contact_create(
        tenant=tenant, actor=owner, company=company, name="Pat Pending"
    )


def _contact_update(tenant, owner):
    company = make_company(tenant, name="Contact Kept Co")
    contact = services.contact_create(tenant=tenant, actor=owner, company=company, name="Pat")
    return lambda: services.contact_update(
        tenant=tenant, actor=owner, contact=contact, name="Patricia"
    )


def _contact_delete(tenant, owner):
    company = make_company(tenant, name="Contact Stays Co")
    contact = services.contact_create(tenant=tenant, actor=owner, company=company, name="Pat")
    return lambda: services.contact_delete(tenant=tenant, actor=owner, contact=contact)


def _quote_create(tenant, owner):
    company = make_company(tenant, name="Quoteless Co")
    return lambda: services.quote_create(
        tenant=tenant, actor=owner, company=company, title="Window decals", lines=[line()]
    )


def _quote_update(tenant, owner):
    # Replacing the lines is where quote lines are written (and deleted).
    company = make_company(tenant, name="Draft Kept Co")
    quote = make_quote(tenant, company=company)
    return lambda: services.quote_update(
        tenant=tenant,
        actor=owner,
        quote=quote,
        company=company,
        title="New title",
        tax_rate=quote.tax_rate,
        lines=[line("Replacement line"), line("Another line")],
    )


def _quote_delete(tenant, owner):
    quote = make_quote(tenant, company=make_company(tenant, name="Quote Stays Co"))
    return lambda: services.quote_delete(tenant=tenant, actor=owner, quote=quote)


def _quote_send(tenant, owner):
    quote = make_quote(tenant, company=make_company(tenant, name="Unsent Co"))
    return lambda: services.quote_send(
        tenant=tenant, actor=owner, quote=quote, notify_customer=False
    )


def _quote_accept(tenant, owner):
    quote = make_quote(
        tenant, company=make_company(tenant, name="Unaccepted Co"), status=Quote.Status.SENT
    )
    return lambda: services.quote_accept(tenant=tenant, actor=owner, quote=quote)


def _quote_decline(tenant, owner):
    quote = make_quote(
        tenant, company=make_company(tenant, name="Undeclined Co"), status=Quote.Status.SENT
    )
    return lambda: services.quote_decline(tenant=tenant, actor=owner, quote=quote)


def _order_create_from_quote(tenant, owner):
    quote = make_quote(
        tenant, company=make_company(tenant, name="Unordered Co"), status=Quote.Status.ACCEPTED
    )
    return lambda: services.order_create_from_quote(tenant=tenant, actor=owner, quote=quote)


def _order_update(tenant, owner):
    order = make_order(tenant, company=make_company(tenant, name="Order Kept Co"))
    return lambda: services.order_update(
        tenant=tenant,
        actor=owner,
        order=order,
        assignee=None,
        due_date=timezone.localdate() + timedelta(days=3),
        site_address="1 Changed Street",
    )


def _order_change_status(tenant, owner):
    order = make_order(tenant, company=make_company(tenant, name="Order Waits Co"))
    return lambda: services.order_change_status(
        tenant=tenant, actor=owner, order=order, status=Order.Status.IN_PROGRESS
    )


def _order_delete(tenant, owner):
    order = make_order(tenant, company=make_company(tenant, name="Order Stays Co"))
    return lambda: services.order_delete(tenant=tenant, actor=owner, order=order)


def _invoice_create_from_order(tenant, owner):
    order = make_order(tenant, company=make_company(tenant, name="Unbilled Co"))
    today = timezone.localdate()
    return lambda: services.invoice_create_from_order(
        tenant=tenant,
        actor=owner,
        order=order,
        issue_date=today,
        due_date=today + timedelta(days=30),
    )


def _open_invoice(tenant, name: str) -> Invoice:
    return make_invoice(tenant, order=make_order(tenant, company=make_company(tenant, name=name)))


def _invoice_update(tenant, owner):
    invoice = _open_invoice(tenant, "Invoice Kept Co")
    return lambda: services.invoice_update(
        tenant=tenant,
        actor=owner,
        invoice=invoice,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date + timedelta(days=7),
        notes="Later",
    )


def _invoice_mark_paid(tenant, owner):
    invoice = _open_invoice(tenant, "Unpaid Co")
    return lambda: services.invoice_mark_paid(tenant=tenant, actor=owner, invoice=invoice)


def _invoice_void(tenant, owner):
    invoice = _open_invoice(tenant, "Unvoided Co")
    return lambda: services.invoice_void(tenant=tenant, actor=owner, invoice=invoice)


def _invoice_delete(tenant, owner):
    invoice = _open_invoice(tenant, "Invoice Stays Co")
    return lambda: services.invoice_delete(tenant=tenant, actor=owner, invoice=invoice)


def _file_upload(tenant, owner):
    company = make_company(tenant, name="Fileless Co")
    return lambda: services.file_upload(
        tenant=tenant,
        actor=owner,
        company=company,
        upload=upload_of(TINY_PDF),
        filename="proof.pdf",
    )


def _file_delete(tenant, owner):
    stored = make_file(tenant, company=make_company(tenant, name="File Stays Co"))
    return lambda: services.file_delete(tenant=tenant, actor=owner, stored_file=stored)


WRITING_SERVICES: dict[str, Case] = {
    "company_create": _company_create,
    "company_update": _company_update,
    "company_delete": _company_delete,
    "company_delete_with_records": _company_delete_with_records,
    "contact_create": _contact_create,
    "contact_update": _contact_update,
    "contact_delete": _contact_delete,
    "quote_create": _quote_create,
    "quote_update": _quote_update,
    "quote_delete": _quote_delete,
    "quote_send": _quote_send,
    "quote_accept": _quote_accept,
    "quote_decline": _quote_decline,
    "order_create_from_quote": _order_create_from_quote,
    "order_update": _order_update,
    "order_change_status": _order_change_status,
    "order_delete": _order_delete,
    "invoice_create_from_order": _invoice_create_from_order,
    "invoice_update": _invoice_update,
    "invoice_mark_paid": _invoice_mark_paid,
    "invoice_void": _invoice_void,
    "invoice_delete": _invoice_delete,
    "file_upload": _file_upload,
    "file_delete": _file_delete,
}

# Public functions of shop.services that write nothing of the workspace's data, each with why.
NOT_WRITES = frozenset(
    {
        "company_delete_with_records_capabilities",  # computes a set
        "order_assignable_users",  # a queryset
        "file_record_download",  # reading, allowed when cancelled; records only its audit event
        "file_too_large_message",  # a message
        "human_size",  # formatting
        "validate_quantity",  # shared field rules
        "validate_unit_price",
        "validate_tax_rate",
    }
)


def workspace_snapshot(tenant: Tenant) -> dict[str, object]:
    """Every row of every shop model in ``tenant``'s schema (field by field, the number
    counters included), its people and invitations, and the stored files of its prefix."""
    snapshot: dict[str, object] = {
        model._meta.label: list(model.objects.order_by("pk").values())
        for model in apps.get_app_config("shop").get_models()
    }
    snapshot["memberships"] = list(Membership.objects.filter(tenant=tenant).order_by("pk").values())
    snapshot["invitations"] = list(Invitation.objects.filter(tenant=tenant).order_by("pk").values())
    root = storage.private_storage().path(tenant.schema_name)
    snapshot["stored"] = sorted(
        os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names
    )
    return snapshot


@pytest.fixture
def set_acme_state(acme):
    """set_acme_state(state) saves acme's row in ``state`` through a fresh copy, so the
    ``acme`` the test holds (and passes to services) keeps saying ACTIVE, like a cached host
    lookup. Acme is put back to ACTIVE in teardown whatever happens (the seeded workspaces
    are shared by the whole session)."""

    def set_state(state: str) -> None:
        row = Tenant.objects.get(pk=acme.pk)
        row.state = state
        row.save()

    try:
        yield set_state
    finally:
        connection.set_schema_to_public()
        set_state(Tenant.State.ACTIVE)


@pytest.mark.parametrize("service", sorted(WRITING_SERVICES))
def test_service_refuses_a_cancelled_workspace_writes_nothing_and_works_once_active(
    service, in_acme, owner, set_acme_state
):
    call = WRITING_SERVICES[service](in_acme, owner)
    set_acme_state(Tenant.State.CANCELLED)
    assert in_acme.state == Tenant.State.ACTIVE  # the stale copy the service is given
    before, head = workspace_snapshot(in_acme), stream_head(in_acme)

    with pytest.raises(PermissionDenied) as refused:
        call()

    assert refused.value.args == (services.WORKSPACE_READ_ONLY,)
    assert workspace_snapshot(in_acme) == before
    assert events_since(in_acme, head) == []

    set_acme_state(Tenant.State.ACTIVE)
    call()
    assert workspace_snapshot(in_acme) != before
    assert events_since(in_acme, head)


@pytest.mark.parametrize("state", [Tenant.State.ARCHIVED, Tenant.State.PURGING])
def test_closed_workspace_is_refused_like_a_cancelled_one(state, in_acme, owner, set_acme_state):
    set_acme_state(state)
    with pytest.raises(PermissionDenied) as refused:
        services.company_create(tenant=in_acme, actor=owner, name="Too Late Co")
    assert refused.value.args == (services.WORKSPACE_READ_ONLY,)
    assert not Company.objects.filter(name="Too Late Co").exists()


def test_read_only_message_is_the_gates(in_acme):
    assert services.WORKSPACE_READ_ONLY == WORKSPACE_READ_ONLY_MESSAGE


def test_cancelled_workspace_still_records_a_download(in_acme, owner, set_acme_state):
    stored = make_file(in_acme, company=make_company(in_acme, name="Download Co"))
    set_acme_state(Tenant.State.CANCELLED)
    head = stream_head(in_acme)
    services.file_record_download(tenant=in_acme, actor=owner, stored_file=stored)
    assert [event.event_name for event in events_since(in_acme, head)] == ["shop.file.downloaded"]


def test_every_shop_service_that_writes_is_checked_here():
    public = {
        name
        for name, function in inspect.getmembers(services, inspect.isfunction)
        if function.__module__ == services.__name__ and not name.startswith("_")
    }
    assert NOT_WRITES.issubset(public)  # the list names real functions
    assert public - NOT_WRITES == set(WRITING_SERVICES)


# --- A cancellation waits for the writes in flight


def test_a_write_holds_the_workspace_row_so_a_cancellation_waits_but_other_writes_do_not(
    acme, django_db_blocker
):
    """Inside a write's transaction the tenant row is held FOR SHARE: a lifecycle step (which
    locks the row FOR UPDATE) cannot commit in between, while another write (FOR SHARE) goes
    ahead. Probed from a second connection with NOWAIT, so the test never blocks."""
    import threading

    from django.db import OperationalError

    require_writable(
        acme
    )  # the check every shop write makes (_write); this test's transaction now holds the share
    assert Tenant._meta.db_table == "tenants_tenant"
    outcome: dict[str, object] = {}

    def probe() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM tenants_tenant WHERE id = %s FOR SHARE NOWAIT", [acme.pk]
                )
                outcome["share"] = cursor.fetchone()
                try:
                    cursor.execute(
                        "SELECT 1 FROM tenants_tenant WHERE id = %s FOR UPDATE NOWAIT", [acme.pk]
                    )
                    outcome["update"] = "granted"
                except OperationalError:
                    outcome["update"] = "refused"
        finally:
            connection.close()

    with django_db_blocker.unblock():
        thread = threading.Thread(target=probe)
        thread.start()
        thread.join(timeout=30)
    assert outcome == {"share": (1,), "update": "refused"}
