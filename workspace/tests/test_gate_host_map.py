"""Issue #14: each process keeps host -> workspace answers in memory (tenants/selectors.py), so a
signed-in page needs no round trip to Redis; the gate's one statement reads the workspace's
row and checks the host still names it, and every view sees that row, never the map's copy.

Each test makes the map (and the shared Redis entry) stale the way another process's change
would leave them here: the row is changed without this process hearing of it (a queryset
update sends no signal), or the entry is put back after the change. What the lifecycle
promises must hold at the next request all the same.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rbac.models import Membership
from tenants import selectors
from tenants.models import Domain, Tenant
from tenants.rls import platform_view
from tenants.services import hostname_for
from tenants.writability import WORKSPACE_READ_ONLY_MESSAGE

pytestmark = pytest.mark.django_db

UNKNOWN = b"There is no workspace at this address."


@pytest.fixture
def owner_client(acme, client_for):
    client = client_for("acme", "owner")
    assert client.get("/companies/").status_code == 200  # the map holds the host now
    assert selectors._local_hosts[hostname_for("acme")][1].state == Tenant.State.ACTIVE
    return client


def test_a_signed_in_page_resolves_its_host_from_memory_without_redis(owner_client, monkeypatch):
    def no_redis(*args, **kwargs):
        raise AssertionError("the host lookup went to Redis")

    monkeypatch.setattr(selectors, "tenant_for_hostname", no_redis)
    with CaptureQueriesContext(connection) as captured:
        assert owner_client.get("/companies/").status_code == 200
    assert len(captured.captured_queries) == 3  # the gate's one statement and the page's two


def test_a_workspace_cancelled_elsewhere_is_read_only_at_the_next_request(acme, owner_client):
    Tenant.objects.filter(pk=acme.pk).update(state=Tenant.State.CANCELLED)  # no signal: stale
    refused = owner_client.post("/companies/new/", {"name": "After cancel"})
    assert refused.status_code == 403
    assert WORKSPACE_READ_ONLY_MESSAGE.encode() in refused.content
    # The map now holds the row the gate read.
    assert selectors._local_hosts[hostname_for("acme")][1].state == Tenant.State.CANCELLED


def test_a_workspace_archived_elsewhere_is_closed_at_the_next_request(acme, owner_client):
    missing = owner_client.get("/no-such-page/").content
    Tenant.objects.filter(pk=acme.pk).update(state=Tenant.State.ARCHIVED)
    closed = owner_client.get("/companies/")
    assert closed.status_code == 404
    assert closed.content == missing


def test_a_hostname_changed_elsewhere_no_longer_reaches_the_workspace(acme, owner_client):
    host = hostname_for("acme")
    with platform_view():
        Domain.objects.filter(domain=host).update(domain="acme-renamed.localhost")
    response = owner_client.get("/companies/")
    assert response.status_code == 404
    assert UNKNOWN in response.content
    assert host not in selectors._local_hosts


def test_a_hostname_moved_to_another_workspace_signs_the_old_session_out(
    acme, globex, owner_client
):
    host = hostname_for("acme")
    with platform_view():
        Domain.objects.filter(tenant=globex).delete()
        Domain.objects.filter(domain=host).update(tenant=globex)
    response = owner_client.get("/companies/")
    # The host is globex's now: acme's session is no session there.
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/sign-in/")
    assert selectors._local_hosts[host][1].pk == globex.pk


def test_a_purged_workspace_is_unknown_even_to_a_process_that_still_holds_it(acme, owner_client):
    host = hostname_for("acme")
    held = selectors._local_hosts[host][1]
    with platform_view():
        Membership.objects.filter(tenant=acme).delete()
    Tenant.objects.filter(pk=acme.pk).delete()  # what the purge's last step does
    selectors.tenant_host_local_remember(host, held)  # another process never heard of it
    response = owner_client.get("/companies/")
    assert response.status_code == 404
    assert UNKNOWN in response.content
    assert host not in selectors._local_hosts
