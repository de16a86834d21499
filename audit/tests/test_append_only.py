"""PostgreSQL refuses UPDATE, DELETE and TRUNCATE on the audit table to the application's role,
in every schema, including a workspace provisioned a moment ago from the template.

The application's (runtime) role holds only INSERT and SELECT there, so the privilege check
refuses first (``PRIVILEGE_REFUSED``); the triggers still refuse the owner role itself
(tenants/tests/test_roles.py)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context, tenant_context

from audit.events import Event
from audit.schema import append_only_triggers_present
from audit.services import audit_event_record
from tenants.services import ProvisioningError, tenant_provision

pytestmark = pytest.mark.django_db

PRIVILEGE_REFUSED = "permission denied for table audit_auditevent"
TAMPERING = (
    "UPDATE audit_auditevent SET target_label = 'nothing happened'",
    "DELETE FROM audit_auditevent",
    "TRUNCATE audit_auditevent",
)


def _refused(sql: str) -> str:
    with (
        pytest.raises(DatabaseError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    return str(refused.value)


def test_the_app_connects_as_a_role_without_superuser_or_bypassrls():
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)


@pytest.mark.parametrize("sql", TAMPERING)
@pytest.mark.parametrize("schema", ["public", "ws_acme"])
def test_app_role_cannot_change_or_remove_events(schema, sql):
    with schema_context(schema):
        audit_event_record(event_type=Event.MEMBER_ADDED)  # row triggers need a row to refuse
        assert PRIVILEGE_REFUSED in _refused(sql)


@pytest.mark.parametrize("sql", TAMPERING)
def test_app_role_cannot_reach_the_templates_events_at_all(sql):
    # The runtime role holds nothing on the template (the owner's triggers guard it as well).
    qualified = sql.replace("audit_auditevent", "tenant_template.audit_auditevent")
    assert "permission denied for schema tenant_template" in _refused(qualified)


def test_app_role_can_still_append_and_read(acme):
    with tenant_context(acme):
        event = audit_event_record(event_type=Event.MEMBER_ADDED)
        with connection.cursor() as cursor:
            cursor.execute("SELECT hash FROM audit_auditevent WHERE id = %s", [event.pk])
            assert cursor.fetchone() == (event.hash,)


def test_a_freshly_provisioned_workspace_has_the_triggers_and_they_bite():
    fresh = tenant_provision(slug="fresh-paint", name="Fresh Paint")
    assert append_only_triggers_present(fresh.schema_name)
    with tenant_context(fresh):
        audit_event_record(event_type=Event.WORKSPACE_CREATED, target=fresh)
        for sql in TAMPERING:
            assert PRIVILEGE_REFUSED in _refused(sql)


def test_provisioning_refuses_a_clone_without_the_triggers(owner_sql):
    """If the template ever lost them, new workspaces must not silently lack them too.

    Only the owner can take a trigger off (the runtime role is refused: test_roles.py); it
    does so committed, so the trigger is put back at the end."""
    template_table = f"{settings.TENANT_BASE_SCHEMA}.audit_auditevent"
    (definition,) = owner_sql.execute(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger"
        " WHERE tgrelid = %s::regclass AND tgname = 'audit_auditevent_append_only'",
        [template_table],
    ).fetchone()
    owner_sql.execute(f"DROP TRIGGER audit_auditevent_append_only ON {template_table}")
    try:
        with pytest.raises(ProvisioningError, match="append-only triggers"):
            tenant_provision(slug="no-triggers", name="No Triggers")
    finally:
        owner_sql.execute(definition)
