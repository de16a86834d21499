"""An owner downloads their workspace's signed digests and verifies an audit export offline,
following the documented procedure (docs/security-model.md) with openssl and a Python that
has nothing but its standard library."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from audit.anchoring import Stream, audit_stream_anchor
from audit.anchors import public_key_pem
from audit.events import Event
from audit.services import Target, audit_event_record
from audit.tests.streams import committed_workspace, events_since, stream_head
from conftest import sign_in_client

pytestmark = pytest.mark.django_db
DIGESTS = "/settings/audit/digests/"
EXPORT = "/settings/audit/export/"


@pytest.fixture(scope="module")
def anchored(django_db_setup, django_db_blocker):
    """A committed workspace with events and two digests (committed, so the digests stay true
    after each test's transaction rolls back)."""
    with committed_workspace("digest-shop", django_db_blocker) as tenant:
        stream = Stream(tenant.slug, tenant.schema_name, tenant)
        with django_db_blocker.unblock(), tenant_context(tenant):
            for number in range(3):
                audit_event_record(
                    event_type=Event.MEMBER_ADDED,
                    target=Target("t", str(number), f"Ünïcode row {number}"),
                    data={"n": number, "nested": {"ok": True}},
                    changes={"name": [None, f"row {number}"]},
                )
            audit_stream_anchor(stream=stream)
            audit_event_record(event_type=Event.MEMBER_REMOVED, data={"after": "first digest"})
            audit_stream_anchor(stream=stream)
        yield tenant


@pytest.fixture
def owner(anchored, member):
    from accounts.models import User
    from kernel.roles import Role
    from rbac.models import Membership

    user = User.objects.create_user("digest-owner@example.com", "x" * 16, full_name="Dee Owner")
    Membership.objects.create(user=user, tenant=anchored, role=Role.OWNER)
    return sign_in_client(Client(), user, anchored)


def _bundle(response) -> zipfile.ZipFile:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Cache-Control"] == "private, no-store"
    return zipfile.ZipFile(io.BytesIO(response.content))


def test_owner_downloads_the_digests_key_and_offline_verifier_and_the_download_is_audited(
    anchored, owner
):
    head = stream_head(anchored)
    bundle = _bundle(owner.get(DIGESTS))
    names = sorted(bundle.namelist())
    digests = [name for name in names if name.endswith(".json")]
    assert len(digests) == 2
    assert names == sorted(
        ["README.txt", "key.pem", "verify_export.py"]
        + digests
        + [name[: -len(".json")] + ".sig" for name in digests]
    )
    assert bundle.read("key.pem").decode() == public_key_pem()
    assert [json.loads(bundle.read(name))["schema"] for name in digests] == [
        anchored.schema_name
    ] * 2
    [event] = events_since(anchored, head)
    assert event.event_type == Event.AUDIT_DIGESTS_DOWNLOADED
    assert event.additional_data == {"digests": 2}


def test_the_documented_offline_procedure_verifies_an_export_and_catches_an_edit(
    anchored, owner, tmp_path
):
    bundle = _bundle(owner.get(DIGESTS))
    bundle.extractall(tmp_path)
    response = owner.get(EXPORT, {"format": "jsonl", "date_from": "2000-01-01"})
    assert response.status_code == 200
    export = b"".join(response.streaming_content)
    (tmp_path / "audit-export.jsonl").write_bytes(export)
    digests = sorted(str(path) for path in (tmp_path / "digests").glob("*.json"))

    # Step 1: every signature, with openssl alone.
    for digest in digests:
        result = subprocess.run(  # noqa: S603 - fixed arguments
            [  # noqa: S607 - openssl from PATH
                "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin",
                "-in", digest, "-sigfile", digest[: -len(".json")] + ".sig",
            ],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert "Signature Verified Successfully" in result.stdout, result.stderr

    # Step 2: the export against the digests, with an isolated Python without site-packages.
    def offline(export_name: str) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603 - our interpreter, the shipped script
            [sys.executable, "-I", "-S", "verify_export.py", export_name, *digests],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip

    result = offline("audit-export.jsonl")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "OK: the export matches 2 digest(s)\n"

    # An event edited in the database (or in the file) before an anchored moment shows up.
    original = export.decode().splitlines()
    lines = list(original)
    second = json.loads(lines[1])
    second["target_label"] = "someone else"
    lines[1] = json.dumps(second, ensure_ascii=False)
    (tmp_path / "edited.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = offline("edited.jsonl")
    assert result.returncode == 1
    assert "FAILED: event 3: the events up to here differ from what the digest" in result.stdout

    # So does a tail cut before the newest anchored event.
    (tmp_path / "short.jsonl").write_text("\n".join(original[:3]) + "\n", encoding="utf-8")
    result = offline("short.jsonl")
    assert result.returncode == 1
    assert "anchors event 4, beyond this export (last event 3)" in result.stdout


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("accountant", 403)])
def test_the_digest_download_needs_audit_export(client_for, role, status):
    assert client_for("acme", role).get(DIGESTS).status_code == status


def test_another_workspaces_owner_gets_the_404_a_missing_page_gets(anchored, member):
    outsider = member("globex", "owner")
    # Signed in on the anchored workspace's own host, but not a member of it.
    response = sign_in_client(Client(), outsider, anchored).get(DIGESTS)
    assert response.status_code == 404
    own = sign_in_client(Client(), outsider, _globex()).get(DIGESTS)
    bundle = zipfile.ZipFile(io.BytesIO(own.content))
    schemas = {
        json.loads(bundle.read(name))["schema"]
        for name in bundle.namelist()
        if name.endswith(".json")
    }
    assert schemas <= {_globex().schema_name}  # globex's own digests, if any; never another


def _globex():
    from tenants.models import Tenant

    return Tenant.objects.get(slug="globex")


def test_the_public_security_page_publishes_the_digest_signing_key(db):
    response = Client(HTTP_HOST="localhost").get("/security/")
    assert response.status_code == 200
    assert public_key_pem().strip() in response.content.decode()
