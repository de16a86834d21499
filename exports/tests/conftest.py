"""Helpers for the export tests: run an export the way the page does, fetch its archive."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from exports import services
from exports.models import ExportJob
from rbac.models import Membership
from shop.storage import private_storage


@pytest.fixture(autouse=True)
def _scratch_of_this_test(tmp_path, settings):
    """Each test builds in a scratch root of its own: parallel test workers share the system's
    temporary folder, and the scratch tests count what is in the root."""
    settings.EXPORT_TEMP_DIR = str(tmp_path / "scratch-parent")


@pytest.fixture
def run_export(django_capture_on_commit_callbacks, member):
    """run_export(tenant, role="owner") -> the job, after the (eager) task has run."""

    def run(tenant, role: str = "owner", *, user=None) -> ExportJob:
        user = user or member(tenant.slug, role)
        membership = Membership.objects.get(tenant=tenant, user=user)
        with tenant_context(tenant):
            with django_capture_on_commit_callbacks(execute=True):
                job = services.export_start(tenant=tenant, actor=membership)
            job.refresh_from_db()
        return job

    return run


@pytest.fixture
def archive_copy(tmp_path):
    """archive_copy(job) -> a local path holding a copy of the job's stored archive."""

    def copy(job: ExportJob, name: str = "") -> Path:
        target = tmp_path / (name or f"{job.public_id}.zip")
        with private_storage().open(job.archive_key, "rb") as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out)
        return target

    return copy


def stored_files(prefix: str) -> list[str]:
    """Keys of the objects in private storage under ``prefix`` (filesystem storage)."""
    root = Path(private_storage().path(prefix))
    if not root.exists():
        return []
    base = Path(private_storage().path(""))
    return sorted(
        str(Path(folder, name).relative_to(base))
        for folder, _, names in os.walk(root)
        for name in names
    )


@pytest.fixture(autouse=True)
def _forget_imported_files():
    """Imports write files the rolled-back test transaction cannot take back: remove the
    objects of workspaces that exist only inside a test."""
    yield
    base = Path(private_storage().path(""))
    if base.exists():
        for folder in base.iterdir():
            if folder.name not in ("ws_acme", "ws_globex") and folder.is_dir():
                shutil.rmtree(folder)
