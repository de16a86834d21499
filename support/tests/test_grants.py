"""The owner's side: granting, revoking, expiry and the off switch, audited and emailed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from audit.events import Event
from audit.models import AuditEvent
from rbac.models import Membership
from support import services
from support.models import SupportAccessGrant
from support.tests.factories import grant_for, owner_membership

pytestmark = pytest.mark.django_db


def _events(in_tenant, tenant, event: Event):
    with in_tenant(tenant):
        return list(AuditEvent.objects.filter(event_type=int(event)))


def test_owner_grants_access_from_settings_page(
    client_for, acme, in_tenant, django_capture_on_commit_callbacks
):
    client = client_for("acme", "owner")
    assert client.get("/settings/support/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/settings/support/", {"hours": "24", "allow_write": "on", "ticket_ref": "SUP-7"}
        )
    assert response.status_code == 302
    grant = SupportAccessGrant.objects.filter(tenant=acme).latest("pk")
    assert grant.allow_write
    assert grant.ticket_ref == "SUP-7"
    assert timedelta(hours=23, minutes=59) < grant.ends_at - grant.starts_at <= timedelta(hours=24)
    [event] = _events(in_tenant, acme, Event.SUPPORT_ACCESS_GRANTED)
    assert event.actor_email == "owner@acme.example"
    assert [message.to for message in mail.outbox] == [["owner@acme.example"]]
    assert "Support access granted" in mail.outbox[0].subject


def test_grant_window_must_be_between_one_hour_and_seven_days(acme):
    for hours in (0, 7 * 24 + 1):
        with pytest.raises(ValidationError) as error:
            grant_for(acme, hours=hours)
        assert error.value.messages == [services.GRANT_HOURS_INVALID]


def test_member_without_capability_cannot_grant(client_for, acme):
    assert client_for("acme", "manager").get("/settings/support/").status_code == 403
    manager = Membership.objects.get(tenant=acme, role="manager")
    with pytest.raises(PermissionDenied):
        services.grant_create(tenant=acme, actor=manager, hours=1, allow_write=False)


def test_owner_revokes_a_grant(client_for, acme, in_tenant, django_capture_on_commit_callbacks):
    grant = grant_for(acme)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("acme", "owner").post(f"/settings/support/grants/{grant.pk}/revoke/")
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    assert len(_events(in_tenant, acme, Event.SUPPORT_ACCESS_REVOKED)) == 1
    assert "Support access revoked" in mail.outbox[0].subject


def test_other_workspace_cannot_revoke_a_grant(client_for, acme):
    grant = grant_for(acme)
    assert (
        client_for("globex", "owner")
        .post(f"/settings/support/grants/{grant.pk}/revoke/")
        .status_code
        == 404
    )


def test_expiry_is_audited_and_emailed_once(acme, in_tenant, django_capture_on_commit_callbacks):
    grant = grant_for(acme)
    SupportAccessGrant.objects.filter(pk=grant.pk).update(ends_at=timezone.now())
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.grants_expire() == 1
        assert services.grants_expire() == 0
    [event] = _events(in_tenant, acme, Event.SUPPORT_ACCESS_EXPIRED)
    assert event.actor_kind == "system"
    assert len(mail.outbox) == 1
    assert "expired" in mail.outbox[0].subject


def test_switching_support_off_revokes_grants_and_refuses_new_ones(client_for, acme, in_tenant):
    grant = grant_for(acme)
    response = client_for("acme", "owner").post("/settings/support/access/", {"enabled": "0"})
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    assert services.support_access_disabled(acme)
    assert len(_events(in_tenant, acme, Event.SUPPORT_ACCESS_DISABLED)) == 1
    with pytest.raises(ValidationError) as error:
        grant_for(acme)
    assert error.value.messages == [services.ACCESS_DISABLED]
    services.support_access_set(tenant=acme, actor=owner_membership(acme), enabled=True)
    assert grant_for(acme).pk
