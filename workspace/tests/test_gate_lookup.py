"""Issue #14: the gate reads session, user, tracked session, membership and the support banner
in one statement that carries the workspace context (workspace/gate_lookup.py).

The budget: a signed-in list page runs its own queries and exactly one more. The rest pins
that the lookup decides nothing: every session it cannot vouch for ends exactly as it did
before the lookup existed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import User, UserSession
from accounts.sessions import session_key_digest
from conftest import sign_in_client
from rbac.models import Membership
from shop.models import Company
from support import services as support_services
from support.tests.factories import grant_for, impersonation_client, support_agent
from tenants.rls import platform_view

pytestmark = pytest.mark.django_db

SIGN_IN = "/accounts/sign-in/?next=/companies/"


def _signed_in(acme, member) -> Client:
    client = sign_in_client(Client(), member("acme", "owner"), acme)
    assert client.get("/companies/").status_code == 200  # a first request: caches warm
    return client


def _tracked(client) -> UserSession:
    with platform_view():
        return UserSession.objects.get(key_digest=session_key_digest(client.session.session_key))


def test_the_company_list_runs_its_own_two_queries_and_one_for_the_gate(acme, member):
    with tenant_context(acme):
        Company.objects.bulk_create(Company(name=f"Budget {index:02d}") for index in range(30))
    client = _signed_in(acme, member)
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/companies/")
    assert response.status_code == 200
    assert b"Budget 00" in response.content
    statements = [query["sql"] for query in captured.captured_queries]
    assert len(statements) == 3, statements
    gate, count, page = statements
    # The context switch, then the workspace's row, session, tracked session, user,
    # membership and banner.
    assert gate.startswith('SET ROLE "shopsafe_w_')
    assert 'FROM "tenants_tenant" AS t LEFT JOIN "django_session" AS s' in gate
    assert 'LEFT JOIN "accounts_usersession"' in gate
    assert "support_impersonationsession" in gate
    assert count.startswith('SELECT COUNT(*) AS "__count" FROM "shop_company"')
    assert page.startswith('SELECT "shop_company"."id"')


def test_the_workspace_home_page_reads_nothing_for_the_gate_beyond_the_lookup(acme, member):
    client = _signed_in(acme, member)
    client.get("/")
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/").status_code == 200
    gate_tables = (
        '"django_session"',
        'FROM "accounts_user"',
        '"accounts_usersession"',
        '"rbac_membership"',
        '"tenants_tenant"',
        '"support_impersonationsession"',
    )
    gate_reads = [
        query["sql"]
        for query in captured.captured_queries
        if any(table in query["sql"] for table in gate_tables)
    ]
    assert len(gate_reads) == 1
    assert gate_reads[0].startswith("SET ROLE")


def test_a_tracked_session_belonging_to_another_user_is_signed_out(acme, member):
    client = _signed_in(acme, member)
    tracked = _tracked(client)
    with platform_view():
        UserSession.objects.filter(pk=tracked.pk).update(user=member("acme", "employee"))
    response = client.get("/companies/")
    assert (response.status_code, response["Location"]) == (302, SIGN_IN)
    assert client.get("/companies/")["Location"] == SIGN_IN  # the session itself is gone


def test_a_revoked_session_is_signed_out_at_its_next_request(acme, member):
    client = _signed_in(acme, member)
    with platform_view():
        UserSession.objects.filter(pk=_tracked(client).pk).delete()
    assert client.get("/companies/")["Location"] == SIGN_IN


def test_a_session_whose_data_was_tampered_with_is_anonymous(acme, member):
    client = _signed_in(acme, member)
    Session.objects.filter(session_key=client.session.session_key).update(
        session_data="forged:data"
    )
    assert client.get("/companies/")["Location"] == SIGN_IN


def test_an_expired_session_row_is_anonymous(acme, member):
    client = _signed_in(acme, member)
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert client.get("/companies/")["Location"] == SIGN_IN


def test_a_session_from_before_a_password_change_is_signed_out(acme, member):
    client = _signed_in(acme, member)
    owner = member("acme", "owner")
    owner.set_password("a completely different passphrase")
    owner.save(update_fields=["password"])
    assert client.get("/companies/")["Location"] == SIGN_IN


def test_a_deactivated_user_is_signed_out(acme, member):
    client = _signed_in(acme, member)
    User.objects.filter(email="owner@acme.example").update(is_active=False)
    assert client.get("/companies/")["Location"] == SIGN_IN


def test_a_removed_member_gets_the_404_a_missing_page_gets(acme, member):
    client = _signed_in(acme, member)
    missing = client.get("/no-such-page/")
    with tenant_context(acme):
        Membership.objects.filter(user=member("acme", "owner"), tenant=acme).update(is_active=False)
    refused = client.get("/companies/")
    assert refused.status_code == 404
    assert refused.content == missing.content


def test_the_support_banner_appears_and_goes_with_the_support_session(acme, member):
    client = _signed_in(acme, member)
    banner = b"Support is viewing this workspace until"
    assert banner not in client.get("/companies/").content
    grant_for(acme)
    impersonation_client(support_agent(), acme)
    assert banner in client.get("/companies/").content
    with platform_view():
        [session] = support_services.ImpersonationSession.objects.filter(tenant=acme)
    support_services.impersonation_end(session=session, reason="agent")
    assert banner not in client.get("/companies/").content
