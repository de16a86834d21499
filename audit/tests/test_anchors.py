# ruff: noqa: F811 - the attacker fixture is imported from test_tampering and used by name
"""Anchored digests: ``audit_anchor`` writes a signed digest of each stream's head to object
storage, and ``audit_verify`` catches what the keyed chain alone cannot: a truncated tail and a
stream replaced by another valid one. The attacker holds the database (triggers off), not the
storage or the signing key. Same set-up as test_tampering: a committed workspace of our own."""

from __future__ import annotations

import io
import json
import os
import subprocess

import pytest
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from audit.anchors import (
    AnchorRefused,
    canonical,
    digest_latest,
    digest_names,
    digest_write,
    public_key_pem,
)
from audit.events import Event
from audit.services import audit_event_record
from audit.tests.streams import committed_workspace
from audit.tests.test_tampering import (  # noqa: F401 - fixtures
    LAB_EVENTS,
    _as_attacker_without_trigger,
    attacker,
    lab_workspace,
    tampered,
    verify,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not os.environ.get("EMBEDDED_POSTGRES"),
        reason="needs the embedded server's superuser to play the privileged attacker",
    ),
]


@pytest.fixture(scope="module")
def lab(django_db_setup, django_db_blocker, attacker):
    with lab_workspace("anchor-lab", django_db_blocker, attacker) as tenant:
        yield tenant


def anchor(django_db_blocker, *args) -> tuple[int, str]:
    out = io.StringIO()
    with django_db_blocker.unblock():
        try:
            call_command("audit_anchor", *args, stdout=out)
        except CommandError as error:
            return error.returncode, out.getvalue()
    return 0, out.getvalue()


def head(attacker) -> tuple[int, int, str]:
    with attacker.cursor() as cursor:
        cursor.execute("SELECT sequence, id, hash FROM audit_auditevent ORDER BY sequence DESC")
        return cursor.fetchone()


def test_anchoring_writes_a_signed_digest_of_the_head_under_the_workspaces_prefix(
    lab,
    attacker,
    django_db_blocker,
    tmp_path,
):
    code, out = anchor(django_db_blocker, "--workspace", "anchor-lab")
    assert code == 0, out
    digest = digest_latest(lab.schema_name)
    assert digest is not None
    assert digest.name.startswith(f"{lab.schema_name}/audit-digests/")
    assert out == f"anchor-lab: anchored {digest.name}\n"
    sequence, row_id, link = head(attacker)
    document = digest.document
    assert {k: document[k] for k in ("stream", "schema", "count", "last_sequence", "last_id")} == {
        "stream": "anchor-lab",
        "schema": lab.schema_name,
        "count": LAB_EVENTS,
        "last_sequence": sequence,
        "last_id": row_id,
    }
    assert document["last_link"] == link
    assert document["chain_key_id"] == "test-1"
    assert digest.document_bytes == canonical(document)
    assert digest.signature_ok
    # The published public key verifies it with openssl alone.
    (tmp_path / "key.pem").write_text(public_key_pem())
    (tmp_path / "digest.json").write_bytes(digest.document_bytes)
    (tmp_path / "digest.sig").write_bytes(digest.signature)
    result = subprocess.run(
        [  # noqa: S607 - openssl from PATH
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "key.pem",
            "-rawin",
            "-in",
            "digest.json",
            "-sigfile",
            "digest.sig",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Signature Verified Successfully" in result.stdout
    code, out = verify(django_db_blocker, "--workspace", "anchor-lab")
    assert code == 0
    assert out.endswith(f", matches digest {digest.name}\n")


def test_a_digest_name_is_never_overwritten(lab, django_db_blocker):
    anchor(django_db_blocker, "--workspace", "anchor-lab")
    digest = digest_latest(lab.schema_name)
    with pytest.raises(AnchorRefused, match="never overwritten"):
        digest_write(digest.document)
    with storages["private"].open(digest.name, "rb") as handle:
        assert handle.read() == digest.document_bytes


def test_a_truncated_tail_is_caught_by_the_digest(lab, attacker, django_db_blocker):
    anchor(django_db_blocker, "--workspace", "anchor-lab")
    with tampered(attacker, "DELETE FROM audit_auditevent WHERE sequence >= 5"):
        code, out = verify(django_db_blocker, "--workspace", "anchor-lab")
    assert code == 1
    assert "BROKEN at event #5: events 5..6 were recorded earlier and are gone" in out


@pytest.fixture(scope="module")
def other(django_db_setup, django_db_blocker):
    """Another committed workspace whose valid stream is longer than the lab's."""
    with committed_workspace("anchor-other", django_db_blocker) as tenant:
        with django_db_blocker.unblock(), tenant_context(tenant):
            for number in range(LAB_EVENTS + 2):
                audit_event_record(event_type=Event.MEMBER_REMOVED, data={"n": number})
        yield tenant


def test_a_stream_replaced_by_another_valid_stream_is_caught_by_the_digest(
    lab,
    other,
    attacker,
    django_db_blocker,
):
    anchor(django_db_blocker, "--workspace", "anchor-lab")
    sequence, _, _ = head(attacker)
    # Every link of the other workspace's stream is a valid HMAC under the real key.
    with tampered(
        attacker,
        "DELETE FROM audit_auditevent",
        f"INSERT INTO audit_auditevent SELECT * FROM {other.schema_name}.audit_auditevent",  # noqa: S608 - a schema name we made
    ):
        code, out = verify(django_db_blocker, "--workspace", "anchor-lab")
    assert code == 1
    assert f"BROKEN at event #{sequence}" in out
    assert "differs from the hash recorded for it earlier (stream rewritten)" in out


def test_a_forged_digest_does_not_verify(lab, django_db_blocker):
    anchor(django_db_blocker, "--workspace", "anchor-lab")
    digest = digest_latest(lab.schema_name)
    forged = {**digest.document, "count": 2, "last_sequence": 2, "time": "2999-01-01T00:00:00Z"}
    storage = storages["private"]
    name = f"{lab.schema_name}/audit-digests/29990101T000000000000Z-000000000002"
    storage.save(name + ".json", io.BytesIO(canonical(forged)))
    storage.save(name + ".sig", io.BytesIO(digest.signature))
    try:
        code, out = verify(django_db_blocker, "--workspace", "anchor-lab")
    finally:
        storage.delete(name + ".json")
        storage.delete(name + ".sig")
    assert code == 1
    assert f"anchor-lab: BROKEN: digest {name}.json: signature does not verify" in out


def test_a_broken_stream_is_refused_and_not_anchored(lab, attacker, django_db_blocker):
    before = digest_names(lab.schema_name)
    with tampered(attacker, "UPDATE audit_auditevent SET target_label = 'x' WHERE sequence = 2"):
        code, out = anchor(django_db_blocker, "--workspace", "anchor-lab")
    assert code == 1
    assert "anchor-lab: not anchored, chain broken at event #2" in out
    assert digest_names(lab.schema_name) == before


def test_beat_anchors_every_stream_each_under_its_own_prefix(lab, django_db_blocker):
    from django.conf import settings

    from audit.tasks import audit_anchor_all

    entry = settings.CELERY_BEAT_SCHEDULE["audit-anchor-all"]
    assert entry["task"] == "audit.tasks.audit_anchor_all"
    with django_db_blocker.unblock():
        anchored = audit_anchor_all()
        from tenants.models import Tenant

        schemas = [
            "public",
            *Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True),
        ]
    assert anchored == len(schemas)
    for schema_name in schemas:
        digest = digest_latest(schema_name)
        assert digest is not None
        assert digest.signature_ok
        assert digest.document["schema"] == schema_name


def test_unknown_workspace_is_a_clear_error(django_db_blocker):
    with django_db_blocker.unblock(), pytest.raises(CommandError, match="no workspace 'no-such"):
        call_command("audit_anchor", "--workspace", "no-such-shop", stdout=io.StringIO())


def test_digest_document_bytes_are_canonical_json():
    document = {"b": 1, "a": "x"}
    assert canonical(document) == b'{"a":"x","b":1}'
    assert json.loads(canonical(document)) == document


def test_a_truncated_stream_is_not_anchored_again_so_the_newest_digest_keeps_the_evidence(
    lab,
    attacker,
    django_db_blocker,
):
    anchor(django_db_blocker, "--workspace", "anchor-lab")
    before = digest_names(lab.schema_name)
    with tampered(attacker, "DELETE FROM audit_auditevent WHERE sequence >= 5"):
        code, out = anchor(django_db_blocker, "--workspace", "anchor-lab")
        assert code == 1
        assert "anchor-lab: not anchored, chain broken at event #5" in out
        assert digest_names(lab.schema_name) == before
        assert verify(django_db_blocker, "--workspace", "anchor-lab")[0] == 1


def test_each_digest_names_the_one_before_it(lab, django_db_blocker):
    import hashlib

    anchor(django_db_blocker, "--workspace", "anchor-lab")
    first = digest_latest(lab.schema_name)
    anchor(django_db_blocker, "--workspace", "anchor-lab")
    second = digest_latest(lab.schema_name)
    assert second.name != first.name
    assert second.document["previous_digest"] == hashlib.sha256(first.document_bytes).hexdigest()
