"""The "Verify it yourself" page (/settings/verify/): each check follows the state behind it.

Every test changes that state through the service (or, for the audit chain, the database
itself, as an attacker would) and reads the page again: the check's section changes with it.
"""

from __future__ import annotations

import html
import os
import re
from datetime import timedelta
from urllib.parse import urlparse, urlunparse

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import User
from accounts.tests.twofactor_helpers import enroll
from accounts.twofactor.models import EncryptedTOTPDevice
from audit.events import Event
from audit.services import audit_event_record
from audit.tests.streams import events_since, stream_head
from conftest import sign_in_client
from kernel.roles import Role
from rbac.models import Membership

pytestmark = pytest.mark.django_db

PAGE = "/settings/verify/"


def _owner(tenant) -> Membership:
    return Membership.objects.select_related("user").get(
        tenant=tenant, role=Role.OWNER, is_active=True
    )


def _section(response, key: str) -> str:
    """The text of one check's section, tags stripped and whitespace folded."""
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    match = re.search(rf'<section id="check-{key}".*?</section>', page, re.S)
    assert match, f"no check {key}"
    text = re.sub(r"<[^>]+>", " ", match.group(0))
    return " ".join(html.unescape(text).split())


def _status(response, key: str) -> str:
    page = response.content.decode()
    match = re.search(rf'<section id="check-{key}"[^>]*data-status="([a-z]+)"', page)
    assert match, f"no check {key}"
    return match.group(1)


@pytest.fixture
def owner_client(client_for):
    return client_for("acme", "owner")


# --- Who may see it


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("owner", 200),
        ("admin", 200),
        ("manager", 403),
        ("sales", 403),
        ("employee", 403),
        ("expert", 403),
        ("customer", 403),
    ],
)
def test_owners_and_admins_may_run_the_checks_and_other_roles_are_refused(client_for, role, status):
    assert client_for("acme", role).get(PAGE).status_code == status


def test_a_member_of_another_workspace_gets_the_missing_page_404(acme, member):
    intruder = sign_in_client(Client(), member("globex", "owner"), acme)
    missing = intruder.get("/settings/no-such-page/")
    response = intruder.get(PAGE)
    assert response.status_code == missing.status_code == 404
    assert response.content == missing.content


def test_the_settings_page_and_the_menu_link_to_it_only_for_those_who_may_see_it(client_for):
    owner_settings = client_for("acme", "owner").get("/settings/").content.decode()
    manager_settings = client_for("acme", "manager").get("/settings/").content.decode()
    assert owner_settings.count(f'href="{PAGE}"') == 2  # the settings list and the menu
    assert f'href="{PAGE}"' not in manager_settings


def test_the_page_takes_no_input_so_a_query_string_changes_nothing_and_writes_are_refused(
    owner_client,
):
    plain = owner_client.get(PAGE)
    odd = owner_client.get(PAGE, {"seconds": "-1", "days": "<script>", "page": "9" * 400})
    assert odd.status_code == 200
    for key in ("two-factor", "invitations", "api-tokens", "sessions", "storage"):
        assert _section(odd, key) == _section(plain, key)
    assert "<script>" not in odd.content.decode()
    # Characters nothing may store get the one clear refusal every page gives (kernel.input).
    assert owner_client.get(PAGE, {"x": "\x00"}).status_code == 400
    assert owner_client.post(PAGE).status_code == 405


# --- Running the checks


def test_running_the_checks_is_audited_with_what_the_chain_check_covered(acme, owner_client):
    head = stream_head(acme)
    response = owner_client.get(PAGE)
    assert response["Cache-Control"] == "private, no-store"
    (event,) = events_since(acme, head)
    assert event.event_name == "trust.security_checks.run"
    assert event.actor_email == _owner(acme).user.email
    chain = event.additional_data["audit_chain"]
    assert chain == {"head": head, "verified_through": head, "complete": True, "broken_at": None}
    assert event.additional_data["checks"]["audit-chain"] == "ok"
    assert event.additional_data["checks"]["backups"] == "unavailable"
    assert f"All {head} events verified just now" in _section(response, "audit-chain")


def test_a_chain_longer_than_the_time_allowed_is_reported_as_partly_verified_never_ok(
    acme, owner_client, settings
):
    settings.VERIFY_AUDIT_CHAIN_SECONDS = 0
    head = stream_head(acme)
    response = owner_client.get(PAGE)
    assert _status(response, "audit-chain") == "partial"
    text = _section(response, "audit-chain")
    assert f"None of the {head} events could be verified within the 0 s" in text
    assert "verified just now" not in text
    (event,) = events_since(acme, head)
    assert event.additional_data["audit_chain"]["complete"] is False


def test_the_latest_anchored_digest_is_shown_with_how_to_verify_it_offline(
    acme, owner_client, settings, tmp_path
):
    from audit.anchoring import Stream, audit_stream_anchor

    private = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path), "base_url": None},
    }
    settings.STORAGES = {**settings.STORAGES, "private": private}
    before = owner_client.get(PAGE)
    assert "No signed digest has been anchored yet" in _section(before, "audit-chain")
    with tenant_context(acme):
        audit_stream_anchor(stream=Stream(acme.slug, acme.schema_name, acme))
    anchored_head = stream_head(acme)
    after = owner_client.get(PAGE)
    text = _section(after, "audit-chain")
    assert f"covering events 1 to {anchored_head}" in text
    assert "its Ed25519 signature verifies" in text
    assert "The stream still holds the anchored event with the anchored link." in text
    assert "verify_export.py" in text
    assert 'href="/settings/audit/digests/"' in after.content.decode()


@pytest.fixture(scope="module")
def attacker(django_db_setup):
    """The embedded superuser on the test database, as audit/tests/test_tampering.py plays it:
    it alone may switch the append-only trigger off for its own session."""
    import psycopg

    from config.embedded import privileged_database_url

    url = urlparse(privileged_database_url())
    conn = psycopg.connect(
        urlunparse(url._replace(path="/" + settings.DATABASES["default"]["NAME"]))
    )
    yield conn
    conn.close()


def _without_trigger(attacker, schema: str, statement: str, params: list) -> None:
    with attacker.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(f"SET search_path = {schema}")
        cursor.execute(statement, params)
        cursor.execute("SET session_replication_role = origin")
    attacker.commit()


@pytest.mark.skipif(
    not os.environ.get("EMBEDDED_POSTGRES"),
    reason="needs the embedded server's superuser to play the privileged attacker",
)
def test_a_row_edited_in_the_database_fails_the_chain_check_and_names_the_event(
    acme, owner_client, attacker
):
    with attacker.cursor() as cursor:
        cursor.execute(f"SET search_path = {acme.schema_name}")
        cursor.execute("SELECT id, target_label FROM audit_auditevent WHERE sequence = 2")
        row_id, label = cursor.fetchone()
    attacker.commit()
    update = "UPDATE audit_auditevent SET target_label = %s WHERE id = %s"
    _without_trigger(attacker, acme.schema_name, update, ["someone else", row_id])
    try:
        response = owner_client.get(PAGE)
    finally:
        _without_trigger(attacker, acme.schema_name, update, [label, row_id])
    assert _status(response, "audit-chain") == "failed"
    text = _section(response, "audit-chain")
    assert f"The audit chain does not verify: event 2 (id {row_id}) content does not match" in text
    assert "Events 1 to 1 verify; the chain breaks after." in text
    assert _status(owner_client.get(PAGE), "audit-chain") == "ok"  # restored


# --- People


def test_two_factor_coverage_follows_enrolment(acme, owner_client, member):
    members = Membership.objects.filter(tenant=acme, is_active=True).count()
    enrolled_before = EncryptedTOTPDevice.objects.filter(
        confirmed=True, user__memberships__tenant=acme, user__memberships__is_active=True
    ).count()
    before = _section(owner_client.get(PAGE), "two-factor")
    assert f"{enrolled_before} of {members} members have two-factor" in before
    assert "requirement: not required" in before
    designer = member("acme", "designer")
    enroll(designer)
    enrolled = _section(owner_client.get(PAGE), "two-factor")
    assert f"{enrolled_before + 1} of {members} members have two-factor" in enrolled
    EncryptedTOTPDevice.objects.filter(user=designer).delete()
    unenrolled = _section(owner_client.get(PAGE), "two-factor")
    assert f"{enrolled_before} of {members} members have two-factor" in unenrolled
    assert designer.full_name in unenrolled  # named among those without it


def test_a_member_who_has_not_signed_in_for_90_days_is_named_until_they_sign_in(acme, owner_client):
    user = User.objects.create_user("dormant@acme.example", "x" * 16, full_name="Dora Mant")
    membership = Membership.objects.create(user=user, tenant=acme, role=Role.SALES)
    recent = _section(owner_client.get(PAGE), "stale-members")
    assert "Dora Mant" not in recent  # joined today: not 90 days yet
    Membership.objects.filter(pk=membership.pk).update(
        created_at=timezone.now() - timedelta(days=120)
    )
    stale = owner_client.get(PAGE)
    assert "Dora Mant" in _section(stale, "stale-members")
    assert _status(stale, "stale-members") == "attention"
    with tenant_context(acme):
        audit_event_record(event_type=Event.SIGN_IN_SUCCEEDED, actor=user, target=user)
    assert "Dora Mant" not in _section(owner_client.get(PAGE), "stale-members")


def test_an_invitation_is_counted_while_it_waits(acme, owner_client):
    from rbac.services import membership_invite

    def pending() -> int:
        text = _section(owner_client.get(PAGE), "invitations")
        return int(re.match(r"Open invitations .*? (\d+) invitations? waiting", text).group(1))

    before = pending()
    with tenant_context(acme):
        membership_invite(
            tenant=acme, actor=_owner(acme), email="newcomer@example.com", role=Role.SALES
        )
    assert pending() == before + 1


# --- Access from outside


def test_a_support_grant_shows_as_live_access(acme, owner_client):
    from support.models import ImpersonationSession
    from support.tests.factories import grant_for, support_agent

    def grants(text: str) -> int:
        return int(re.search(r"(\d+) access grants? in force during the last 90", text).group(1))

    before = _section(owner_client.get(PAGE), "support")
    assert "Support cannot enter now: there is no live grant." in before

    def sessions(text: str) -> int:
        return int(re.search(r"(\d+) support sessions? \(", text).group(1))

    grant = grant_for(acme, hours=4)
    now = timezone.now()
    ImpersonationSession.objects.create(
        agent=support_agent(),
        tenant=acme,
        acting_as=Membership.objects.get(tenant=acme, role=Role.MANAGER),
        grant=grant,
        reason="Customer cannot see quote",
        ticket_ref="SUP-1",
        started_at=now,
        last_seen_at=now,
    )
    after = owner_client.get(PAGE)
    text = _section(after, "support")
    assert "Support can enter now, under 1 live grant." in text
    assert grants(text) == grants(before) + 1
    assert "1 live now." in text
    assert sessions(text) == sessions(before) + 1
    assert "by 1 agent;" in text
    assert _status(after, "support") == "attention"


def test_api_tokens_expiring_soon_and_never_used_are_counted(acme, owner_client):
    from api.models import ApiToken
    from api.services import api_token_create

    def counts() -> tuple[int, int, int]:
        text = _section(owner_client.get(PAGE), "api-tokens")
        live = int(re.search(r"(\d+) live tokens?", text).group(1))
        expiring = int(re.search(r"(\d+) expire within 30 days", text).group(1))
        never = int(re.search(r"(\d+) have never been used", text).group(1))
        return live, expiring, never

    live, expiring, never = counts()
    owner = _owner(acme)
    with tenant_context(acme):
        created = api_token_create(
            tenant=acme,
            owner=owner,
            name="Short-lived",
            scopes=["companies:view"],
            expires_at=timezone.now() + timedelta(days=10),
            created_by=owner,
        )
    assert counts() == (live + 1, expiring + 1, never + 1)
    with tenant_context(acme):
        ApiToken.objects.filter(pk=created.token.pk).update(last_used_at=timezone.now())
    assert counts() == (live + 1, expiring + 1, never)


def test_a_document_request_link_is_live_until_revoked(acme, owner_client):
    from docrequests.services import ItemSpec, document_request_create, document_request_revoke
    from shop.models import Company

    def live() -> int:
        text = _section(owner_client.get(PAGE), "document-links")
        return int(re.search(r"(\d+) document request links? live now", text).group(1))

    before = live()
    owner = _owner(acme)
    with tenant_context(acme):
        issued = document_request_create(
            tenant=acme,
            actor=owner,
            company_id=Company.objects.order_by("pk").values_list("pk", flat=True).first(),
            recipients=["client@example.com"],
            title="Artwork",
            items=[ItemSpec("Logo")],
            lifetime_days=7,
        )
    assert live() == before + 1
    with tenant_context(acme):
        document_request_revoke(tenant=acme, actor=owner, document_request=issued.document_request)
    assert live() == before


# --- Sessions, exports, storage, backups


def test_the_timeouts_in_force_are_the_workspace_settings(acme, owner_client):
    acme.session_idle_minutes = 30
    acme.session_absolute_hours = 8
    acme.save()
    text = _section(owner_client.get(PAGE), "sessions")
    assert "after 30 minutes without a click, and 8 hours after sign-in" in text
    assert "1 signed-in session live now" in text  # the owner's own


def test_a_new_export_is_the_last_export(acme, owner_client):
    from exports.services import export_start

    with tenant_context(acme):
        job = export_start(tenant=acme, actor=_owner(acme))
    text = _section(owner_client.get(PAGE), "last-export")
    stamp = timezone.localtime(job.created_at).strftime("%H:%M")
    assert f"Last requested {timezone.localtime(job.created_at).day} " in text
    assert f"{stamp}: queued." in text


def test_storage_says_where_records_and_files_are_and_backups_are_not_yet_available(
    acme, owner_client
):
    response = owner_client.get(PAGE)
    storage = _section(response, "storage")
    assert f"in this workspace's own schema ({acme.schema_name})" in storage
    assert "the application server's private disk" in storage
    assert _status(response, "backups") == "unavailable"
    assert "Not yet available" in _section(response, "backups")


def test_the_number_of_queries_does_not_grow_with_the_members(acme, owner_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner_client.get(PAGE).status_code == 200
        return len(captured.captured_queries)

    queries()  # the first request of a client warms caches (the host map, the session)
    before = queries()
    for number in range(5):
        user = User.objects.create_user(f"extra{number}@acme.example", "x" * 16)
        Membership.objects.create(user=user, tenant=acme, role=Role.EMPLOYEE)
        enroll(user)
    assert queries() == before
