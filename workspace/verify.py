"""The "Verify it yourself" page's checks: live evidence of the workspace's security posture.

Invariant: every result is computed now, by the selectors the rest of the product reads (the
audit chain verifier behind ``audit_verify``, the 2FA rule of the gate and the members page,
the members and invitations lists, support grants and impersonation sessions, the API token
list's liveness rule, document requests' ``is_live``, the session timeouts the gate enforces,
the export jobs list); nothing is read from a stored "passed" flag. A check whose selector the
request may not read (the member's role, narrowed in a support session) says so instead of
guessing, and a "fix it" link appears only when the request may open the page it leads to.
Each query is bounded: aggregates or one list of the workspace's members, never a query per
member.

The viewer is the Membership of the workspace whose host the request is on (the gate made the
connection current); running the checks is audited once (``SECURITY_CHECKS_RUN``) with what the
audit chain check found, so an owner can later see when it was verified and how far.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.urls import resolve, reverse
from django.utils import formats, timezone

from accounts.selectors import workspace_sessions_active
from accounts.twofactor.selectors import users_with_2fa
from api.selectors import api_token_counts
from audit.events import Event
from audit.selectors import ChainCheck, audit_chain_check, audit_sign_ins_since
from audit.services import audit_event_record
from docrequests.selectors import requests_live
from exports.models import ExportJob
from exports.selectors import export_jobs_visible
from kernel.capabilities import (
    DOCREQUESTS_VIEW,
    EXPORTS_RUN,
    MEMBERS_VIEW,
    SECURITY_VERIFY,
    Capability,
    require,
)
from kernel.decorators import declared_capability
from rbac.models import Membership
from rbac.selectors import invitation_list, membership_list
from support.selectors import workspace_support_activity
from tenants.models import Tenant

# Statuses, in the words the page shows beside each check.
OK = "ok"  # verified / as it should be
ATTENTION = "attention"  # true, and worth a look (someone without 2FA, a stale member...)
FAILED = "failed"  # the check found a fault (the audit chain does not verify)
PARTIAL = "partial"  # the check ran out of time before the end: what it covered is stated
INFO = "info"  # a fact, not a judgement (where data is stored)
UNAVAILABLE = "unavailable"  # nothing to check yet, or not visible to this role

STATUS_LABELS = {
    OK: "OK",
    ATTENTION: "Needs attention",
    FAILED: "Failed",
    PARTIAL: "Partly verified",
    INFO: "Information",
    UNAVAILABLE: "Not available",
}

STALE_DAYS = 90
SUPPORT_DAYS = 90
TOKEN_EXPIRING_DAYS = 30
NAMES_SHOWN = 10  # members named in a check's evidence; the rest are counted

NOT_VISIBLE = "Your role cannot see this check (it needs {capability})."
BACKUP_NOT_AVAILABLE = (
    "Not yet available: automated backups and their restore tests are not built yet, so there "
    "is no restore test to show. This check will show the last one once they exist."
)


@dataclass(frozen=True)
class Link:
    url: str
    label: str


@dataclass
class Check:
    key: str
    title: str
    status: str
    summary: str
    evidence: list[str] = field(default_factory=list)
    fix: Link | None = None
    more: list[Link] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def _day(moment: datetime | None) -> str:
    return formats.date_format(timezone.localtime(moment), "j F Y, H:i") if moment else ""


def _names(members: list[Membership]) -> str:
    shown = ", ".join(m.user.full_name or m.user.email for m in members[:NAMES_SHOWN])
    rest = len(members) - NAMES_SHOWN
    return f"{shown} and {rest} more" if rest > 0 else shown


def _link(caps: frozenset[str], url_name: str, label: str) -> Link | None:
    """A link to the page named ``url_name``, only when this request may open it (the
    capability that page itself declares), so the page never offers a link it would refuse."""
    url = reverse(url_name)
    return Link(url, label) if declared_capability(resolve(url).func) in caps else None


def _hidden(key: str, title: str, capability: Capability) -> Check:
    return Check(key, title, UNAVAILABLE, NOT_VISIBLE.format(capability=capability))


# --- The audit chain ---------------------------------------------------------------------------


def _audit_chain(viewer: Membership, caps: frozenset[str]) -> tuple[Check, ChainCheck]:
    result = audit_chain_check(viewer=viewer, seconds=settings.VERIFY_AUDIT_CHAIN_SECONDS)
    report = result.report
    evidence: list[str] = []
    broken = report.first_break
    digest = result.digest
    if broken is not None:
        status = FAILED
        where = f"event {broken.sequence}" + (f" (id {broken.event_id})" if broken.event_id else "")
        summary = f"The audit chain does not verify: {where} {broken.reason}."
        if report.head_sequence:
            evidence.append(f"Events 1 to {report.head_sequence} verify; the chain breaks after.")
    elif digest.problem:
        status = FAILED
        summary = f"The events verify, but the newest signed digest does not: {digest.problem}."
    elif not report.complete and not report.head_sequence:
        status = PARTIAL
        summary = (
            f"None of the {result.head} events could be verified within the "
            f"{settings.VERIFY_AUDIT_CHAIN_SECONDS:g} s this page allows; nothing is claimed "
            "about them now."
        )
    elif not report.complete:
        status = PARTIAL
        summary = (
            f"Events 1 to {report.head_sequence} of {result.head} verified in "
            f"{result.seconds:.1f} s, the time this page allows; events "
            f"{report.head_sequence + 1} to {result.head} were not checked now."
        )
    else:
        status = OK
        summary = (
            f"All {result.head} events verified just now under the chain keys "
            f"({result.seconds:.2f} s)."
            if result.head
            else "The audit log is empty: nothing to verify yet."
        )
    if report.head_sequence:
        evidence.append(
            f"Newest verified link: event {report.head_sequence}, {report.head_hash[:16]}…"
        )
    stored = digest.digest
    if stored is None:
        evidence.append(
            "No signed digest has been anchored yet (they are written hourly); until then the "
            "chain is checked against the keys alone."
        )
    elif not digest.problem:
        document = stored.document
        anchored = (
            f"Latest anchored digest: {stored.name.rsplit('/', 1)[-1]}, signed at "
            f"{document.get('time', '')}, covering events 1 to {document.get('last_sequence')} "
            f"(link {str(document.get('last_link', ''))[:16]}…); its Ed25519 signature verifies."
        )
        evidence.append(anchored)
        if result.anchor_checked:
            evidence.append("The stream still holds the anchored event with the anchored link.")
        elif result.anchor_sequence is not None and broken is None:
            evidence.append(
                f"The anchored event {result.anchor_sequence} was not reached within the time "
                "allowed, so it was not compared now."
            )
    digests = _link(
        caps,
        "audit:digest-download",
        "Download the signed digests, the public key and the offline verifier",
    )
    evidence.append(
        "To verify offline: export the audit log as JSON Lines from its first event, download "
        "the signed digests, check each signature with openssl and run verify_export.py "
        "(the steps are in the ZIP's README and in docs/audit.md, 'Checking an export "
        "offline')."
    )
    fix = _link(caps, "audit:event-list", "Open the audit log")
    more = [digests] if digests else []
    check = Check("audit-chain", "Audit log integrity", status, summary, evidence, fix, more)
    return check, result


# --- People ------------------------------------------------------------------------------------


def _people(viewer: Membership, tenant: Tenant, now: datetime, caps: frozenset[str]) -> list[Check]:
    titles = ("Two-factor authentication", "Members inactive for 90 days", "Open invitations")
    if MEMBERS_VIEW not in caps:
        keys = ("two-factor", "stale-members", "invitations")
        return [_hidden(key, title, MEMBERS_VIEW) for key, title in zip(keys, titles, strict=True)]
    members = list(membership_list(viewer=viewer).filter(is_active=True))
    enrolled = users_with_2fa(m.user_id for m in members)
    missing = [m for m in members if m.user_id not in enrolled]
    fix_2fa = _link(caps, "two-factor-workspace:settings", "Two-factor requirement")
    required = "required for every member" if tenant.require_2fa else "not required"
    two_factor = Check(
        "two-factor",
        titles[0],
        OK if not missing else ATTENTION,
        f"{len(members) - len(missing)} of {len(members)} members have two-factor "
        f"authentication on. The workspace's requirement: {required}.",
        [f"Without it: {_names(missing)}."] if missing else [],
        fix_2fa,
    )
    if missing and tenant.require_2fa:
        two_factor.evidence.append(
            "They must set it up at their next sign-in before they can reach anything else."
        )

    since = now - timedelta(days=STALE_DAYS)
    signed_in = audit_sign_ins_since(viewer=viewer, since=since)
    eligible = [m for m in members if m.created_at <= since]
    stale = [m for m in eligible if m.user_id not in signed_in]
    members_link = _link(caps, "rbac:member-list", "Members")
    stale_check = Check(
        "stale-members",
        titles[1],
        OK if not stale else ATTENTION,
        f"{len(stale)} of {len(eligible)} members who joined over {STALE_DAYS} days ago have "
        f"not signed in to this workspace for {STALE_DAYS} days (as its audit log records "
        "sign-ins).",
        [f"Not signed in: {_names(stale)}. Remove them if they no longer need access."]
        if stale
        else [],
        members_link,
    )

    open_invitations = invitation_list(viewer=viewer).aggregate(
        pending=Count("pk", filter=Q(expires_at__gt=now)),
        expired=Count("pk", filter=Q(expires_at__lte=now)),
    )
    pending, expired = open_invitations["pending"], open_invitations["expired"]
    invitations = Check(
        "invitations",
        titles[2],
        OK if not (pending or expired) else ATTENTION,
        f"{pending} invitation{'s' if pending != 1 else ''} waiting to be accepted, "
        f"{expired} expired and not revoked.",
        ["Each pending link lets whoever holds it join with its role until it expires."]
        if pending
        else [],
        members_link,
    )
    return [two_factor, stale_check, invitations]


# --- Access from outside -----------------------------------------------------------------------


def _support(tenant: Tenant, now: datetime, caps: frozenset[str]) -> Check:
    activity = workspace_support_activity(tenant, since=now - timedelta(days=SUPPORT_DAYS))
    evidence = [
        f"{activity.grants} access grant{'s' if activity.grants != 1 else ''} in force during "
        f"the last {SUPPORT_DAYS} days, {activity.grants_live} live now.",
        f"{activity.sessions} support session{'s' if activity.sessions != 1 else ''} "
        f"({activity.write_sessions} allowed to write) by {activity.agents} "
        f"agent{'s' if activity.agents != 1 else ''}"
        + (
            f"; the last began {_day(activity.last_session_started_at)}."
            if activity.sessions
            else "."
        ),
        "Every session is in the audit log, with the agent as the actor.",
    ]
    summary = (
        "Support access is switched off: no grant can be made and no session can start."
        if activity.access_disabled
        else (
            f"Support can enter now, under {activity.grants_live} live grant"
            f"{'s' if activity.grants_live != 1 else ''}."
            if activity.grants_live
            else "Support cannot enter now: there is no live grant."
        )
    )
    fix = _link(caps, "support_access:settings", "Support access")
    status = ATTENTION if activity.grants_live else OK
    return Check("support", "Support access (last 90 days)", status, summary, evidence, fix)


def _tokens(viewer: Membership, now: datetime, caps: frozenset[str]) -> Check:
    counts = api_token_counts(
        viewer=viewer, now=now, expiring_within=timedelta(days=TOKEN_EXPIRING_DAYS)
    )
    evidence = [
        f"{counts.expiring} expire within {TOKEN_EXPIRING_DAYS} days.",
        f"{counts.never_used} have never been used: revoke the ones nobody needs.",
    ]
    return Check(
        "api-tokens",
        "Personal API tokens",
        ATTENTION if counts.never_used or counts.expiring else OK,
        f"{counts.live} live token{'s' if counts.live != 1 else ''}.",
        evidence,
        _link(caps, "api-tokens:list", "API tokens"),
    )


def _document_links(viewer: Membership, now: datetime, caps: frozenset[str]) -> Check:
    if DOCREQUESTS_VIEW not in caps:
        return _hidden("document-links", "Document request links", DOCREQUESTS_VIEW)
    live = requests_live(viewer, now=now).count()
    return Check(
        "document-links",
        "Document request links",
        OK,
        f"{live} document request link{'s' if live != 1 else ''} live now: each lets the "
        "client it was sent to upload files until it expires or is revoked.",
        [],
        _link(caps, "docrequests:list", "Document requests"),
    )


# --- Sessions, export, storage, backups ----------------------------------------------------------


def _sessions(tenant: Tenant, caps: frozenset[str]) -> Check:
    live = workspace_sessions_active(tenant=tenant).count()
    fix = _link(caps, "workspace:security-settings", "Security settings")
    return Check(
        "sessions",
        "Sessions and timeouts",
        INFO,
        f"A session ends after {tenant.session_idle_minutes} minutes without a click, and "
        f"{tenant.session_absolute_hours} hours after sign-in at the latest.",
        [
            f"{live} signed-in session{'s' if live != 1 else ''} live now under these timeouts.",
            "Sessions are bound to this workspace's address: a session here is worthless at "
            "any other workspace.",
        ],
        fix,
    )


def _last_export(viewer: Membership, caps: frozenset[str]) -> Check:
    if EXPORTS_RUN not in caps:
        return _hidden("last-export", "Last export", EXPORTS_RUN)
    jobs = export_jobs_visible(viewer=viewer)
    last = jobs.first()
    last_ready = (
        jobs.filter(finished_at__isnull=False).exclude(status=ExportJob.Status.FAILED).first()
    )
    link = _link(caps, "exports:list", "Exports")
    if last is None:
        return Check(
            "last-export", "Last export", INFO, "The workspace has never been exported.", [], link
        )
    evidence = [f"Last requested {_day(last.created_at)}: {last.get_status_display().lower()}."]
    if last_ready is not None:
        evidence.append(
            f"Last one built {_day(last_ready.finished_at)}"
            + (
                f" (SHA-256 {last_ready.archive_sha256[:16]}…)."
                if last_ready.archive_sha256
                else "."
            )
        )
    summary = (
        f"Last export finished {_day(last_ready.finished_at)}."
        if last_ready is not None
        else "No export has finished yet."
    )
    return Check("last-export", "Last export", INFO, summary, evidence, link)


def _storage() -> Check:
    private: Any = settings.STORAGES["private"]
    options: Any = private.get("OPTIONS", {})
    if str(private["BACKEND"]).endswith("S3Storage"):
        region = options.get("region_name") or "the provider's default region"
        files = f"S3-compatible object storage, bucket region: {region}"
    else:
        files = "the application server's private disk (not served by URL)"
    database = connection.settings_dict
    schema = connection.schema_name  # type: ignore[attr-defined]
    version = connection.pg_version  # type: ignore[attr-defined]
    where = database.get("HOST") or "a local socket"
    if str(where).startswith("/"):
        where = "a local socket"
    return Check(
        "storage",
        "Where the data is stored",
        INFO,
        f"Records: PostgreSQL {version // 10000}, in this workspace's own schema ({schema}); "
        f"files: {files}.",
        [
            f"Database server: {where}.",
            "Files are kept under a prefix of this workspace and downloaded only through "
            "pages that check the member's role.",
        ],
        None,
    )


def _backups() -> Check:
    return Check("backups", "Last backup restore test", UNAVAILABLE, BACKUP_NOT_AVAILABLE)


# --- The page ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecurityChecks:
    checks: list[Check]
    ran_at: datetime


def security_checks_run(
    *, viewer: Membership, tenant: Tenant, caps: frozenset[str]
) -> SecurityChecks:
    """Run every check for ``viewer`` now and record that they ran (``SECURITY_CHECKS_RUN``,
    written here with what the chain check covered and each check's status). ``caps``: what
    the request may do (a support session holds less than the member), for the links shown."""
    require(viewer, SECURITY_VERIFY)
    now = timezone.now()
    chain, chain_result = _audit_chain(viewer, caps)
    checks = [
        chain,
        *_people(viewer, tenant, now, caps),
        _support(tenant, now, caps),
        _tokens(viewer, now, caps),
        _document_links(viewer, now, caps),
        _sessions(tenant, caps),
        _last_export(viewer, caps),
        _storage(),
        _backups(),
    ]
    report = chain_result.report
    with transaction.atomic():
        audit_event_record(
            event_type=Event.SECURITY_CHECKS_RUN,
            data={
                "audit_chain": {
                    "head": chain_result.head,
                    "verified_through": report.head_sequence,
                    "complete": report.complete,
                    "broken_at": report.first_break.sequence if report.first_break else None,
                },
                "checks": {check.key: check.status for check in checks},
            },
        )
    return SecurityChecks(checks, now)
