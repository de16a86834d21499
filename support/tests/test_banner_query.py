"""The "support is viewing" banner's query, which the gate embeds in its one lookup, compiled
once per process: the cached SQL and parameters must be exactly what the query compiles to."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from support.selectors import workspace_support_until_query, workspace_support_until_sql

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("hours_ago", [0, 5, 24 * 400])
def test_the_cached_banner_sql_is_what_the_query_compiles_to(acme, globex, hours_ago):
    now = timezone.now() - timedelta(hours=hours_ago)
    for tenant in (acme, globex):
        compiled = workspace_support_until_query(tenant, now).query.sql_with_params()
        assert workspace_support_until_sql(tenant, now) == (compiled[0], list(compiled[1]))
