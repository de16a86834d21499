"""The public status page, its JSON against the published schema, the Atom feed, and the
health checks turning components degraded or down when their service is (really) down."""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from incidents import health
from incidents.models import WorkerHeartbeat
from incidents.services import incident_update_post
from incidents.tasks import worker_heartbeat
from incidents.tests.factories import incident_manager, incident_open
from tests.outages import caches_at, throwaway_redis

pytestmark = pytest.mark.django_db

SCHEMA = json.loads((Path(health.__file__).parent / "status.schema.json").read_text())
ATOM = "{http://www.w3.org/2005/Atom}"


def _public() -> Client:
    return Client(HTTP_HOST="localhost")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


def _states(response) -> dict[str, str]:
    return {item["id"]: item["status"] for item in response.json()["components"]}


@pytest.fixture
def heartbeat_fresh():
    worker_heartbeat()  # what the beat's task does on a worker


def test_status_json_matches_its_schema_with_open_and_resolved_incidents(acme, heartbeat_fresh):
    agent = incident_manager()
    incident_open(agent, workspaces=[acme], title="Email delays", components=["email"])
    resolved = incident_open(agent, title="Uploads failing", components=["storage"])
    incident_update_post(actor=agent, incident_id=resolved.pk, status="resolved", body="Fixed.")
    response = _public().get("/status.json")
    assert response.status_code == 200
    document = response.json()
    jsonschema.validate(document, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert [item["title"] for item in document["incidents"]] == ["Email delays"]
    assert [item["title"] for item in document["history"]] == ["Uploads failing"]
    assert _states(response)["email"] == "degraded"  # a partial outage degrades it
    assert _states(response)["storage"] == "operational"  # resolved: no longer counts
    assert "acme" not in response.content.decode()  # never names a workspace


def test_a_major_incident_takes_its_component_down_on_the_page_and_in_the_json(heartbeat_fresh):
    incident_open(incident_manager(), title="Jobs stuck", impact="major", components=["jobs"])
    response = _public().get("/status/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="component-jobs" data-state="down"' in page
    assert "Jobs stuck" in page
    assert _states(_public().get("/status.json"))["jobs"] == "down"


def test_all_components_operational_when_every_service_answers(heartbeat_fresh):
    response = _public().get("/status.json")
    assert set(_states(response).values()) == {"operational"}
    assert response.json()["status"] == "operational"


def test_the_atom_feed_is_atom_1_0_with_one_entry_per_incident():
    agent = incident_manager()
    first = incident_open(agent, title="First <one> & co")
    incident_update_post(actor=agent, incident_id=first.pk, status="identified", body="Found it.")
    incident_open(agent, title="Second")
    response = _public().get("/status/feed.atom")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ElementTree.fromstring(response.content)  # noqa: S314 - our own response, in a test
    assert feed.tag == f"{ATOM}feed"
    # RFC 4287: a feed has id, title, updated, an author, and a self link.
    for required in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{required}") is not None, required
    assert feed.find(f"{ATOM}link[@rel='self']") is not None
    entries = feed.findall(f"{ATOM}entry")
    assert [entry.findtext(f"{ATOM}title") for entry in entries] == [
        "Second (Investigating)",
        "First <one> & co (Identified)",
    ]
    for entry in entries:
        for required in ("id", "title", "updated", "published"):
            assert entry.findtext(f"{ATOM}{required}"), required
    assert "Found it." in entries[1].findtext(f"{ATOM}content")


def test_status_pages_are_not_served_on_a_workspace_host(acme):
    client = Client(HTTP_HOST="acme.localhost")
    for path in ("/status/", "/status.json", "/status/feed.atom"):
        assert client.get(path).status_code == 404


def test_a_stale_worker_heartbeat_takes_background_jobs_down():
    WorkerHeartbeat.objects.create(
        name=health.HEARTBEAT_NAME, beat_at=timezone.now() - timedelta(minutes=10)
    )
    assert _states(_public().get("/status.json"))["jobs"] == "down"
    health.health_forget()
    worker_heartbeat()
    assert _states(_public().get("/status.json"))["jobs"] == "operational"


def test_no_heartbeat_at_all_is_jobs_down():
    assert not health.check_worker_heartbeat().ok


def test_an_unreachable_database_is_database_and_web_down():
    settings_dict = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": _closed_port()}
    unreachable = type(connections["default"])(settings_dict, alias="unreachable")
    connections["unreachable"] = unreachable
    try:
        checks = health.checks_run(database=unreachable)
    finally:
        unreachable.close()
        del connections["unreachable"]
    assert not checks["database"].ok
    states = health.component_states(checks)
    assert states["database"][0] == health.DOWN
    assert states["web"][0] == health.DOWN
    assert health.check_database().ok  # the real one answers


def test_with_redis_down_the_status_page_answers_and_shows_web_and_jobs_degraded(
    settings, heartbeat_fresh
):
    with throwaway_redis() as redis_server:
        settings.REDIS_URL = redis_server.url
        caches_at(settings, redis_server.url)
        redis_server.stop()
        response = _public().get("/status/")
        assert response.status_code == 200
        assert 'id="component-web" data-state="degraded"' in response.content.decode()
        health.health_forget()
        states = _states(_public().get("/status.json"))
    assert states["web"] == states["jobs"] == "degraded"
    assert states["database"] == "operational"


def test_unreachable_file_storage_is_storage_down(settings, heartbeat_fresh):
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "status-check",
                "endpoint_url": f"http://127.0.0.1:{_closed_port()}",
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
            },
        },
    }
    assert _states(_public().get("/status.json"))["storage"] == "down"


def test_an_smtp_server_that_does_not_answer_is_email_down(settings, heartbeat_fresh):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _closed_port()
    assert _states(_public().get("/status.json"))["email"] == "down"


def test_an_email_backend_that_cannot_be_imported_is_email_down(settings):
    settings.EMAIL_BACKEND = "no.such.Backend"
    assert not health.check_email().ok


def test_health_results_are_reused_for_the_configured_seconds(settings):
    settings.STATUS_CHECK_SECONDS = 60
    WorkerHeartbeat.objects.create(
        name=health.HEARTBEAT_NAME, beat_at=timezone.now() - timedelta(minutes=10)
    )
    assert health.health_current()["jobs"][0] == health.DOWN
    worker_heartbeat()
    assert health.health_current()["jobs"][0] == health.DOWN  # still the remembered answer
    health.health_forget()
    assert health.health_current()["jobs"][0] == health.OPERATIONAL
