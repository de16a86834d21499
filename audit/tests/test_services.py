"""audit_event_record: what one event holds, which stream it lands in, and the chain it extends."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from accounts.models import User
from audit.chain import GENESIS_HASH, event_hash
from audit.events import Event
from audit.keys import chain_keys
from audit.models import AuditEvent, Outcome
from audit.services import PLATFORM_STREAM, Target, audit_event_record
from audit.tests.streams import events_since, fail_after, stream_head
from kernel.context import ActorKind, audit_context

pytestmark = pytest.mark.django_db


def test_event_outside_a_request_is_the_system_acting(acme):
    with tenant_context(acme):
        event = audit_event_record(event_type=Event.MEMBER_REMOVED, target=Target("x.y", "7", "Y"))
    assert (event.actor_kind, event.actor_id, event.actor_email) == (ActorKind.SYSTEM, None, "")
    assert (event.target_type, event.target_id, event.target_label) == ("x.y", "7", "Y")
    assert event.outcome == Outcome.SUCCESS


def test_explicit_context_stamps_actor_ip_user_agent_and_request_id(acme, member):
    owner = member("acme", "owner")
    with (
        tenant_context(acme),
        audit_context(
            actor_kind=ActorKind.USER,
            actor=owner,
            ip="203.0.113.9",
            user_agent="cli/1",
            request_id="req-12345678",
        ),
    ):
        event = audit_event_record(event_type=Event.MEMBER_ADDED, target=owner)
    assert event.actor_kind == ActorKind.USER
    assert (event.actor_id, event.actor_name, event.actor_email) == (
        owner.pk,
        "Acme Owner",
        "owner@acme.example",
    )
    assert (event.remote_addr, event.user_agent, event.request_id) == (
        "203.0.113.9",
        "cli/1",
        "req-12345678",
    )
    assert event.target_label == "Acme Owner <owner@acme.example>"


def test_event_lands_in_the_current_workspace_stream_only(acme, globex):
    acme_head, globex_head, public_head = (
        stream_head(acme),
        stream_head(globex),
        stream_head("public"),
    )
    with tenant_context(acme):
        audit_event_record(event_type=Event.MEMBER_ROLE_CHANGED)
    assert [e.event_type for e in events_since(acme, acme_head)] == [Event.MEMBER_ROLE_CHANGED]
    assert events_since(globex, globex_head) == []
    assert events_since("public", public_head) == []


def test_stream_argument_writes_elsewhere_and_switches_back(acme):
    public_head = stream_head("public")
    with tenant_context(acme):
        audit_event_record(event_type=Event.WORKSPACE_CREATED, stream=PLATFORM_STREAM)
        assert connection.schema_name == acme.schema_name  # type: ignore[attr-defined]
    assert [e.event_type for e in events_since("public", public_head)] == [Event.WORKSPACE_CREATED]


def test_each_event_links_to_the_previous_one_by_hash(acme):
    with tenant_context(acme):
        first = audit_event_record(event_type=Event.MEMBER_ADDED)
        second = audit_event_record(event_type=Event.MEMBER_REMOVED)
    assert second.sequence == first.sequence + 1
    assert second.prev_hash == first.hash
    assert second.hash == event_hash(second, chain_keys())
    with tenant_context(acme):
        stored = AuditEvent.objects.get(pk=second.pk)
    assert (
        event_hash(stored, chain_keys()) == second.hash
    )  # the database gives back what was hashed


def test_first_event_of_a_fresh_stream_starts_from_genesis():
    from tenants.services import tenant_provision

    fresh = tenant_provision(slug="genesis-shop", name="Genesis")
    with tenant_context(fresh):
        event = audit_event_record(event_type=Event.WORKSPACE_CREATED, target=fresh)
    assert (event.sequence, event.prev_hash) == (1, GENESIS_HASH)


def test_rolled_back_change_leaves_no_event(acme):
    head = stream_head(acme)
    with pytest.raises(RuntimeError), tenant_context(acme):
        fail_after(lambda: audit_event_record(event_type=Event.MEMBER_ADDED))
    assert events_since(acme, head) == []


def test_payloads_are_stored_so_the_hash_survives_the_round_trip(acme):
    data = {
        "amount": Decimal("12.50"),
        "id": uuid.UUID(int=5),
        "when": dt.date(2025, 1, 2),
        "ratio": 1e20,
        "nested": {"b": [1, None, True]},
        "nul": "a\x00b",
    }
    with tenant_context(acme):
        event = audit_event_record(event_type=Event.MEMBER_ADDED, data=data)
        stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.additional_data == {
        "amount": "12.50",
        "id": str(uuid.UUID(int=5)),
        "when": "2025-01-02",
        "ratio": "1e+20",
        "nested": {"b": [1, None, True]},
        "nul": "a\ufffdb",
    }
    assert event_hash(stored, chain_keys()) == stored.hash


def test_actor_snapshot_survives_the_users_deletion(acme):
    leaver = User.objects.create_user("leaver@example.com", "x" * 16, full_name="Lee Leaver")
    with tenant_context(acme), audit_context(actor_kind=ActorKind.USER, actor=leaver):
        event = audit_event_record(event_type=Event.MEMBER_REMOVED, target=leaver)
    # Raw delete: what matters is that no audit row refers to the user with a constraint or
    # needs an UPDATE (the ORM's cascade also walks the shop tables, which is shop's concern).
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_user WHERE id = %s", [leaver.pk])
    with tenant_context(acme):
        stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.actor_id, stored.actor_name, stored.actor_email) == (
        event.actor_id,
        "Lee Leaver",
        "leaver@example.com",
    )
    assert event_hash(stored, chain_keys()) == stored.hash
