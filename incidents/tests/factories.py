"""Incident test helpers: a support agent holding ``incidents:manage``, incidents opened and
updated through the real services."""

from __future__ import annotations

from django.test import Client

from accounts.models import User
from incidents import services
from incidents.models import Incident
from support.tests.factories import console_client, support_agent


def incident_manager(email: str = "incidents@platform.example") -> User:
    agent = support_agent(email)
    services.incident_capability_set(user=agent, granted=True)
    return agent


def manager_client(agent: User | None = None) -> Client:
    return console_client(agent or incident_manager())


def incident_open(agent: User, *, workspaces=(), title="Slow pages", **fields) -> Incident:
    values = {
        "impact": "partial",
        "components": ["web"],
        "status": "investigating",
        "body": "We are looking into slow page loads.",
        **fields,
    }
    return services.incident_open(
        actor=agent,
        title=title,
        affects_all=not workspaces,
        workspace_ids=[tenant.pk for tenant in workspaces],
        **values,
    )
