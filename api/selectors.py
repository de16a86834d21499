"""Reads of personal API tokens for the workspace's own pages.

Invariant: reads only the token table of the schema that is current, and only for a viewer of
that workspace: every member sees their own tokens, and a viewer who manages members
(``members:manage``) every member's, exactly as Settings -> API tokens lists them. "Live" means
what ``ApiToken.is_live`` means: not revoked and not past its expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet

from kernel.capabilities import MEMBERS_MANAGE, has_capability
from kernel.tenant_connection import tenant_connection

from .models import ApiToken


def api_tokens_visible(*, viewer) -> QuerySet[ApiToken]:
    if viewer is None or getattr(tenant_connection.tenant, "pk", None) != viewer.tenant_id:
        raise PermissionDenied("the API tokens of another workspace")
    tokens = ApiToken.objects.all()
    if not has_capability(viewer, MEMBERS_MANAGE):
        tokens = tokens.filter(membership_id=viewer.pk)
    return tokens


def live_q(now: datetime) -> Q:
    """``ApiToken.is_live`` as a query filter."""
    return Q(revoked_at__isnull=True, expires_at__gt=now)


@dataclass(frozen=True)
class TokenCounts:
    live: int
    expiring: int  # live, and past their expiry within the window
    never_used: int  # live, and never used
    window: timedelta


def api_token_counts(*, viewer, now: datetime, expiring_within: timedelta) -> TokenCounts:
    """How many of the tokens the viewer may see are live, expire soon, were never used: one
    aggregate query."""
    live = live_q(now)
    counts = api_tokens_visible(viewer=viewer).aggregate(
        live=Count("pk", filter=live),
        expiring=Count("pk", filter=live & Q(expires_at__lte=now + expiring_within)),
        never_used=Count("pk", filter=live & Q(last_used_at__isnull=True)),
    )
    return TokenCounts(counts["live"], counts["expiring"], counts["never_used"], expiring_within)
