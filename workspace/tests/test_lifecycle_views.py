"""The owner's Cancel workspace and Delete workspace now pages, and the cancelled banner."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import formats, timezone

from accounts.twofactor.action_codes import ACTION_CODE_INVALID
from audit.events import Event
from audit.tests.streams import events_since, stream_head
from conftest import sign_in_client
from kernel.roles import Role
from rbac.models import Membership
from tenants.models import Domain, Tenant
from tenants.selectors import public_url
from workspace.lifecycle import (
    ARCHIVE_DAYS,
    EXPORT_WINDOW_DAYS,
    TYPED_SLUG_MISMATCH,
    schema_drop_proof,
)
from workspace.lifecycle.proof import schema_oid

pytestmark = pytest.mark.django_db

CANCEL = "/settings/cancel/"
DELETE = "/settings/delete/"
NOT_OWNERS = [role.value for role in Role if role != Role.OWNER]


def _day(moment) -> str:
    return formats.date_format(timezone.localtime(moment), "j F Y")


def _emailed_code() -> str:
    return re.search(r"^\s+(\d{6})$", mail.outbox[-1].body, re.M).group(1)


def _fresh(tenant: Tenant) -> Tenant:
    return Tenant.objects.get(pk=tenant.pk)


@pytest.fixture
def restore_acme(acme):
    """acme is shared by the whole session: whatever a test does to its state is undone."""
    before = (acme.state, acme.billing_status)
    yield acme
    connection.set_schema_to_public()
    tenant = _fresh(acme)
    tenant.state, tenant.billing_status = before
    tenant.cancelled_at = tenant.archived_at = tenant.purge_requested_at = None
    tenant.lifecycle_notices = []
    tenant.save()  # save(), not update(): the signal drops the cached host lookup


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """send(client, path, **data): ask for the emailed code; the email goes out on commit."""

    def post(client: Client, path: str, **data):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(path, {"step": "send", **data})

    return post


@pytest.fixture
def cancel_with_emailed_code(send):
    def cancel(client: Client):
        assert send(client, CANCEL).status_code == 200
        return client.post(CANCEL, {"step": "confirm", "code": _emailed_code()})

    return cancel


# --- Who may open the pages


def test_owner_sees_what_cancelling_today_means_with_the_dates_and_the_export(client_for):
    before = timezone.now()
    response = client_for("acme", "owner").get(CANCEL)
    assert response.status_code == 200
    page = response.content.decode()
    archive_at = before + timedelta(days=EXPORT_WINDOW_DAYS)
    purge_at = archive_at + timedelta(days=ARCHIVE_DAYS)
    assert f"until {_day(archive_at)}" in page
    assert f"On {_day(archive_at)} it is archived" in page
    assert f"On {_day(purge_at)} it is permanently deleted" in page
    assert 'href="/settings/exports/"' in page
    assert "Email me a confirmation code" in page


def test_owner_sees_the_delete_page_with_the_export_offered_first(client_for):
    response = client_for("acme", "owner").get(DELETE)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.index('href="/settings/exports/"') < page.index('name="typed_slug"')
    assert '<label for="id_typed_slug">' in page


def test_settings_index_links_both_pages_for_the_owner_only(client_for):
    owner_page = client_for("acme", "owner").get("/settings/").content.decode()
    admin_page = client_for("acme", "admin").get("/settings/").content.decode()
    assert f'href="{CANCEL}"' in owner_page
    assert f'href="{DELETE}"' in owner_page
    assert CANCEL not in admin_page
    assert DELETE not in admin_page


@pytest.mark.parametrize("role", NOT_OWNERS)
@pytest.mark.parametrize("path", [CANCEL, DELETE])
def test_members_who_are_not_owners_get_403(client_for, send, role, path):
    client = client_for("acme", role)
    assert client.get(path).status_code == 403
    assert send(client, path).status_code == 403
    assert mail.outbox == []


@pytest.mark.parametrize("path", [CANCEL, DELETE])
def test_member_of_other_workspace_gets_the_same_404_as_a_missing_page(
    acme, member, client_for, path
):
    outsider = sign_in_client(Client(), member("globex", "owner"), acme)
    missing = client_for("acme", "owner").get("/settings/no-such-page/")
    for response in (outsider.get(path), outsider.post(path, {"step": "send"})):
        assert response.status_code == 404
        assert response.content == missing.content
    assert _fresh(acme).state == Tenant.State.ACTIVE


# --- Cancelling


def test_owner_cancels_with_the_emailed_code_and_every_member_sees_the_dates(
    restore_acme, client_for, cancel_with_emailed_code
):
    acme = restore_acme
    head = stream_head(acme)
    owner = client_for("acme", "owner")
    response = cancel_with_emailed_code(owner)
    assert response.status_code == 302
    assert response["Location"] == "/settings/"

    cancelled = _fresh(acme)
    assert cancelled.state == Tenant.State.CANCELLED
    assert cancelled.billing_status == Tenant.BillingStatus.CANCELLED
    archive_at = cancelled.cancelled_at + timedelta(days=EXPORT_WINDOW_DAYS)
    purge_at = archive_at + timedelta(days=ARCHIVE_DAYS)
    events = [e.event_name for e in events_since(acme, head)]
    assert "workspace.cancelled" in events

    banner = (
        f"This workspace is cancelled and read-only; archived on {_day(archive_at)}, "
        f"permanently deleted on {_day(purge_at)}."
    )
    settings_page = owner.get("/settings/").content.decode()
    assert banner in settings_page
    assert f"until {_day(archive_at)}" in settings_page  # the success message
    owner_banner = settings_page[settings_page.index('id="cancelled-banner"') :]
    assert 'href="/settings/exports/"' in owner_banner.split("</div>")[0]

    employee_home = client_for("acme", "employee").get("/").content.decode()
    assert banner in employee_home
    assert 'role="alert" id="cancelled-banner"' in employee_home
    employee_banner = employee_home[employee_home.index('id="cancelled-banner"') :]
    assert "/settings/exports/" not in employee_banner.split("</div>")[0]


def test_cancel_page_of_a_cancelled_workspace_shows_the_dates_instead_of_the_form(
    restore_acme, client_for, send, cancel_with_emailed_code
):
    owner = client_for("acme", "owner")
    cancel_with_emailed_code(owner)
    cancelled = _fresh(restore_acme)
    archive_at = cancelled.cancelled_at + timedelta(days=EXPORT_WINDOW_DAYS)
    response = owner.get(CANCEL)
    assert response.status_code == 200
    page = response.content.decode()
    assert "This workspace is already cancelled" in page
    assert f"export its data until {_day(archive_at)}" in page
    assert "Email me a confirmation code" not in page
    # A stale tab posting again changes nothing and says why.
    sent = len(mail.outbox)
    again = send(owner, CANCEL)
    assert again.status_code == 409
    assert "This workspace is already cancelled" in again.content.decode()
    assert len(mail.outbox) == sent
    assert _fresh(restore_acme).cancelled_at == cancelled.cancelled_at


def test_wrong_code_answers_400_and_nothing_changes(restore_acme, client_for, send):
    acme = restore_acme
    head = stream_head(acme)
    owner = client_for("acme", "owner")
    send(owner, CANCEL)
    wrong = "000000" if _emailed_code() != "000000" else "111111"
    response = owner.post(CANCEL, {"step": "confirm", "code": wrong})
    assert response.status_code == 400
    assert ACTION_CODE_INVALID in response.content.decode()
    assert _fresh(acme).state == Tenant.State.ACTIVE
    assert _fresh(acme).cancelled_at is None
    assert "workspace.cancelled" not in [e.event_name for e in events_since(acme, head)]


def test_confirming_after_the_workspace_was_cancelled_elsewhere_answers_409(
    restore_acme, client_for, send, cancel_with_emailed_code
):
    owner = client_for("acme", "owner")
    send(owner, CANCEL)
    code = _emailed_code()
    other_tab = client_for("acme", "owner")
    assert cancel_with_emailed_code(other_tab).status_code == 302
    response = owner.post(CANCEL, {"step": "confirm", "code": code})
    assert response.status_code == 409
    assert "This workspace is already cancelled" in response.content.decode()


# --- Deleting now


def test_typed_slug_mismatch_answers_400_with_the_field_error_and_nothing_changes(
    acme, client_for, send
):
    owner = client_for("acme", "owner")
    response = send(owner, DELETE, typed_slug="acme-typo")
    assert response.status_code == 400
    page = response.content.decode()
    assert f'<ul class="errorlist" id="id_typed_slug_error"><li>{TYPED_SLUG_MISMATCH}' in page
    assert mail.outbox == []  # no code is sent for a typo
    assert _fresh(acme).state == Tenant.State.ACTIVE


def test_a_code_for_the_slug_cannot_be_used_with_a_different_slug(acme, client_for, send):
    owner = client_for("acme", "owner")
    assert send(owner, DELETE, typed_slug="acme").status_code == 200
    response = owner.post(
        DELETE, {"step": "confirm", "code": _emailed_code(), "typed_slug": "globex"}
    )
    assert response.status_code == 400
    assert TYPED_SLUG_MISMATCH in response.content.decode()
    assert _fresh(acme).state == Tenant.State.ACTIVE


@pytest.fixture
def throwaway_workspace(db):
    """A workspace of its own with one owner, for the tests that delete one for real."""
    from accounts.models import User
    from tenants.services import tenant_provision

    tenant = tenant_provision(slug="closing-down", name="Closing Down Signs")
    owner = User.objects.create_user(
        email="owner@closing-down.example", password="x" * 16, full_name="Clo Sing"
    )
    Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
    connection.set_schema_to_public()
    yield tenant, owner
    # Normally already purged; rolling back the test's transaction removes anything left.
    connection.set_schema_to_public()


def test_owner_deletes_the_workspace_now_and_its_host_is_gone(
    throwaway_workspace, send, django_capture_on_commit_callbacks
):
    tenant, owner = throwaway_workspace
    client = sign_in_client(Client(), owner, tenant)
    assert client.get(DELETE).status_code == 200
    code_page = send(client, DELETE, typed_slug=tenant.slug)
    assert code_page.status_code == 200
    assert 'name="typed_slug" value="closing-down"' in code_page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            DELETE, {"step": "confirm", "code": _emailed_code(), "typed_slug": tenant.slug}
        )
    assert response.status_code == 302
    assert response["Location"] == public_url("/")
    assert settings.SESSION_COOKIE_NAME not in client.cookies or not (
        client.cookies[settings.SESSION_COOKIE_NAME].value
    )

    connection.set_schema_to_public()
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    assert not Domain.objects.filter(tenant_id=tenant.pk).exists()
    assert not Membership.objects.filter(tenant_id=tenant.pk).exists()
    # The schema is the owner side's to drop (its own connection cannot see this test's
    # uncommitted receipt): it waits, unreachable, with the receipt that proves its drop.
    receipt = schema_drop_proof(schema_name=tenant.schema_name, oid=schema_oid(tenant.schema_name))
    assert receipt.target_id == str(tenant.pk)

    unknown = Client(HTTP_HOST="no-such-shop.localhost").get("/")
    for visitor in (client, Client(HTTP_HOST=f"{tenant.slug}.localhost")):
        gone = visitor.get("/")
        assert gone.status_code == 404
        assert gone.content == unknown.content


def test_owner_can_delete_a_cancelled_workspace_now(
    throwaway_workspace, send, cancel_with_emailed_code, django_capture_on_commit_callbacks
):
    tenant, owner = throwaway_workspace
    client = sign_in_client(Client(), owner, tenant)
    assert cancel_with_emailed_code(client).status_code == 302
    assert _fresh(tenant).state == Tenant.State.CANCELLED
    assert client.get(DELETE).status_code == 200
    assert send(client, DELETE, typed_slug=tenant.slug).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            DELETE, {"step": "confirm", "code": _emailed_code(), "typed_slug": tenant.slug}
        )
    assert response.status_code == 302
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    assert Client(HTTP_HOST=f"{tenant.slug}.localhost").get("/").status_code == 404


def test_deletion_requested_is_audited_on_the_platform_stream(
    throwaway_workspace, send, django_capture_on_commit_callbacks
):
    from audit.models import AuditEvent

    tenant, owner = throwaway_workspace
    client = sign_in_client(Client(), owner, tenant)
    send(client, DELETE, typed_slug=tenant.slug)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(DELETE, {"step": "confirm", "code": _emailed_code(), "typed_slug": tenant.slug})
    connection.set_schema_to_public()
    requested = AuditEvent.objects.filter(
        event_type=Event.WORKSPACE_DELETION_REQUESTED, target_id=str(tenant.pk)
    )
    assert [e.actor_email for e in requested] == [owner.email]
