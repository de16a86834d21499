"""Shop records: every create/update/delete writes its event (with before -> after) through
django-auditlog into the workspace stream, in the service's transaction; downloads too."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from audit.registry import not_audited_labels
from audit.tests.streams import events_since, fail_after, stream_head, summary
from kernel.context import ActorKind, audit_context
from shop import services
from shop.models import Company, StoredFile
from shop.tests.factories import membership

pytestmark = pytest.mark.django_db
OWNER = "owner@acme.example"


@pytest.fixture
def as_owner(acme, member):
    with (
        tenant_context(acme),
        audit_context(actor_kind=ActorKind.USER, actor=member("acme", "owner")),
    ):
        yield membership(acme)


def test_company_create_update_delete_write_one_event_each_with_the_diff(acme, as_owner):
    head = stream_head(acme)
    company = services.company_create(
        tenant=acme, actor=as_owner, name="Bright Lights", phone="555"
    )
    company = services.company_update(
        tenant=acme, actor=as_owner, company=company, name="Brighter Lights", phone="555"
    )
    services.company_delete(tenant=acme, actor=as_owner, company=company)
    events = events_since(acme, head)
    assert summary(events) == [
        ("shop.company.created", "user", OWNER, "shop.company", "Bright Lights", "success"),
        ("shop.company.updated", "user", OWNER, "shop.company", "Brighter Lights", "success"),
        ("shop.company.deleted", "user", OWNER, "shop.company", "Brighter Lights", "success"),
    ]
    created, updated, deleted = events
    assert {e.target_id for e in events} == {str(company.pk)}
    assert (created.action, updated.action, deleted.action) == (0, 1, 2)
    assert created.changes["name"] == [None, "Bright Lights"]
    assert created.changes["phone"] == [None, "555"]
    assert updated.changes["name"] == ["Bright Lights", "Brighter Lights"]
    assert "phone" not in updated.changes  # unchanged fields are not in the diff
    assert deleted.changes["name"] == ["Brighter Lights", None]


def test_contact_changes_are_recorded_against_the_contact(acme, as_owner):
    company = Company.objects.get(name="Acme Customer One")
    head = stream_head(acme)
    contact = services.contact_create(tenant=acme, actor=as_owner, company=company, name="Pat")
    services.contact_delete(tenant=acme, actor=as_owner, contact=contact)
    assert [(e.event_name, e.target_type, e.target_label) for e in events_since(acme, head)] == [
        ("shop.contact.created", "shop.contact", "Pat"),
        ("shop.contact.deleted", "shop.contact", "Pat"),
    ]


def test_refused_or_rolled_back_change_writes_no_event(acme, as_owner):
    company = Company.objects.get(name="Acme Customer One")
    head = stream_head(acme)
    with pytest.raises(ValidationError):
        services.company_update(tenant=acme, actor=as_owner, company=company, name="  ")
    with pytest.raises(ValidationError):  # it has quotes: refused before anything is deleted
        services.company_delete(tenant=acme, actor=as_owner, company=company)
    with pytest.raises(RuntimeError):
        fail_after(lambda: services.company_create(tenant=acme, actor=as_owner, name="Never Was"))
    assert events_since(acme, head) == []


def test_change_made_through_a_page_carries_the_request_context(acme, client_for):
    client = client_for("acme", "sales")
    head = stream_head(acme)
    response = client.post(
        "/companies/new/",
        {"name": "Walk-in Customer"},
        HTTP_USER_AGENT="Safari/17",
        REMOTE_ADDR="192.0.2.10",
    )
    assert response.status_code == 302
    events = events_since(acme, head)
    assert summary(events) == [
        (
            "shop.company.created",
            "user",
            "sales@acme.example",
            "shop.company",
            "Walk-in Customer",
            "success",
        ),
    ]
    assert (events[0].remote_addr, events[0].user_agent, events[0].request_id) == (
        "192.0.2.10",
        "Safari/17",
        response["X-Request-ID"],
    )


def test_file_download_is_recorded_before_the_bytes_go_out(acme, client_for):
    with tenant_context(acme):
        stored = StoredFile.objects.order_by("pk").first()
    assert stored is not None, "the shop seed uploads files"
    head = stream_head(acme)
    response = client_for("acme", "employee").get(f"/files/{stored.pk}/download/")
    assert response.status_code == 200
    assert summary(events_since(acme, head)) == [
        (
            "shop.file.downloaded",
            "user",
            "employee@acme.example",
            "shop.storedfile",
            stored.original_filename,
            "success",
        ),
    ]


def test_every_shop_model_is_audited_except_the_listed_bookkeeping():
    from auditlog.registry import auditlog
    from django.apps import apps

    shop_models = {m._meta.label_lower: m for m in apps.get_app_config("shop").get_models()}
    unaudited = {label for label, model in shop_models.items() if not auditlog.contains(model)}
    assert "shop.numbersequence" in not_audited_labels()
    assert unaudited == set(not_audited_labels()) & set(shop_models)
