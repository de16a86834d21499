"""Tracked sessions: what the gate enforces on every request of a signed-in member.

Invariant: a signed-in session on a workspace host is honoured only while it has a
``UserSession`` row for that user and workspace (created by ``services.session_sign_in``, the
single place sessions start) and is within the workspace's idle and absolute timeouts.
Anything else - a revoked session, one ended by a password change or a member's removal, one
that timed out, one made by some other code path - is signed out by the gate. Revoking is
therefore just deleting rows (``services.user_sessions_end``); only SHA-256 digests of session
keys are stored, so the table never yields a usable cookie.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.auth import logout
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.events import Event
from audit.services import audit_event_record
from kernel.context import USER_AGENT_MAX, clean_text, client_ip
from tenants.models import SESSION_ABSOLUTE_HOURS_MAX, SESSION_IDLE_MINUTES_MAX
from tenants.rls import platform_view

from .models import User, UserSession

logger = logging.getLogger("accounts.sessions")

# The gate writes last_seen_at at most this often per session.
# The session key that binds a session to the one workspace it was signed in on.
SESSION_WORKSPACE_KEY = "workspace_schema"
SESSION_TOUCH_SECONDS = 60
# The cookie (and Django's session row) outlives the absolute timeout by this much, so that it
# is the gate that ends the session - and can tell the member why - not a silent expiry.
SESSION_COOKIE_GRACE_SECONDS = 60 * 60
# Rows older than the widest bounds any workspace may choose are dead everywhere.
_WIDEST_IDLE = timedelta(minutes=SESSION_IDLE_MINUTES_MAX)
_WIDEST_ABSOLUTE = timedelta(hours=SESSION_ABSOLUTE_HOURS_MAX)

SESSION_ENDED_MESSAGE = "Your session has ended. Please sign in again."
SESSION_IDLE_MESSAGE = "You were signed out after a period of inactivity. Please sign in again."
SESSION_ABSOLUTE_MESSAGE = "Your session reached its maximum length. Please sign in again."
EXPIRY_MESSAGES = {"idle": SESSION_IDLE_MESSAGE, "absolute": SESSION_ABSOLUTE_MESSAGE}


def session_key_digest(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()


def session_limits(tenant) -> tuple[timedelta, timedelta]:
    """(idle, absolute) timeouts of a workspace."""
    return (
        timedelta(minutes=tenant.session_idle_minutes),
        timedelta(hours=tenant.session_absolute_hours),
    )


def session_expiry_reason(session: UserSession, tenant, now: datetime) -> str | None:
    """ "absolute", "idle" or None (still valid) under ``tenant``'s current policy."""
    idle, absolute = session_limits(tenant)
    if now - session.created_at >= absolute:
        return "absolute"
    if now - session.last_seen_at >= idle:
        return "idle"
    return None


def session_track_start(*, request, user: User, tenant) -> UserSession:
    """Record the session ``request`` now carries. Only ``services.session_sign_in`` calls it."""
    now = timezone.now()
    # Tidy this user's rows that are dead under any workspace's policy: in every workspace,
    # so in the platform's view (row-level security: tenants/rls.py).
    with platform_view():
        UserSession.objects.filter(user=user).filter(
            Q(created_at__lt=now - _WIDEST_ABSOLUTE) | Q(last_seen_at__lt=now - _WIDEST_IDLE)
        ).delete()
    return UserSession.objects.create(
        key_digest=session_key_digest(request.session.session_key),
        user=user,
        tenant=tenant,
        ip=client_ip(request) or None,
        user_agent=clean_text(request.headers.get("User-Agent", ""), USER_AGENT_MAX),
        created_at=now,
        last_seen_at=now,
    )


def session_track_forget(*, session_key: str | None) -> None:
    if session_key:
        UserSession.objects.filter(key_digest=session_key_digest(session_key)).delete()


def session_track_rekey(*, old_key: str | None, new_key: str) -> None:
    """The session got a new key (password change, privilege change): follow it."""
    if old_key:
        UserSession.objects.filter(key_digest=session_key_digest(old_key)).update(
            key_digest=session_key_digest(new_key)
        )


def session_enforce(request, tracked: UserSession | None = None) -> None:
    """The gate's session check for a signed-in request on a workspace host.

    Signs the request out (with a message for the sign-in page) when its session is not
    tracked or has passed the workspace's idle or absolute timeout; otherwise notes the use
    (at most once a minute) and sets ``request.user_session``. ``tracked`` is the row when the
    caller has already read it (the gate's one lookup: this session's key digest, this user,
    this workspace); without it the row is read here.
    """
    tenant = request.tenant
    session_key = request.session.session_key
    if tracked is None and session_key:
        tracked = UserSession.objects.filter(
            key_digest=session_key_digest(session_key), user_id=request.user.pk, tenant=tenant
        ).first()
    if tracked is None:
        logger.warning("untracked or revoked session of user %s refused", request.user.pk)
        logout(request)
        messages.warning(request, SESSION_ENDED_MESSAGE)
        return
    now = timezone.now()
    reason = session_expiry_reason(tracked, tenant, now)
    if reason is not None:
        with transaction.atomic():
            audit_event_record(
                event_type=Event.SESSION_EXPIRED, target=request.user, data={"reason": reason}
            )
            tracked.delete()
            logout(request)
        messages.warning(request, EXPIRY_MESSAGES[reason])
        return
    if now - tracked.last_seen_at >= timedelta(seconds=SESSION_TOUCH_SECONDS):
        UserSession.objects.filter(pk=tracked.pk).update(last_seen_at=now)
        tracked.last_seen_at = now
    request.user_session = tracked


# --- Showing sessions: a short, human device label from the User-Agent header.

_BROWSERS = (
    (re.compile(r"Edg(?:e|A|iOS)?/"), "Edge"),
    (re.compile(r"OPR/|Opera"), "Opera"),
    (re.compile(r"SamsungBrowser/"), "Samsung Internet"),
    (re.compile(r"Firefox/|FxiOS/"), "Firefox"),
    (re.compile(r"Chrome/|CriOS/|Chromium/"), "Chrome"),
    (re.compile(r"Safari/"), "Safari"),
    (re.compile(r"^curl/"), "curl"),
)
_SYSTEMS = (
    (re.compile(r"iPhone"), "iPhone"),
    (re.compile(r"iPad"), "iPad"),
    (re.compile(r"Android"), "Android"),
    (re.compile(r"Windows"), "Windows"),
    (re.compile(r"CrOS"), "ChromeOS"),
    (re.compile(r"Mac OS X|Macintosh"), "macOS"),
    (re.compile(r"Linux"), "Linux"),
)


def device_label(user_agent: str) -> str:
    """ "Firefox on Windows", "Safari on iPhone", or "Unknown device"."""
    browser = next((name for pattern, name in _BROWSERS if pattern.search(user_agent)), "")
    system = next((name for pattern, name in _SYSTEMS if pattern.search(user_agent)), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"
