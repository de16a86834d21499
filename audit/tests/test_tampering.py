"""An attacker with full database rights (the embedded superuser) disables the trigger and
edits, deletes, inserts or re-orders rows; ``audit_verify`` names the first bad event.

The test database is shared with the session's seeded workspaces, and the attacker's
connection only sees committed rows, so these tests use a workspace of their own, committed
outside the per-test transaction, restore its rows after each tampering, and drop it at the end.
The attacker switches the trigger off for their own session (``session_replication_role``,
superuser only): ``ALTER TABLE ... DISABLE TRIGGER`` would wait for the test transaction's
read lock on the table.
"""

from __future__ import annotations

import io
import os
from contextlib import contextmanager
from urllib.parse import urlparse, urlunparse

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from audit.events import Event
from audit.services import Target, audit_event_record
from audit.tests.streams import committed_workspace

LAB_EVENTS = 6
TABLE = "audit_auditevent"

pytestmark = [
    # The mark also makes pytest-django create the test database when this module runs alone.
    pytest.mark.django_db,
    pytest.mark.skipif(
        not os.environ.get("EMBEDDED_POSTGRES"),
        reason="needs the embedded server's superuser to play the privileged attacker",
    ),
]


@pytest.fixture(scope="module")
def attacker(django_db_setup):
    """A psycopg connection to the TEST database as the embedded superuser."""
    import psycopg

    from config.embedded import privileged_database_url

    url = urlparse(privileged_database_url())
    test_database = settings.DATABASES["default"]["NAME"]
    conn = psycopg.connect(urlunparse(url._replace(path="/" + test_database)))
    with conn.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (True,)
    yield conn
    conn.close()


@contextmanager
def lab_workspace(slug: str, django_db_blocker, attacker):
    """A committed workspace whose stream holds LAB_EVENTS events; its rows are copied into
    the attacker's temporary ``lab_backup`` table so each test can restore them."""
    with committed_workspace(slug, django_db_blocker) as tenant:
        with django_db_blocker.unblock(), tenant_context(tenant):
            for number in range(1, LAB_EVENTS + 1):
                audit_event_record(
                    event_type=Event.MEMBER_ADDED,
                    target=Target("t", str(number), f"row {number}"),
                    data={"n": number},
                )
        with attacker.cursor() as cursor:
            cursor.execute(f"SET search_path = {tenant.schema_name}")
            cursor.execute("CREATE TEMP TABLE lab_backup AS SELECT * FROM audit_auditevent")
        attacker.commit()
        yield tenant


@pytest.fixture(scope="module")
def lab(django_db_setup, django_db_blocker, attacker):
    with lab_workspace("tamper-lab", django_db_blocker, attacker) as tenant:
        yield tenant


@contextmanager
def tampered(attacker, *statements):
    """Commit the attacker's statements with the trigger off for them; restore afterwards."""
    _as_attacker_without_trigger(attacker, *statements)
    try:
        yield
    finally:
        _as_attacker_without_trigger(
            attacker,
            "DELETE FROM audit_auditevent",
            "INSERT INTO audit_auditevent SELECT * FROM lab_backup",
        )


def _as_attacker_without_trigger(attacker, *statements) -> None:
    with attacker.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        for statement in statements:
            cursor.execute(statement)
        cursor.execute("SET session_replication_role = origin")
    attacker.commit()


def verify(django_db_blocker, *args) -> tuple[int, str]:
    out = io.StringIO()
    with django_db_blocker.unblock():
        try:
            call_command("audit_verify", *args, stdout=out)
        except CommandError as error:
            return error.returncode, out.getvalue()
    return 0, out.getvalue()


def lab_row(attacker, sequence: int) -> dict:
    with attacker.cursor() as cursor:
        cursor.execute("SELECT id, hash FROM audit_auditevent WHERE sequence = %s", [sequence])
        row_id, digest = cursor.fetchone()
    return {"id": row_id, "hash": digest}


def test_untouched_stream_verifies_and_prints_its_head(lab, attacker, django_db_blocker):
    code, out = verify(django_db_blocker, "--workspace", "tamper-lab")
    assert code == 0
    head = f"{LAB_EVENTS}:{lab_row(attacker, LAB_EVENTS)['hash']}"
    assert out == f"tamper-lab: OK, {LAB_EVENTS} events, head {head}\n"


def test_all_streams_of_the_seeded_database_verify(lab, django_db_blocker):
    code, out = verify(django_db_blocker, "--all")
    assert code == 0
    assert [line.split(":")[0] for line in out.splitlines()] == [
        "platform",
        "acme",
        "globex",
        "tamper-lab",
    ]


def test_superuser_is_refused_too_while_the_trigger_is_on(lab, attacker):
    import psycopg

    for sql in (
        "UPDATE audit_auditevent SET target_label = 'x'",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            attacker.execute(sql)
        attacker.rollback()


def test_edited_row_is_named(lab, attacker, django_db_blocker):
    third = lab_row(attacker, 3)
    with tampered(
        attacker, "UPDATE audit_auditevent SET target_label = 'row 99' WHERE sequence = 3"
    ):
        code, out = verify(django_db_blocker, "--workspace", "tamper-lab")
    assert code == 1
    assert f"BROKEN at event #3 (id {third['id']}): content does not match its hash" in out


def test_deleted_row_is_named_by_the_next_one(lab, attacker, django_db_blocker):
    fourth = lab_row(attacker, 4)
    with tampered(attacker, "DELETE FROM audit_auditevent WHERE sequence = 3"):
        code, out = verify(django_db_blocker, "--workspace", "tamper-lab")
    assert code == 1
    assert f"BROKEN at event #4 (id {fourth['id']}): event 3 is missing (deleted row)" in out


def test_inserted_row_is_named(lab, attacker, django_db_blocker):
    second = lab_row(attacker, 2)
    renumber = [
        "UPDATE audit_auditevent SET sequence = sequence + 1000 WHERE sequence >= 3",
        "UPDATE audit_auditevent SET sequence = sequence - 999 WHERE sequence >= 1000",
    ]
    columns = (
        "changes, timestamp, additional_data, event_type, outcome, action, actor_kind, "
        "actor_name, actor_email, on_behalf_of_name, on_behalf_of_email, remote_addr, user_agent, "
        "request_id, target_type, target_id, prev_hash, hash, actor_id, on_behalf_of_id"
    )
    # A copy of the (renumbered) third event, linked to the second, slipped in at #3.
    forge = (
        f"INSERT INTO audit_auditevent (sequence, target_label, {columns}) "  # noqa: S608 - test constants
        f"SELECT 3, 'forged row', {columns} FROM audit_auditevent WHERE sequence = 4"
    )
    with tampered(attacker, *renumber, forge):
        with attacker.cursor() as cursor:
            cursor.execute("SELECT id FROM audit_auditevent WHERE target_label = 'forged row'")
            (forged_id,) = cursor.fetchone()
        code, out = verify(django_db_blocker, "--workspace", "tamper-lab")
    assert code == 1
    assert f"BROKEN at event #3 (id {forged_id})" in out
    assert second["id"] != forged_id


def test_reordered_rows_are_named_at_the_earlier_position(lab, attacker, django_db_blocker):
    fifth = lab_row(attacker, 5)
    swap = [
        "UPDATE audit_auditevent SET sequence = 1002 WHERE sequence = 2",
        "UPDATE audit_auditevent SET sequence = 2 WHERE sequence = 5",
        "UPDATE audit_auditevent SET sequence = 5 WHERE sequence = 1002",
    ]
    with tampered(attacker, *swap):
        code, out = verify(django_db_blocker, "--workspace", "tamper-lab")
    assert code == 1
    assert f"BROKEN at event #2 (id {fifth['id']})" in out


def test_deleted_newest_rows_are_caught_against_a_head_kept_elsewhere(
    lab, attacker, django_db_blocker
):
    head = f"{LAB_EVENTS}:{lab_row(attacker, LAB_EVENTS)['hash']}"
    with tampered(attacker, "DELETE FROM audit_auditevent WHERE sequence >= 5"):
        assert verify(django_db_blocker, "--workspace", "tamper-lab")[0] == 0
        code, out = verify(django_db_blocker, "--workspace", "tamper-lab", "--expect-head", head)
    assert code == 1
    assert "BROKEN at event #5: events 5..6 were recorded earlier and are gone" in out


COLUMNS = {
    "event_type": "event_type + 1",
    "outcome": "'failure'",
    "actor_email": "'mallory@example.com'",
    "actor_id": "coalesce(actor_id, 0) + 1",
    "remote_addr": "'10.6.6.6'",
    "request_id": "request_id || 'x'",
    "target_label": "target_label || '!'",
    "timestamp": "timestamp + interval '1 microsecond'",
    "additional_data": """'{"n": 0}'::jsonb""",
    "changes": """'{"name": ["a", "b"]}'::jsonb""",
    "prev_hash": "repeat('a', 64)",
    "hash": "repeat('b', 64)",
}


@hypothesis_settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=st.integers(1, LAB_EVENTS), column=st.sampled_from(sorted(COLUMNS)))
def test_any_column_of_any_row_edited_in_the_database_is_named(
    lab, attacker, django_db_blocker, sequence, column
):
    edited = lab_row(attacker, sequence)
    statement = (
        f"UPDATE audit_auditevent SET {column} = {COLUMNS[column]} "  # noqa: S608 - test constants
        f"WHERE sequence = {sequence}"
    )
    with tampered(attacker, statement):
        code, out = verify(django_db_blocker, "--workspace", "tamper-lab")
    assert code == 1
    assert f"BROKEN at event #{sequence} (id {edited['id']})" in out


def _recompute_from(attacker, start: int, link) -> None:
    """What an attacker with the table but not the key does after an edit: recompute every
    link from ``start`` with ``link(event) -> (chain_version, key_id, hash)``."""
    from audit.chain import GENESIS_HASH
    from audit.models import AuditEvent

    with attacker.cursor() as cursor:
        cursor.execute("SELECT * FROM audit_auditevent ORDER BY sequence")
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    previous = rows[start - 2]["hash"] if start > 1 else GENESIS_HASH
    statements = []
    for row in rows[start - 1 :]:
        event = AuditEvent(**row)
        event.prev_hash = previous
        event.chain_version, event.key_id, event.hash = link(event)
        previous = event.hash
        statements.append(
            f"UPDATE audit_auditevent SET prev_hash = '{event.prev_hash}', "  # noqa: S608 - hex digests we made
            f"hash = '{event.hash}', chain_version = {event.chain_version}, "
            f"key_id = '{event.key_id}' WHERE sequence = {event.sequence}"
        )
    _as_attacker_without_trigger(attacker, *statements)


def test_every_event_written_now_is_keyed_under_the_current_key(lab, attacker):
    with attacker.cursor() as cursor:
        cursor.execute("SELECT DISTINCT chain_version, key_id FROM audit_auditevent")
        assert cursor.fetchall() == [(2, "test-1")]


@pytest.mark.parametrize("rewrite", ["sha256", "wrong key", "unknown key id"])
def test_an_edit_with_the_whole_chain_recomputed_without_the_key_is_named(
    lab, attacker, django_db_blocker, rewrite
):
    import hashlib
    import hmac

    from audit.chain import LEGACY, canonical_bytes, content_sha256

    def link(event):
        if rewrite == "sha256":
            event.chain_version, event.key_id = LEGACY, ""
            return LEGACY, "", content_sha256(event)
        if rewrite == "unknown key id":
            event.key_id = "mallory"
        mac = hmac.new(b"m" * 32, canonical_bytes(event), hashlib.sha256).hexdigest()
        return event.chain_version, event.key_id, mac

    third = lab_row(attacker, 3)
    edit = "UPDATE audit_auditevent SET actor_email = 'member@example.com' WHERE sequence = 3"
    with tampered(attacker, edit):
        _recompute_from(attacker, 3, link)
        code, out = verify(django_db_blocker, "--workspace", "tamper-lab")
    assert code == 1
    assert f"BROKEN at event #3 (id {third['id']})" in out
    reason = {
        "sha256": "unkeyed (version 1) event after the chain became keyed",
        "wrong key": "recomputed without the chain key",
        "unknown key id": "key id 'mallory' is not configured",
    }[rewrite]
    assert reason in out


def test_a_whole_stream_recomputed_with_plain_sha256_is_named(lab, attacker, django_db_blocker):
    from audit.chain import LEGACY, content_sha256

    def link(event):
        event.chain_version, event.key_id = LEGACY, ""
        return LEGACY, "", content_sha256(event)

    with tampered(attacker, "UPDATE audit_auditevent SET target_label = 'x' WHERE sequence = 1"):
        _recompute_from(attacker, 1, link)
        code, out = verify(django_db_blocker, "--workspace", "tamper-lab")
    assert code == 1
    assert "BROKEN at event #1: events 1..6 are all unkeyed (version 1)" in out


def test_events_under_a_rotated_out_key_keep_verifying(lab, attacker, django_db_blocker):
    """Rotation: the first events were linked under "test-old", later ones under "test-1";
    both ids stay configured, so the whole stream verifies."""
    from audit.keys import chain_keys

    keys = chain_keys()

    def link(event):
        import hashlib
        import hmac

        from audit.chain import canonical_bytes

        event.key_id = "test-old" if event.sequence <= 3 else "test-1"
        mac = hmac.new(keys[event.key_id], canonical_bytes(event), hashlib.sha256).hexdigest()
        return event.chain_version, event.key_id, mac

    with tampered(attacker):
        _recompute_from(attacker, 1, link)  # what a deployment rotating after #3 would hold
        code, out = verify(django_db_blocker, "--workspace", "tamper-lab")
    assert code == 0, out
