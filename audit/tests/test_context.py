"""The audit context: REMOTE_ADDR unless our own proxies are declared; explicit contexts nest."""

from __future__ import annotations

import pytest
from celery import shared_task
from django.test import RequestFactory, override_settings
from django_tenants.utils import tenant_context

from audit.events import Event
from audit.models import AuditEvent
from audit.services import audit_event_record
from kernel.context import ActorKind, audit_context, audit_context_get, client_ip
from kernel.tasks import TenantTask


def _request(**meta):
    return RequestFactory().get("/", **meta)


def test_forwarded_header_is_ignored_unless_a_proxy_is_declared():
    request = _request(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert client_ip(request) == "10.0.0.5"


@override_settings(AUDIT_TRUSTED_PROXY_COUNT=1)
def test_with_one_proxy_the_address_it_saw_is_used_not_what_the_client_typed():
    request = _request(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert client_ip(request) == "203.0.113.7"


@override_settings(AUDIT_TRUSTED_PROXY_COUNT=2)
def test_fewer_forwarded_hops_than_proxies_falls_back_to_remote_addr():
    request = _request(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert client_ip(request) == "10.0.0.5"


@pytest.mark.parametrize(("raw", "stored"), [("not-an-ip", ""), ("2001:DB8::1", "2001:db8::1")])
def test_addresses_are_validated_and_normalised(raw, stored):
    assert client_ip(_request(REMOTE_ADDR=raw)) == stored


def test_outside_requests_the_system_acts_and_explicit_contexts_nest():
    assert audit_context_get().current_actor_kind() == ActorKind.SYSTEM
    with audit_context(request_id="task-1"):
        with audit_context(actor_kind=ActorKind.API_TOKEN):
            inner = audit_context_get()
            assert (inner.actor_kind, inner.request_id) == (ActorKind.API_TOKEN, "task-1")
        assert audit_context_get().actor_kind == ActorKind.SYSTEM
    assert audit_context_get().request_id == ""


@shared_task(base=TenantTask, bind=True)
def _record_from_a_task(self, *, tenant_schema: str) -> int:
    return audit_event_record(event_type=Event.MEMBER_REMOVED).pk


@pytest.mark.django_db
def test_a_task_records_as_the_system_even_when_queued_by_a_signed_in_user(acme, member):
    with audit_context(actor_kind=ActorKind.USER, actor=member("acme", "owner"), ip="192.0.2.1"):
        result = _record_from_a_task.delay(tenant_schema=acme.schema_name)
    with tenant_context(acme):
        event = AuditEvent.objects.get(pk=result.get())
    assert (event.actor_kind, event.actor_email, event.remote_addr) == (ActorKind.SYSTEM, "", "")
    assert event.request_id == result.id
