"""Account reads, narrowed to the viewer.

Invariant: a member sees and acts on only their own sessions in the workspace whose host they
are on; anything else (another user's session, their own session in another workspace, a
session that has already ended) is the same 404 as an id that never existed.
"""

from __future__ import annotations

from django.db.models import CharField, F, Func, QuerySet, Value
from django.http import Http404
from django.utils import timezone

from .models import User, UserSession
from .sessions import session_limits


def user_sessions_active(*, user: User, tenant) -> QuerySet[UserSession]:
    """``user``'s live sessions on ``tenant``'s host, most recently used first."""
    idle, absolute = session_limits(tenant)
    now = timezone.now()
    return UserSession.objects.filter(
        user=user, tenant=tenant, created_at__gt=now - absolute, last_seen_at__gt=now - idle
    ).order_by("-last_seen_at", "-pk")


def user_session_get(*, user: User, tenant, session_id: int) -> UserSession:
    """One of ``user``'s live sessions on ``tenant``'s host, or Http404."""
    found = user_sessions_active(user=user, tenant=tenant).filter(pk=session_id).first()
    if found is None:
        raise Http404("no such session")
    return found


def password_hash_parameters() -> list[str]:
    """The distinct parameter parts (``m=…,t=…,p=…``) of the argon2 hashes accounts hold."""
    part = Func(
        F("password"), Value("$"), Value(4), function="split_part", output_field=CharField()
    )
    return list(
        User.objects.filter(password__startswith="argon2$")  # noqa: S106 - a prefix
        .annotate(parameters=part)
        .order_by()
        .values_list("parameters", flat=True)
        .distinct()
    )


def workspace_sessions_active(*, tenant) -> QuerySet[UserSession]:
    """Every member's live sessions on ``tenant``'s host under its timeouts now (the same rule
    as ``user_sessions_active`` and the gate's ``sessions.session_expiry_reason``)."""
    idle, absolute = session_limits(tenant)
    now = timezone.now()
    return UserSession.objects.filter(
        tenant=tenant, created_at__gt=now - absolute, last_seen_at__gt=now - idle
    )
