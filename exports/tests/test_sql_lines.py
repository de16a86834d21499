"""PostgreSQL writes the records (COPY), byte for byte as the Python encoder would: every
entity, with values chosen to catch any difference in escaping, number, time and JSON
formatting, in the workspace's own database context."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import User
from audit.events import Event
from audit.models import AuditEvent
from audit.services import Target, audit_event_record
from exports import archive, sql_lines
from exports.format import entities, entity_for
from shop.models import Company, Quote, StoredFile
from tenants.workspace_roles import workspace_role_name

pytestmark = pytest.mark.django_db

AWKWARD = 'quote " backslash \\ slash / tab \t newline \n nul-ish \x01\x1f del \x7f é 😀 \u2028'


def _context(tenant) -> archive.ArchiveContext:
    return archive.ArchiveContext(tenant=tenant, export_id="x", exported_at=timezone.now())


def _by_postgresql(entity, tenant) -> bytes:
    query = sql_lines.line_query(entity, tenant)
    assert query is not None, entity.label
    return b"".join(block for block, _ in sql_lines.copy_lines(*query))


def _by_python(entity, tenant) -> bytes:
    return b"".join(archive._python_chunks(entity, _context(tenant)))


def _awkward_records(tenant) -> None:
    company = Company.objects.create(name=AWKWARD, notes="", email="a@b.example")
    Company.objects.filter(pk=company.pk).update(
        created_at=dt.datetime(999, 1, 2, 3, 4, 5, tzinfo=dt.UTC),  # no microseconds, year < 1000
        updated_at=dt.datetime(2031, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    )
    Quote.objects.create(
        company=company,
        number="Q-AWK-1",
        title="",
        tax_rate=Decimal("0"),
        subtotal=Decimal("123456789012345678.90"),
        tax_amount=Decimal("0.01"),
        total=Decimal("0.10"),
        valid_until=dt.date(2, 3, 4),
    )
    for key in (
        f"{tenant.schema_name}/files/abc",
        "elsewhere/files/def",
        f"{tenant.schema_name}/other",
        "files/ghi",
        "",
    ):
        StoredFile.objects.create(
            company=company,
            kind="artwork",
            original_filename=AWKWARD[:50],
            content_type="application/pdf",
            extension="pdf",
            size=1,
            sha256="0" * 64,
            storage_key=key,
        )
    gone = User.objects.create_user("gone@example.com", None, full_name="Gone")
    audit_event_record(
        event_type=Event.MEMBER_ADDED,
        actor=gone,
        target=Target("thing", "1", AWKWARD[:100]),
        changes={
            "name": [AWKWARD, None],
            "nested": {"b": [1, -2, 10**20, True, False, None, {}, []], "a": {"z": "x, y: z"}},
            "": "empty key",
            "long key that sorts later in jsonb": 0,
        },
        data={"list": [], "object": {}, "spaces": "  a  :  b  ,  c  "},
    )
    gone.delete()  # the event keeps its actor id: the email is null now


def test_postgresql_writes_every_entity_byte_for_byte_as_python_does(acme):
    with tenant_context(acme):
        _awkward_records(acme)
        compared = []
        for entity in entities():
            assert not sql_lines.python_needed(entity, acme), entity.label
            by_postgresql = _by_postgresql(entity, acme)
            assert by_postgresql == _by_python(entity, acme), entity.label
            compared.append((entity.label, by_postgresql.count(b"\n")))
    counts = dict(compared)
    assert counts["shop.company"] >= 1
    assert counts["shop.storedfile"] >= 5
    assert counts["audit.auditevent"] >= 1
    assert counts["rbac.membership"] >= 1


def test_the_copy_runs_in_the_workspaces_own_database_role_and_schema(acme):
    with tenant_context(acme):
        lines = b"".join(
            block
            for block, _ in sql_lines.copy_lines(
                "SELECT current_user || ' ' || current_schema()", ()
            )
        )
    role = workspace_role_name(connection.settings_dict["NAME"], acme.schema_name)
    assert lines == f"{role} {acme.schema_name}\n".encode()


def test_a_json_value_holding_a_fraction_is_written_by_python_with_the_same_bytes(acme):
    entity = entity_for("audit.auditevent")
    with tenant_context(acme):
        head = AuditEvent.objects.order_by("-sequence").first()
        # Not through the audit helper (json_safe would make it a string): a row as someone
        # with INSERT could write it.
        AuditEvent.objects.bulk_create(
            [
                AuditEvent(
                    sequence=head.sequence + 1,
                    prev_hash=head.hash,
                    hash="f" * 64,
                    event_type=int(Event.MEMBER_ADDED),
                    actor_kind="system",
                    timestamp=timezone.now(),
                    changes={"ratio": 1.50, "tiny": 0.00001, "whole": 100.0},
                )
            ]
        )
        assert sql_lines.python_needed(entity, acme)
        written = b"".join(archive._entity_chunks(entity, _context(acme)))
        assert written == _by_python(entity, acme)
        assert b'"ratio":1.5,' in written
