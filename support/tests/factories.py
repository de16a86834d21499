"""Support test helpers: agents with 2FA, grants, console and impersonation clients."""

from __future__ import annotations

import time
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.sessions import SESSION_WORKSPACE_KEY
from accounts.twofactor import crypto
from accounts.twofactor.models import EncryptedTOTPDevice
from kernel.roles import Role
from rbac.models import Membership
from support.models import ImpersonationSession
from tenants.models import Tenant

AGENT_PASSWORD = "agent horse battery staple"


def support_agent(email: str = "agent@platform.example", *, with_2fa: bool = True) -> User:
    user = User.objects.create_user(
        email=email, password=AGENT_PASSWORD, full_name="Sam Support", is_support_agent=True
    )
    if with_2fa:
        EncryptedTOTPDevice.objects.create(
            user=user,
            name="Authenticator app",
            confirmed=True,
            encrypted_seed=crypto.seed_encrypt(crypto.seed_generate()),
        )
    return user


def totp_now(user: User) -> str:
    device = EncryptedTOTPDevice.objects.get(user=user, confirmed=True)
    return crypto.totp_code(device.seed, at=time.time())


def owner_membership(tenant: Tenant) -> Membership:
    return Membership.objects.select_related("user").get(
        tenant=tenant, role=Role.OWNER, is_active=True
    )


def grant_for(tenant: Tenant, *, hours: int = 4, allow_write: bool = False, ticket: str = "T-1"):
    from support.services import grant_create

    return grant_create(
        tenant=tenant,
        actor=owner_membership(tenant),
        hours=hours,
        allow_write=allow_write,
        ticket_ref=ticket,
    )


def console_client(agent: User) -> Client:
    """A client signed in to the console on the public host, as the sign-in view leaves it."""
    from support.views import CONSOLE_VERIFIED_KEY

    client = Client(HTTP_HOST="localhost")
    client.force_login(agent)
    session = client.session
    session[SESSION_WORKSPACE_KEY] = "public"
    session[CONSOLE_VERIFIED_KEY] = True
    session.save()
    return client


def impersonation_client(
    agent: User,
    tenant: Tenant,
    *,
    role: str = "manager",
    write: bool = False,
    member: Membership | None = None,
) -> tuple[Client, ImpersonationSession]:
    """Start a session through the console and follow the hand-off: (workspace client, session).

    Acts as the staff member with ``role``, or as ``member`` (e.g. a customer) when given."""
    if member is None:
        member = Membership.objects.get(tenant=tenant, role=role, is_active=True, company_id=None)
    console = console_client(agent)
    response = console.post(
        f"/support/workspaces/{tenant.slug}/",
        {
            "acting_as": member.pk,
            "reason": "Customer cannot see quote",
            "ticket_ref": "SUP-42",
            "write": "on" if write else "",
        },
    )
    assert response.status_code == 302, response.content[:500]
    path = response["Location"].split("localhost", 1)[1].split("/", 1)[1]
    client = Client(HTTP_HOST=f"{tenant.slug}.localhost")
    entered = client.get(f"/{path}")
    assert entered.status_code == 302
    assert entered["Location"] == "/"
    return client, ImpersonationSession.objects.filter(agent=agent).latest("pk")


def age_session(session, *, started: timedelta = timedelta(0), idle: timedelta = timedelta(0)):
    from support.models import ImpersonationSession

    now = timezone.now()
    ImpersonationSession.objects.filter(pk=session.pk).update(
        started_at=now - started, last_seen_at=now - idle
    )
