"""Shared pieces of the lifecycle tests: a throwaway workspace, the clock, stream reads, the
owner's decisions, and what a purge leaves behind."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection
from django_tenants.utils import schema_context, tenant_context

from accounts.models import User
from audit.models import AuditEvent
from kernel.roles import Role
from rbac.models import Invitation, Membership
from shop.models import Company
from tenants.models import Domain, Tenant
from tenants.services import tenant_provision
from tenants.workspace_roles import workspace_role_name
from workspace.lifecycle import schema_drop_proof, storage_keys, workspace_delete_now
from workspace.lifecycle.proof import event_problem, schema_oid

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
SLUG = "doomed-signs"
OWNER_EMAIL = "owner@doomed.example"
ADMIN_EMAIL = "admin@doomed.example"
FILE_BYTES = (1000, 500)  # one uploaded file, one export archive


def day(moment: datetime) -> str:
    """How the emails write a date."""
    return f"{moment.day} {moment:%B %Y}"


def stored_keys(tenant: Tenant) -> list[str]:
    return list(storage_keys(tenant.schema_name))


def workspace_with_data(slug: str, owner_email: str, admin_email: str) -> Tenant:
    """A fresh workspace with an owner, an admin, an invitation, a company and two files."""
    tenant = tenant_provision(slug=slug, name=slug.replace("-", " ").title())
    owner = User.objects.create_user(email=owner_email, password="x" * 12, full_name="Dora Owner")
    admin = User.objects.create_user(email=admin_email, password="x" * 12, full_name="Adam Admin")
    Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
    Membership.objects.create(user=admin, tenant=tenant, role=Role.ADMIN)
    Invitation.objects.create(
        tenant=tenant,
        email=f"new@{slug}.example",
        role=Role.SALES,
        token_digest=uuid.uuid4().hex * 2,
        invited_by=owner,
        expires_at=datetime.now(tz=UTC) + timedelta(days=7),
    )
    with tenant_context(tenant):
        Company.objects.create(name="Last Client Ltd")
    storage = storages["private"]
    storage.save(f"{tenant.schema_name}/files/{uuid.uuid4()}", ContentFile(b"f" * FILE_BYTES[0]))
    storage.save(
        f"{tenant.schema_name}/exports/{uuid.uuid4()}.zip", ContentFile(b"z" * FILE_BYTES[1])
    )
    connection.set_schema_to_public()
    return tenant


def storage_clean(schema_name: str) -> None:
    storage = storages["private"]
    for key in list(storage_keys(schema_name)):
        storage.delete(key)


def platform_events(tenant_id: int, event_type: int) -> list[AuditEvent]:
    with schema_context("public"):
        return list(
            AuditEvent.objects.filter(event_type=event_type, target_id=str(tenant_id)).order_by(
                "sequence"
            )
        )


def workspace_events(tenant: Tenant, event_type: int) -> list[AuditEvent]:
    with tenant_context(tenant):
        return list(AuditEvent.objects.filter(event_type=event_type).order_by("sequence"))


def schema_present(schema_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", [schema_name])
        in_catalog = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s",
            [schema_name],
        )
        in_information_schema = cursor.fetchone()[0]
    return bool(in_catalog or in_information_schema)


def role_present(schema_name: str) -> bool:
    role = workspace_role_name(connection.settings_dict["NAME"], schema_name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", [role])
        return cursor.fetchone()[0] == 1


def deletion_requested(tenant: Tenant, owner_email: str, capture) -> None:
    """The owner's "delete now" (the keyed decision a purge rests on), with the purge task it
    queues left unrun, so the test runs ``workspace_purge`` itself."""
    from accounts.tests.twofactor_helpers import confirmed_action
    from accounts.twofactor.action_codes import Action

    owner = Membership.objects.select_related("user").get(tenant=tenant, user__email=owner_email)
    confirmation = confirmed_action(
        actor=owner, tenant=tenant, action=Action.WORKSPACE_DELETE, target=tenant
    )
    with capture(execute=False):
        workspace_delete_now(
            tenant=tenant, actor=owner, confirmation=confirmation, typed_slug=tenant.slug
        )
    connection.set_schema_to_public()


def assert_purged(tenant: Tenant, *, schema_dropped: bool = False) -> dict:
    """Everything of the workspace the runtime purge removes is gone, and its receipt is in
    the platform stream; returns the receipt's counts.

    The schema is the owner side's to drop (workspace.lifecycle.schema_drop), on its own
    connection, which sees only committed rows. Inside a test's transaction it cannot see the
    receipt, so by default the schema is asserted to wait, unreachable, with a receipt that
    proves its drop; a test whose purge committed passes ``schema_dropped=True`` and the
    schema, its role and the drop event are asserted instead.
    """
    from audit.events import Event

    connection.set_schema_to_public()
    assert stored_keys(tenant) == []
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    assert not Domain.objects.filter(tenant_id=tenant.pk).exists()
    assert not Membership.objects.filter(tenant_id=tenant.pk).exists()
    assert not Invitation.objects.filter(tenant_id=tenant.pk).exists()
    receipts = platform_events(tenant.pk, Event.WORKSPACE_PURGED)
    assert len(receipts) == 1
    receipt = receipts[0]
    assert receipt.actor_kind == "system"
    assert receipt.additional_data["slug"] == tenant.slug
    assert receipt.additional_data["schema"] == tenant.schema_name
    assert receipt.additional_data["authorized_by"]["event"] in (
        "workspace.deletion_requested",
        "workspace.cancelled",
    )
    assert event_problem(receipt) is None
    drops = platform_events(tenant.pk, Event.WORKSPACE_SCHEMA_DROPPED)
    if schema_dropped:
        assert not schema_present(tenant.schema_name)
        assert not role_present(tenant.schema_name)
        (dropped,) = drops
        assert dropped.actor_kind == "system"
        assert dropped.additional_data == {
            "schema": tenant.schema_name,
            "schema_oid": receipt.additional_data["schema_oid"],
            "role": workspace_role_name(connection.settings_dict["NAME"], tenant.schema_name),
            "receipt_sequence": receipt.sequence,
        }
        assert dropped.sequence > receipt.sequence
        assert event_problem(dropped) is None
    else:
        oid = schema_oid(tenant.schema_name)
        assert oid is not None
        assert receipt.additional_data["schema_oid"] == oid
        assert schema_drop_proof(schema_name=tenant.schema_name, oid=oid) == receipt
        assert drops == []
    return receipt.additional_data["counts"]


def assert_counts_of_seeded_workspace(counts: dict) -> None:
    assert counts["files"] == 2
    assert counts["bytes"] == sum(FILE_BYTES)
    assert counts["members"] == 2
    assert counts["invitations"] == 1
    assert counts["domains"] == 1
    assert counts["records"]["shop.company"] == 1
    assert counts["records_total"] >= 1
    assert counts["audit_events"] >= 1  # the company's creation, at least
