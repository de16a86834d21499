"""The demo's document requests: one per state for the first companies, seeded once, with the
one usable link only in a 0600 file (never in a log line)."""

from __future__ import annotations

import logging
import stat

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from docrequests import demo
from docrequests.models import DocumentRequest, RequestItem, Upload
from kernel import storage
from kernel.roles import STAFF_ROLES
from shop.models import StoredFile

from . import conftest

pytestmark = pytest.mark.django_db


@pytest.fixture
def link_dir(tmp_path, settings):
    settings.LOCAL_STATE_DIR = tmp_path
    return tmp_path


@pytest.fixture
def seeded(acme, in_acme, link_dir, caplog):
    """The demo seeder run on acme (its bytes removed afterwards: storage is no transaction)."""
    caplog.set_level(logging.DEBUG)
    staff_users = {
        role.value: User.objects.get(email=f"{role.value}@acme.example")
        for role in STAFF_ROLES
        if User.objects.filter(email=f"{role.value}@acme.example").exists()
    }
    with conftest.committed():
        counts = demo.seed_demo_records(tenant=acme, staff_users=staff_users)
    yield counts, staff_users
    for upload in Upload.objects.filter(item__request__title__in=_titles()):
        storage.delete(upload.storage_key)
        if upload.stored_file_id:
            storage.delete(StoredFile.objects.get(pk=upload.stored_file_id).storage_key)


def _titles() -> list[str]:
    return [request.title for request in demo.DEMO_REQUESTS]


def test_the_demo_has_a_request_in_every_state_and_its_accepted_files_among_the_companys(
    seeded,
):
    counts, _ = seeded
    assert counts == {"document_requests": 5}
    records = {
        record.title: record for record in DocumentRequest.objects.filter(title__in=_titles())
    }
    now = timezone.now()
    states = {
        title: (
            record.status,
            record.is_live(now),
            sorted(record.items.values_list("status", flat=True)),
        )
        for title, record in records.items()
    }
    assert states == {
        "Onboarding documents (open, nothing sent yet)": ("open", True, ["missing"] * 3),
        "Annual review papers (partly received)": (
            "open",
            True,
            ["missing", "missing", "received"],
        ),
        "Lease renewal (complete, accepted)": ("open", True, ["accepted"] * 3),
        "Insurance claim (expired)": ("open", False, ["missing", "missing", "received"]),
        "Grant application (revoked)": ("revoked", False, ["missing"] * 3),
    }
    accepted = Upload.objects.filter(item__status=RequestItem.Status.ACCEPTED)
    for upload in accepted.filter(item__request__title__in=_titles()):
        copy = StoredFile.objects.get(pk=upload.stored_file_id)
        assert copy.company_id == upload.item.request.company_id
        assert storage.read(copy.storage_key) == storage.read(upload.storage_key)


def test_the_demo_link_is_only_in_an_owner_only_file_and_opens_the_open_request(
    seeded, acme, link_dir, caplog
):
    path = demo.demo_link_file("acme")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    link = path.read_text().strip()
    assert link.startswith("http://acme.localhost")
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert token not in caplog.text
    visitor = Client(HTTP_HOST="acme.localhost")
    assert visitor.get(f"/r/{token}/").status_code == 302
    page = visitor.get("/r/code/").content.decode()
    assert "Onboarding documents (open, nothing sent yet)" in page


def test_seeding_again_creates_nothing_and_a_lost_link_file_gets_a_fresh_link(seeded, acme):
    _, staff_users = seeded
    path = demo.demo_link_file("acme")
    first = path.read_text()
    with conftest.committed():
        assert demo.seed_demo_records(tenant=acme, staff_users=staff_users) == {
            "document_requests": 0
        }
    assert path.read_text() == first
    assert DocumentRequest.objects.filter(title__in=_titles()).count() == 5

    path.unlink()
    with conftest.committed():
        demo.seed_demo_records(tenant=acme, staff_users=staff_users)
    fresh = path.read_text()
    assert fresh != first
    old_token = first.strip().rstrip("/").rsplit("/", 1)[1]
    assert Client(HTTP_HOST="acme.localhost").get(f"/r/{old_token}/").status_code == 404
