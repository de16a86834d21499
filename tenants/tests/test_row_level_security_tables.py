"""Every shared table with workspace rows, one by one: acme's context never sees or writes globex's.

``BUILDERS`` holds one globex row per table; a shared model that reaches a Tenant and has no
builder here fails ``test_every_shared_table_with_workspace_rows_has_a_builder_here``, so the
table a later issue adds is tested the same way.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import PasswordResetToken, SignInHandoff, User, UserSession
from accounts.twofactor.models import ActionCode
from incidents.models import Incident, IncidentWorkspace
from rbac.models import Invitation, Membership
from support.models import (
    ImpersonationHandoff,
    ImpersonationSession,
    SupportAccessGrant,
    SupportAccessPolicy,
)
from tenants.models import Domain
from tenants.rls import platform_view
from tenants.tests.test_row_level_security import shared_models_with_workspace_rows

pytestmark = pytest.mark.django_db


def _digest() -> str:
    return secrets.token_hex(32)


def _owner(tenant):
    with platform_view():
        return Membership.objects.select_related("user").get(
            tenant=tenant, user__email=f"owner@{tenant.slug}.example"
        )


def _later():
    return timezone.now() + timedelta(hours=1)


def _grant(tenant):
    now = timezone.now()
    return SupportAccessGrant.objects.create(
        tenant=tenant, granted_by=_owner(tenant).user, starts_at=now, ends_at=_later()
    )


def _impersonation(tenant, grant=None):
    now = timezone.now()
    owner = _owner(tenant)
    return ImpersonationSession.objects.create(
        agent=owner.user,
        tenant=tenant,
        acting_as=owner,
        grant=grant or _grant(tenant),
        reason="test",
        ticket_ref="T-1",
        started_at=now,
        last_seen_at=now,
    )


def _incident():
    agent = User.objects.create_user(f"rls-agent-{secrets.token_hex(4)}@example.com", "x" * 20)
    return Incident.objects.create(
        title="RLS",
        impact="degraded",
        status="investigating",
        started_at=timezone.now(),
        created_by=agent,
        affects_all=False,
    )


def _policy(tenant):
    with platform_view():
        SupportAccessPolicy.objects.filter(tenant=tenant).delete()
    return SupportAccessPolicy.objects.create(tenant=tenant)


# model -> (build one row of ``tenant`` in the current context, build its parents in the
# platform's view first). Parents exist so the refused-insert test fails on the row itself.
BUILDERS = {
    Membership: lambda tenant, parents: Membership.objects.create(
        user=parents["user"], tenant=tenant, role="staff"
    ),
    Invitation: lambda tenant, parents: Invitation.objects.create(
        tenant=tenant,
        email=f"rls-{secrets.token_hex(4)}@example.com",
        role="staff",
        token_digest=_digest(),
        expires_at=_later(),
    ),
    UserSession: lambda tenant, parents: UserSession.objects.create(
        key_digest=_digest(),
        user=parents["user"],
        tenant=tenant,
        created_at=timezone.now(),
        last_seen_at=timezone.now(),
    ),
    SignInHandoff: lambda tenant, parents: SignInHandoff.objects.create(
        token_digest=_digest(), user=parents["user"], tenant=tenant, expires_at=_later()
    ),
    PasswordResetToken: lambda tenant, parents: PasswordResetToken.objects.create(
        token_digest=_digest(),
        user=parents["user"],
        tenant=tenant,
        created_at=timezone.now(),
        expires_at=_later(),
    ),
    ActionCode: lambda tenant, parents: ActionCode.objects.create(
        user=parents["user"],
        tenant=tenant,
        action="test",
        code_digest=_digest(),
        expires_at=_later(),
    ),
    SupportAccessPolicy: lambda tenant, parents: _policy(tenant),
    SupportAccessGrant: lambda tenant, parents: _grant(tenant),
    ImpersonationSession: lambda tenant, parents: _impersonation(tenant, parents["grant"]),
    ImpersonationHandoff: lambda tenant, parents: ImpersonationHandoff.objects.create(
        token_digest=_digest(), session=parents["session"], expires_at=_later()
    ),
    IncidentWorkspace: lambda tenant, parents: IncidentWorkspace.objects.create(
        incident=parents["incident"], tenant=tenant
    ),
    Domain: lambda tenant, parents: Domain.objects.create(
        tenant=tenant, domain=f"rls-{secrets.token_hex(4)}.example", is_primary=False
    ),
}


def _parents(tenant) -> dict:
    from accounts.models import User

    with platform_view():
        grant = _grant(tenant)
        return {
            "user": User.objects.create_user(f"rls-{secrets.token_hex(4)}@example.com", "x" * 20),
            "grant": grant,
            "session": _impersonation(tenant, grant),
            "incident": _incident(),
        }


def _globex_row(model, globex):
    parents = _parents(globex)
    with platform_view():
        return BUILDERS[model](globex, parents)


MODELS = sorted(BUILDERS, key=lambda model: model._meta.db_table)


def test_every_shared_table_with_workspace_rows_has_a_builder_here():
    assert set(shared_models_with_workspace_rows()) == set(BUILDERS)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.db_table)
def test_a_globex_row_is_invisible_in_acme_context_with_the_filter_left_out(model, acme, globex):
    row = _globex_row(model, globex)
    with tenant_context(acme):
        assert not model.objects.filter(pk=row.pk).exists()
        assert row.pk not in set(model.objects.all().values_list("pk", flat=True))
        with connection.cursor() as cursor:
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"SELECT count(*) FROM public.{table} WHERE id = %s", [row.pk])  # noqa: S608
            assert cursor.fetchone()[0] == 0
    with platform_view():
        assert model.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.db_table)
def test_a_globex_row_cannot_be_changed_or_deleted_in_acme_context(model, acme, globex):
    row = _globex_row(model, globex)
    with tenant_context(acme), connection.cursor() as cursor:
        table = connection.ops.quote_name(model._meta.db_table)
        cursor.execute(f"UPDATE public.{table} SET id = id WHERE id = %s", [row.pk])  # noqa: S608
        assert cursor.rowcount == 0
        cursor.execute(f"DELETE FROM public.{table} WHERE id = %s", [row.pk])  # noqa: S608
        assert cursor.rowcount == 0
    with platform_view():
        assert model.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.db_table)
def test_writing_a_globex_row_in_acme_context_is_refused(model, acme, globex):
    parents = _parents(globex)
    refused = pytest.raises(DatabaseError, match="row-level security")
    with tenant_context(acme), refused, transaction.atomic():
        BUILDERS[model](globex, parents)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.db_table)
def test_acme_context_still_writes_and_reads_its_own_rows(model, acme):
    parents = _parents(acme)
    with tenant_context(acme):
        row = BUILDERS[model](acme, parents)
        assert model.objects.filter(pk=row.pk).exists()
