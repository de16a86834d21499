"""The one rate limiter: every public or unauthenticated endpoint is counted here.

What it does. Each public view declares the limits its requests are counted against
(``@throttle.limited_by(SIGN_UP)``, or ``@throttle.not_limited("why")`` for a static page);
a limit (``throttle.Limit``) holds rules, each counting one subject: the client address
(``kernel.context.client_ip``, which honours ``AUDIT_TRUSTED_PROXY_COUNT``: the part of
X-Forwarded-For beyond our own proxies is never trusted; an IPv6 /64 is one address) and a
target (the email typed, an emailed link, a workspace, an API token). The service (or the
view, for a bare link) counts the request where the target is known::

    from accounts import throttle

    FIND_WORKSPACES = throttle.Limit(
        name="find_workspaces",
        rules=(
            throttle.Rate(throttle.Per.IP, 10, 3600),
            throttle.Rate(throttle.Per.EMAIL, 1, 3600),
        ),
        message="...",
        event=Event.REQUEST_THROTTLED,
    )
    throttle.limit(FIND_WORKSPACES, ip=ip, email=email)  # raises throttle.Throttled
    with throttle.counted(SIGN_UP_CONFIRM, ip=ip, link=token):  # counted only if it succeeds
        ...

and the view answers ``Throttled`` with ``throttle.refusal_page``: 429, ``Retry-After``, and
the form again with the message at the top. Two kinds of rule (``rules.py``): ``Rate`` (at
most N in any sliding window) and ``Backoff`` (growing delays after failures, the sign-in
guessing defence in ``sign_in.py``, shared by the password, TOTP, recovery codes and emailed
codes). ``settings.RATE_LIMITS`` overrides any rule's numbers by name. A later endpoint (an
upload link, the API per token and per address) plugs in by declaring a ``Limit`` and calling
``limit``; ``tests/test_rate_limits.py`` enumerates both URLconfs and fails for an anonymous
view that declares nothing, and drives every declared rule past its limit.

Where the counts live, and why. In PostgreSQL (``accounts.RateLimitCounter``, public
schema), not in Redis:

* they survive a restart or flush of Redis (which keeps no durable copy here) and cannot be
  reset by an attacker who can make Redis fail over;
* they never fail open: nothing is read through the cache, whose errors another part of the
  product deliberately swallows (pages keep working from PostgreSQL when Redis is down); a
  limiter built on it would silently stop counting. If PostgreSQL itself is down the
  request fails, closed, like everything else that needs the database;
* one row per rule and subject, updated under a row lock in one transaction, counts
  concurrent requests exactly; a Redis counter with a PostgreSQL fallback would split the
  count between two stores during an outage, which is failing partly open;
* the cost is one short locked upsert per counted request, on endpoints that already write
  to PostgreSQL (sessions, audit events); a refused request counts nothing (its row is
  locked and written back unchanged) and writes its audit event at most once a minute.

Rows name no workspace (keys are HMACs of the subject under the secret key, never an email or
address in clear), so they need no row-level security; expired rows are deleted hourly
(``accounts.tasks.expired_rows_purge``).

Why not a library. django-ratelimit counts in Django's cache (fixed windows, and it fails
open or closed only as the cache backend does, which here swallows Redis errors); django-axes
covers sign-in only and locks accounts instead of slowing guessers down. Neither counts a
target known only after the form is validated (the email typed, a link), nor shares one
count between the password and every second factor.

Floor: accounts, below every app that has a public endpoint (rbac, workspace, support, api).
"""

from __future__ import annotations

from .limiter import (
    LINK_VISIT,
    PURGE_AFTER_EXPIRY,
    THROTTLED_AUDIT_EVERY_SECONDS,
    Counted,
    Throttled,
    counted,
    counters_purge,
    key_id,
    limit,
    link_visit_limited,
    refund,
    refusal_page,
    rule_now,
    subject_key,
)
from .rules import (
    MAX_DELAY_SECONDS,
    Backoff,
    Limit,
    Per,
    Rate,
    Rule,
    declared_limits,
    delay_after,
    email_normalise,
    ip_bucket,
    limited_by,
    not_limited,
)
from .sign_in import (
    ACCOUNT_FAILURES_BEFORE_DELAY,
    IP_FAILURES_BEFORE_DELAY,
    IP_WINDOW_SECONDS,
    LOCK_AFTER_FAILURES,
    LOCKED_RETRY_AFTER_SECONDS,
    SIGN_IN,
    SIGN_IN_THROTTLED_MESSAGE,
    UNKNOWN_EMAIL_MEMORY_SECONDS,
    Factor,
    sign_in_attempt_check,
    sign_in_failure_record,
    sign_in_lock_clear,
    sign_in_success_record,
)

__all__ = [
    "ACCOUNT_FAILURES_BEFORE_DELAY",
    "IP_FAILURES_BEFORE_DELAY",
    "IP_WINDOW_SECONDS",
    "LINK_VISIT",
    "LOCKED_RETRY_AFTER_SECONDS",
    "LOCK_AFTER_FAILURES",
    "MAX_DELAY_SECONDS",
    "PURGE_AFTER_EXPIRY",
    "SIGN_IN",
    "SIGN_IN_THROTTLED_MESSAGE",
    "THROTTLED_AUDIT_EVERY_SECONDS",
    "UNKNOWN_EMAIL_MEMORY_SECONDS",
    "Backoff",
    "Counted",
    "Factor",
    "Limit",
    "Per",
    "Rate",
    "Rule",
    "Throttled",
    "counted",
    "counters_purge",
    "declared_limits",
    "delay_after",
    "email_normalise",
    "ip_bucket",
    "key_id",
    "limit",
    "limited_by",
    "link_visit_limited",
    "not_limited",
    "refund",
    "refusal_page",
    "rule_now",
    "sign_in_attempt_check",
    "sign_in_failure_record",
    "sign_in_lock_clear",
    "sign_in_success_record",
    "subject_key",
]
