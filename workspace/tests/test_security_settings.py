"""The owner's workspace Security settings page and the settings index."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from audit.tests.streams import events_since, stream_head
from conftest import sign_in_client
from rbac.models import Membership
from tenants.models import Tenant
from workspace import settings_services

pytestmark = pytest.mark.django_db

VALID = {
    "session_idle_minutes": "30",
    "session_absolute_hours": "8",
    "first_sign_in_password_change": "",  # unchecked
}


def test_defaults_are_two_hours_idle_twelve_hours_absolute_and_the_change_rule_on(acme):
    assert (acme.session_idle_minutes, acme.session_absolute_hours) == (120, 12)
    assert acme.first_sign_in_password_change is True


def test_owner_sees_the_current_settings(client_for):
    response = client_for("acme", "owner").get("/settings/security/")
    assert response.status_code == 200
    assert b'name="session_idle_minutes" value="120"' in response.content
    assert b'name="session_absolute_hours" value="12"' in response.content


def test_owner_saves_settings_and_the_change_is_audited_field_by_field(acme, client_for):
    head = stream_head(acme)
    response = client_for("acme", "owner").post("/settings/security/", VALID)
    assert response.status_code == 302
    assert response["Location"] == "/settings/security/"
    saved = Tenant.objects.get(pk=acme.pk)
    assert (saved.session_idle_minutes, saved.session_absolute_hours) == (30, 8)
    assert saved.first_sign_in_password_change is False
    (event,) = events_since(acme, head)
    assert event.event_name == "workspace.security_settings.changed"
    assert event.actor_email == "owner@acme.example"
    assert event.changes == {
        "session_idle_minutes": [120, 30],
        "session_absolute_hours": [12, 8],
        "first_sign_in_password_change": [True, False],
    }


def test_saving_unchanged_settings_records_nothing(acme, client_for):
    head = stream_head(acme)
    client_for("acme", "owner").post(
        "/settings/security/",
        {
            "session_idle_minutes": "120",
            "session_absolute_hours": "12",
            "first_sign_in_password_change": "on",
        },
    )
    assert events_since(acme, head) == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("session_idle_minutes", "4", settings_services.IDLE_OUT_OF_BOUNDS),
        ("session_idle_minutes", "1441", settings_services.IDLE_OUT_OF_BOUNDS),
        ("session_idle_minutes", "-5", settings_services.IDLE_OUT_OF_BOUNDS),
        ("session_absolute_hours", "0", settings_services.ABSOLUTE_OUT_OF_BOUNDS),
        ("session_absolute_hours", "721", settings_services.ABSOLUTE_OUT_OF_BOUNDS),
        ("session_idle_minutes", "soon", "Enter a whole number."),
    ],
)
def test_out_of_bounds_values_are_form_errors_next_to_the_field(
    acme, client_for, field, value, message
):
    head = stream_head(acme)
    response = client_for("acme", "owner").post("/settings/security/", {**VALID, field: value})
    assert response.status_code == 400
    assert f'id="id_{field}_error"'.encode() in response.content
    assert message.encode() in response.content
    saved = Tenant.objects.get(pk=acme.pk)
    assert (saved.session_idle_minutes, saved.session_absolute_hours) == (120, 12)
    assert events_since(acme, head) == []


def test_idle_timeout_longer_than_the_session_is_refused(client_for):
    response = client_for("acme", "owner").post(
        "/settings/security/",
        {**VALID, "session_idle_minutes": "600", "session_absolute_hours": "2"},
    )
    assert response.status_code == 400
    assert settings_services.IDLE_LONGER_THAN_ABSOLUTE.encode() in response.content


def test_the_bounds_hold_in_the_service_and_the_database_too(acme, member):
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, transaction

    owner = Membership.objects.get(user=member("acme", "owner"), tenant=acme)
    with pytest.raises(ValidationError) as refused:
        settings_services.workspace_security_settings_update(
            actor=owner,
            session_idle_minutes=2,
            session_absolute_hours=800,
            first_sign_in_password_change=True,
        )
    assert set(refused.value.error_dict) == {"session_idle_minutes", "session_absolute_hours"}
    with pytest.raises(IntegrityError), transaction.atomic():
        Tenant.objects.filter(pk=acme.pk).update(session_idle_minutes=2)


@pytest.mark.parametrize("role", ["manager", "employee", "accountant"])
def test_members_without_settings_security_get_403(client_for, role):
    client = client_for("acme", role)
    assert client.get("/settings/security/").status_code == 403
    assert client.post("/settings/security/", VALID).status_code == 403


def test_the_service_checks_the_capability_again(acme, member):
    manager = Membership.objects.get(user=member("acme", "manager"), tenant=acme)
    with pytest.raises(PermissionDenied):
        settings_services.workspace_security_settings_update(
            actor=manager,
            session_idle_minutes=30,
            session_absolute_hours=8,
            first_sign_in_password_change=True,
        )


def test_admin_may_change_security_settings(client_for):
    assert client_for("acme", "admin").post("/settings/security/", VALID).status_code == 302


def test_settings_index_is_open_to_members_and_links_only_what_they_may_use(client_for):
    owner = client_for("acme", "owner").get("/settings/")
    employee = client_for("acme", "employee").get("/settings/")
    assert owner.status_code == employee.status_code == 200
    assert b'href="/settings/security/"' in owner.content
    assert b'href="/settings/security/"' not in employee.content
    assert b'href="/accounts/security/"' in employee.content


def test_owner_menu_links_to_security_settings(client_for):
    assert b'href="/settings/security/"' in client_for("acme", "owner").get("/").content
    assert b'href="/settings/security/"' not in client_for("acme", "sales").get("/").content


def test_another_workspaces_owner_gets_the_missing_page_404(acme, member, client_for):
    missing = client_for("acme", "owner").get("/no-such-page/")
    outsider = sign_in_client(Client(), member("globex", "owner"), acme)
    for path in ("/settings/", "/settings/security/"):
        for method in ("get", "post"):
            response = getattr(outsider, method)(path, VALID if method == "post" else None)
            assert response.status_code == 404, (method, path)
            assert response.content == missing.content, (method, path)
    assert Tenant.objects.get(pk=acme.pk).session_idle_minutes == 120
