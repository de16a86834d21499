"""The Exports page: who may use it, progress without reloading, and the download link
(single-use, short-lived, bound to its workspace; a job of another workspace is the same 404
as a missing one)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import tenant_context

from audit.events import Event
from audit.models import AuditEvent, Outcome
from exports import services, tasks
from exports.models import ExportJob
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs) -> str:
    return reverse(f"exports:{name}", urlconf="config.urls_tenant", kwargs=kwargs)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def ready_job(acme, run_export):
    return run_export(acme)


def _download_url(client, job) -> str:
    response = client.post(url("link", pk=job.pk))
    assert response.status_code == 302
    return response["Location"]


def test_owner_sees_the_page_and_starts_an_export_that_finishes(
    acme, client_for, django_capture_on_commit_callbacks
):
    owner = client_for("acme", "owner")
    assert owner.get(url("list")).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(url("start"), follow=True)

    assert response.redirect_chain == [(url("list"), 302)]
    assert b"Export started" in response.content
    with tenant_context(acme):
        job = ExportJob.objects.latest("created_at")
    assert job.status == ExportJob.Status.READY
    assert job.requested_by.email == "owner@acme.example"
    assert b"Download" in response.content or job.status == ExportJob.Status.READY


def test_a_second_start_while_one_runs_says_so_and_creates_nothing(acme, client_for, member):
    with tenant_context(acme):
        ExportJob.objects.create(requested_by=member("acme", "owner"))
        before = ExportJob.objects.count()
    owner = client_for("acme", "owner")

    response = owner.post(url("start"))

    assert response.status_code == 409
    assert services.EXPORT_ALREADY_RUNNING.encode() in response.content
    with tenant_context(acme):
        assert ExportJob.objects.count() == before


def test_progress_partial_polls_while_running_and_shows_live_figures(acme, client_for, member):
    with tenant_context(acme):
        job = ExportJob.objects.create(
            requested_by=member("acme", "owner"), status=ExportJob.Status.RUNNING
        )
        cache.set(services.progress_cache_key(job), {"done": 1234, "total": 5000}, 60)
    owner = client_for("acme", "owner")

    response = owner.get(url("progress", pk=job.pk), HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert response.status_code == 200
    assert f'hx-get="{url("progress", pk=job.pk)}"' in body
    assert 'hx-trigger="every 2s"' in body
    assert 'value="1234" max="5000"' in body
    assert "Exported 1234 of 5000 records and files" in body
    # The page embeds the same partial, so it polls from the first render.
    assert f'hx-get="{url("progress", pk=job.pk)}"' in owner.get(url("list")).content.decode()


def test_progress_partial_stops_polling_once_ready_and_offers_the_download(client_for, ready_job):
    response = client_for("acme", "owner").get(url("progress", pk=ready_job.pk))

    body = response.content.decode()
    assert "hx-get" not in body
    assert f'action="{url("link", pk=ready_job.pk)}"' in body
    assert ready_job.archive_sha256 in body


@pytest.mark.parametrize("role", ["manager", "sales", "accountant", "installer", "customer"])
def test_roles_without_exports_run_are_refused_everywhere(role, client_for, ready_job):
    client = client_for("acme", role)
    assert client.get(url("list")).status_code == 403
    assert client.post(url("start")).status_code == 403
    assert client.get(url("progress", pk=ready_job.pk)).status_code == 403
    assert client.post(url("link", pk=ready_job.pk)).status_code == 403
    assert client.get(url("download", pk=ready_job.pk, token="x")).status_code == 403


def test_admin_holds_exports_run(client_for):
    assert client_for("acme", "admin").get(url("list")).status_code == 200


def test_the_download_link_works_once_and_is_audited(acme, client_for, ready_job):
    owner = client_for("acme", "owner")
    link = _download_url(owner, ready_job)

    first = owner.get(link)

    assert first.status_code == 200
    archive = _body(first)
    assert hashlib.sha256(archive).hexdigest() == ready_job.archive_sha256
    assert first["Content-Type"] == "application/zip"
    assert first["Cache-Control"] == "private, no-store"
    assert "attachment" in first["Content-Disposition"]

    second = owner.get(link)

    assert second.status_code == 410
    assert services.LINK_USED.encode() in second.content
    with tenant_context(acme):
        downloads = list(
            AuditEvent.objects.filter(event_type=Event.EXPORT_DOWNLOADED).order_by("sequence")
        )
    assert [(event.outcome, event.actor_email) for event in downloads] == [
        (Outcome.SUCCESS, "owner@acme.example"),
        (Outcome.FAILURE, "owner@acme.example"),
    ]
    assert downloads[1].additional_data == {"reason": services.LINK_USED}


def test_the_download_link_expires(client_for, ready_job):
    owner = client_for("acme", "owner")
    link = _download_url(owner, ready_job)

    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        response = owner.get(link)

    assert response.status_code == 410
    assert services.LINK_EXPIRED.encode() in response.content


def test_a_newer_link_replaces_an_older_one(client_for, ready_job):
    owner = client_for("acme", "owner")
    older = _download_url(owner, ready_job)
    newer = _download_url(owner, ready_job)

    assert owner.get(older).status_code == 410
    assert owner.get(newer).status_code == 200


def test_the_emailed_link_downloads_the_archive(client_for, ready_job):
    (message,) = mail.outbox
    link = re.search(r"https?://acme\.[^/\s]+(/settings/exports/\S+)", message.body).group(1)

    response = client_for("acme", "owner").get(link)

    assert response.status_code == 200
    assert hashlib.sha256(_body(response)).hexdigest() == ready_job.archive_sha256


def test_a_tampered_token_is_the_missing_object_404(client_for, ready_job):
    owner = client_for("acme", "owner")
    link = _download_url(owner, ready_job)
    missing = owner.get(url("download", pk=999_999, token="x"))

    response = owner.get(link[:-3] + "abc/")

    assert response.status_code == missing.status_code == 404
    assert response.content == missing.content


def test_globex_owner_gets_404_for_acme_jobs_on_the_acme_host(acme, member, ready_job):
    from django.test import Client

    from conftest import sign_in_client

    globex_on_acme = sign_in_client(Client(), member("globex", "owner"), acme)
    for path in (
        url("list"),
        url("progress", pk=ready_job.pk),
        url("download", pk=ready_job.pk, token="x"),
    ):
        assert globex_on_acme.get(path).status_code == 404
    assert globex_on_acme.post(url("link", pk=ready_job.pk)).status_code == 404


def test_acme_job_ids_on_the_globex_host_are_the_missing_object_404(
    acme, globex, client_for, run_export, ready_job
):
    with tenant_context(globex):
        globex_ids = set(ExportJob.objects.values_list("pk", flat=True))
    acme_only = run_export(acme)  # a second acme job, so its id exists only in acme
    assert acme_only.pk not in globex_ids
    globex_owner = client_for("globex", "owner")
    missing = globex_owner.get(url("progress", pk=999_999))

    for path in (url("progress", pk=acme_only.pk), url("download", pk=acme_only.pk, token="x")):
        response = globex_owner.get(path)
        assert response.status_code == 404
        assert response.content == missing.content
    assert globex_owner.post(url("link", pk=acme_only.pk)).status_code == 404


def test_an_acme_link_is_no_link_on_globex_even_for_a_job_with_the_same_id(
    acme, globex, client_for, run_export
):
    acme_job = run_export(acme)
    globex_job = run_export(globex)
    with tenant_context(globex):
        ExportJob.objects.filter(pk=globex_job.pk).update(id=acme_job.pk)
    acme_link = _download_url(client_for("acme", "owner"), acme_job)

    response = client_for("globex", "owner").get(acme_link)

    assert response.status_code == 404
    with tenant_context(acme):
        assert ExportJob.objects.get(pk=acme_job.pk).download_used_at is None


@pytest.fixture
def only_this_job_expires(acme, globex, ready_job):
    """The sweep deletes objects, which the test's rollback cannot restore: keep the seeded
    archives (other tests download them) out of its reach."""
    for tenant in (acme, globex):
        with tenant_context(tenant):
            ExportJob.objects.exclude(pk=ready_job.pk if tenant == acme else None).update(
                expires_at=None
            )
    return ready_job


def test_archives_expire_after_seven_days(acme, client_for, only_this_job_expires):
    ready_job = only_this_job_expires
    owner = client_for("acme", "owner")
    link = _download_url(owner, ready_job)

    with time_machine.travel(ready_job.finished_at + timedelta(days=7, seconds=1)):
        tasks.exports_expire_archives.apply().get()

    with tenant_context(acme):
        ready_job.refresh_from_db()
        (expired,) = AuditEvent.objects.filter(
            event_type=Event.EXPORT_EXPIRED, target_id=str(ready_job.pk)
        )
    assert ready_job.status == ExportJob.Status.EXPIRED
    assert ready_job.archive_key == ""
    assert expired.additional_data["sha256"] == ready_job.archive_sha256
    from shop.storage import private_storage

    assert not private_storage().exists(f"ws_acme/exports/{ready_job.public_id}.zip")
    response = owner.get(link)
    assert response.status_code == 410
    assert services.ARCHIVE_EXPIRED.encode() in response.content


def test_archives_younger_than_seven_days_are_kept(acme, only_this_job_expires):
    ready_job = only_this_job_expires
    with time_machine.travel(ready_job.finished_at + timedelta(days=6, hours=23)):
        tasks.exports_expire_archives.apply().get()
    with tenant_context(acme):
        ready_job.refresh_from_db()
    assert ready_job.status == ExportJob.Status.READY


def test_a_cancelled_workspace_can_still_export(
    acme, client_for, django_capture_on_commit_callbacks
):
    Tenant.objects.filter(pk=acme.pk).update(state=Tenant.State.CANCELLED)
    owner = client_for("acme", "owner")

    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(url("start"))

    assert response.status_code == 302
    with tenant_context(acme):
        assert ExportJob.objects.latest("created_at").status == ExportJob.Status.READY


def test_settings_keep_links_short_and_archives_a_week():
    assert settings.EXPORT_PAGE_LINK_SECONDS <= 60
    assert settings.EXPORT_ARCHIVE_DAYS == 7
