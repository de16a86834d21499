"""Test data for accounts: tracked sessions for clients signed in with ``force_login``."""

from __future__ import annotations

from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import UserSession
from accounts.sessions import session_key_digest


def tracked_session_for(*, session_key: str, user, tenant, user_agent: str = "") -> UserSession:
    """What ``services.session_sign_in`` records, for a session a test made itself."""
    now = timezone.now()
    # Written where session_sign_in writes it: on the workspace's own host.
    with tenant_context(tenant):
        return UserSession.objects.create(
            key_digest=session_key_digest(session_key),
            user=user,
            tenant=tenant,
            ip="127.0.0.1",
            user_agent=user_agent,
            created_at=now,
            last_seen_at=now,
        )
