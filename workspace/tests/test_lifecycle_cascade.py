"""The purge leaves the public rows to the declared cascades: a workspace with a support grant
and an impersonation session (whose grant is protected on its own) still goes completely, and
the platform stream keeps both the receipt and the events written before it."""

from __future__ import annotations

import pytest
from django.db.models import ProtectedError, RestrictedError
from django_tenants.utils import schema_context

from accounts.models import UserSession
from audit.events import Event
from audit.models import AuditEvent
from kernel.roles import Role
from rbac.models import Membership
from support import services as support_services
from support.models import (
    ImpersonationHandoff,
    ImpersonationSession,
    SupportAccessGrant,
    SupportAccessPolicy,
)
from support.tests.factories import grant_for, support_agent
from workspace.lifecycle import workspace_purge

from .lifecycle_helpers import (
    ADMIN_EMAIL,
    assert_counts_of_seeded_workspace,
    assert_purged,
    deletion_requested,
    platform_events,
    storage_clean,
    workspace_with_data,
)

pytestmark = pytest.mark.django_db

SLUG = "cascade-signs"


def platform_events_about(event_type: int) -> list[AuditEvent]:
    """The platform's events of ``event_type`` that name this test's workspace."""
    with schema_context("public"):
        return [
            event
            for event in AuditEvent.objects.filter(event_type=event_type).order_by("sequence")
            if (event.additional_data or {}).get("tenant") == SLUG
        ]


@pytest.fixture
def supported(db):
    """A workspace with data, a support grant and a live impersonation session of its admin."""
    tenant = workspace_with_data(SLUG, "owner@cascade.example", ADMIN_EMAIL)
    SupportAccessPolicy.objects.create(tenant=tenant)
    grant_for(tenant)
    admin = Membership.objects.get(tenant=tenant, role=Role.ADMIN)
    support_services.impersonation_start(
        agent=support_agent("agent@cascade.example"),
        tenant=tenant,
        acting_as_id=admin.pk,
        reason="Look at a quote",
        ticket_ref="SUP-9",
        write=False,
    )
    yield tenant
    storage_clean(tenant.schema_name)


def test_a_grant_with_sessions_cannot_be_deleted_on_its_own(supported):
    grant = SupportAccessGrant.objects.get(tenant=supported)
    with pytest.raises((ProtectedError, RestrictedError)):
        grant.delete()
    assert SupportAccessGrant.objects.filter(pk=grant.pk).exists()


def test_purge_removes_grants_sessions_and_hand_offs_through_the_cascades_and_keeps_the_receipt(
    supported, django_capture_on_commit_callbacks
):
    deletion_requested(supported, "owner@cascade.example", django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        receipt = workspace_purge(tenant_id=supported.pk)

    assert receipt is not None
    counts = assert_purged(supported)
    assert_counts_of_seeded_workspace(counts)
    assert counts["support_grants"] == 1
    assert counts["impersonation_sessions"] == 1
    for model in (
        SupportAccessGrant,
        ImpersonationSession,
        SupportAccessPolicy,
        UserSession,
    ):
        assert not model.objects.filter(tenant_id=supported.pk).exists()
    assert not ImpersonationHandoff.objects.filter(session__tenant_id=supported.pk).exists()
    # The platform stream is not cascaded: what happened before the purge is still there.
    (started,) = platform_events_about(Event.IMPERSONATION_STARTED)
    assert started.actor_kind == "support_agent"
    (receipt_event,) = platform_events(supported.pk, Event.WORKSPACE_PURGED)
    assert receipt_event.pk == receipt.audit_event_id
