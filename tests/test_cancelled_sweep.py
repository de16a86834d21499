"""A cancelled workspace is read-only: every tenant URL, every mutating method, swept.

The URL list is enumerated from the tenant URLconf (``tests.urls.tenant_urls``), so a new URL
is covered the moment it is routed. With acme CANCELLED (only for the test; the fixture puts it
back), a member holding each view's capability (the owner, or for the customer-only
capabilities a company admin) gets:

- for POST, PUT, PATCH and DELETE of every URL whose view is not allowed when cancelled: the
  gate's 403 with its read-only message (the view never runs, so placeholder ids do);
- for the views in :data:`ALLOWED_WHEN_CANCELLED`: anything but that 403;
- for GET of every URL: 200, exactly as before cancelling.

:data:`ALLOWED_WHEN_CANCELLED` is written out here by hand and must equal the set of views the
code marks ``allowed_when_cancelled``: marking another view fails this sweep until the list
here is changed too, in a change a reviewer sees.

PUBLIC views (reached before signing in) are outside the gate's membership checks and so
outside its read-only rule; the ones that write refuse a non-active workspace in their own
service. :data:`PUBLIC_WRITES_CHECKED_BY_THEIR_SERVICE` names them, and a test per entry shows
the refusal.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from conftest import sign_in_client
from kernel.capabilities import CANCELLED_WORKSPACE_CAPABILITIES, PUBLIC, ROLE_CAPABILITIES
from kernel.decorators import declared_capability
from kernel.roles import Role
from rbac.models import Membership
from tenants.models import Tenant
from tests.test_role_matrix import Cell, _path, accepted_methods
from tests.urls import TenantUrl, tenant_urls
from workspace.middleware import WORKSPACE_READ_ONLY_MESSAGE

pytestmark = pytest.mark.django_db

MUTATING = ("POST", "PUT", "PATCH", "DELETE")

# Every view a cancelled workspace still lets change something. Reviewed one by one; keep the
# reason beside each group.
ALLOWED_WHEN_CANCELLED = frozenset(
    {
        # Signing in and out, with the second factor (a cancelled workspace stays readable).
        "accounts:sign-in",
        "accounts:sign-out",
        "accounts:two-factor-verify",
        "accounts:two-factor-verify-recovery",
        # Getting back into one's own account to reach the export.
        "accounts:password-reset",
        "accounts:password-reset-sent",
        "accounts:password-reset-link",
        "accounts:password-reset-new",
        # The member's own account security (their password, 2FA and sessions, not the
        # workspace's data).
        "accounts:security",
        "accounts:password-change",
        "accounts:session-revoke",
        "accounts:sign-out-everywhere",
        "accounts:two-factor",
        "accounts:two-factor-setup",
        "accounts:two-factor-recovery-codes",
        "accounts:two-factor-disable",
        # Export only: starting an export and minting its download link.
        "exports:start",
        "exports:link",
        # A customer's export of their own company's desk data from the portal (POST: it is
        # rate limited and audited; it writes nothing else).
        "desk:portal-export",
        # The lifecycle itself: the cancel page (shows the dates) and deleting at once.
        "workspace:cancel",
        "workspace:delete",
    }
)

# PUBLIC views that accept a mutating method and are not marked: the gate's read-only rule
# does not reach them, so their own service refuses a workspace that is not active.
PUBLIC_WRITES_CHECKED_BY_THEIR_SERVICE = frozenset(
    {
        "invitations:accept",
        # A document request's client: asking for and confirming a code, and uploading
        # (docrequests.services refuse with "not accepting uploads").
        "docrequests:code",
        "docrequests:item-upload",
    }
)


def _marked(url: TenantUrl) -> bool:
    return bool(getattr(url.callback, "allowed_when_cancelled", False))


def _mutating_public_urls() -> set[str]:
    names = set()
    for url in tenant_urls():
        if declared_capability(url.callback) != PUBLIC or _marked(url):
            continue
        if url.name.startswith("api:"):
            # The JSON API is PUBLIC to the session gate only: its own gate (api.gate) checks
            # each operation's capability in the workspace's state, swept for every write by
            # api/tests/test_gate.py::test_a_cancelled_workspace_refuses_api_writes...
            continue
        methods, _declared = accepted_methods(url)
        if set(methods) & set(MUTATING):
            names.add(url.name)
    return names


def _holder_role(capability: str) -> str:
    """The owner, unless the capability is one only another role holds (customer-only)."""
    if capability in ROLE_CAPABILITIES[Role.OWNER]:
        return Role.OWNER.value
    return next(role.value for role in Role if capability in ROLE_CAPABILITIES[role])


@pytest.fixture
def cancel_acme(acme):
    """cancel_acme() makes acme CANCELLED for this test only. save() (not update()), so the
    signal drops the cached host lookup both ways; restored in teardown whatever happens."""
    before = (acme.state, acme.billing_status, acme.cancelled_at)

    def cancel() -> Tenant:
        acme.state = Tenant.State.CANCELLED
        acme.billing_status = Tenant.BillingStatus.CANCELLED
        acme.cancelled_at = timezone.now()
        acme.save()
        return acme

    try:
        yield cancel
    finally:
        connection.set_schema_to_public()
        restored = Tenant.objects.get(pk=acme.pk)
        restored.state, restored.billing_status, restored.cancelled_at = before
        restored.save()


@pytest.fixture
def cancelled_acme(cancel_acme):
    return cancel_acme()


@pytest.fixture
def clients(cancelled_acme, member):
    """clients(role) -> a client signed in on acme as that seeded member, made once."""
    made: dict[str, Client] = {}

    def get(role: str) -> Client:
        if role not in made:
            made[role] = sign_in_client(Client(), member("acme", role), cancelled_acme)
        return made[role]

    return get


def _is_read_only_refusal(response) -> bool:
    return response.status_code == 403 and WORKSPACE_READ_ONLY_MESSAGE in response.content.decode()


# --- The allow-list is the code's, reviewed


def test_the_allow_list_is_exactly_the_views_the_code_marks_allowed_when_cancelled():
    marked = {url.name for url in tenant_urls() if _marked(url)}
    assert marked == ALLOWED_WHEN_CANCELLED, (
        f"newly marked: {sorted(marked - ALLOWED_WHEN_CANCELLED)}; "
        f"no longer marked: {sorted(ALLOWED_WHEN_CANCELLED - marked)}"
    )


def test_the_public_views_that_write_are_the_reviewed_ones():
    assert _mutating_public_urls() == PUBLIC_WRITES_CHECKED_BY_THEIR_SERVICE


# --- Mutating requests


def test_every_mutating_request_to_a_view_not_allowed_is_refused_with_the_read_only_403(
    clients,
):
    refused = 0
    problems: list[str] = []
    for url in tenant_urls():
        capability = declared_capability(url.callback)
        if capability == PUBLIC or url.name in ALLOWED_WHEN_CANCELLED:
            continue
        path = url.path(**url.placeholder_kwargs())
        client = clients(_holder_role(capability))
        for method in MUTATING:
            response = client.generic(method, path)
            if _is_read_only_refusal(response):
                refused += 1
            else:
                problems.append(f"{method} {path} ({url.name}): {response.status_code}")
    assert problems == [], "\n".join(problems)
    assert refused >= 4 * 50  # the sweep really covered the workspace's URLs


def test_the_views_allowed_when_cancelled_are_not_refused_by_the_gate(cancelled_acme, member):
    tried = 0
    problems: list[str] = []
    for url in tenant_urls():
        capability = declared_capability(url.callback)
        if url.name not in ALLOWED_WHEN_CANCELLED or capability == PUBLIC:
            continue
        methods, _declared = accepted_methods(url)
        role = _holder_role(capability)
        for method in [m for m in methods if m in MUTATING]:
            # A fresh session each time: some of these end the session that makes them.
            client = sign_in_client(Client(), member("acme", role), cancelled_acme)
            response = client.generic(method, url.path(**url.placeholder_kwargs()))
            tried += 1
            if _is_read_only_refusal(response) or response.status_code >= 500:
                problems.append(f"{method} {url.name}: {response.status_code}")
    assert problems == [], "\n".join(problems)
    assert tried >= 10


def test_an_invitation_cannot_be_accepted_in_a_cancelled_workspace(cancelled_acme):
    from rbac.models import Invitation
    from rbac.selectors import token_digest

    token = uuid.uuid4().hex
    owner = Membership.objects.get(tenant=cancelled_acme, role=Role.OWNER)
    Invitation.objects.create(
        tenant=cancelled_acme,
        email="late-joiner@example.com",
        role=Role.SALES,
        token_digest=token_digest(token),
        invited_by=owner.user,
        expires_at=timezone.now() + timedelta(days=7),
    )
    response = Client(HTTP_HOST="acme.localhost").post(
        f"/invitations/{token}/",
        {"password": "a long enough password 1", "full_name": "Late Joiner"},
    )
    assert response.status_code == 410
    assert not Membership.objects.filter(user__email="late-joiner@example.com").exists()


# --- Reading


def test_every_page_of_a_kept_capability_answers_as_before_and_every_other_page_is_refused(
    acme, cancel_acme, member
):
    """GET pages of the capabilities a cancelled workspace keeps (reading, exporting, one's
    own account, the lifecycle pages) give the same answer cancelled as active: 200 stays 200
    (a page that redirects in the seeded state, such as editing a sent quote, redirects the
    same way). Every other page (a form for a write the workspace would refuse) answers the
    read-only 403, so no button leads to a form that cannot be submitted."""
    clients: dict[str, Client] = {}
    requests: list[tuple[str, str, str, str]] = []
    for url in tenant_urls():
        capability = declared_capability(url.callback)
        if capability == PUBLIC:
            continue
        methods, declared = accepted_methods(url)
        if "GET" not in methods or not declared:
            continue  # views that check the method themselves take GET only where declared
        role = _holder_role(capability)
        viewer = Membership.objects.select_related("user", "tenant").get(
            tenant=acme, user__email=f"{role}@acme.example"
        )
        if role not in clients:
            clients[role] = sign_in_client(Client(), member("acme", role), acme)
        path = _path(Cell(url, "GET", capability, declared), acme, viewer)
        requests.append((role, path, url.name, capability))

    def answers() -> list:
        return [clients[role].get(path) for role, path, _name, _capability in requests]

    def summary(response) -> tuple[int, str]:
        return (response.status_code, response.headers.get("Location", ""))

    active = [summary(response) for response in answers()]
    cancel_acme()
    cancelled = answers()
    problems = []
    kept = refused = 0
    for (_role, path, name, capability), before, after in zip(
        requests, active, cancelled, strict=True
    ):
        if capability in CANCELLED_WORKSPACE_CAPABILITIES:
            kept += summary(after)[0] == 200
            if summary(after) != before:
                problems.append(f"GET {path} ({name}): {before} active, {summary(after)}")
        elif before[0] == 200:
            refused += 1
            if not _is_read_only_refusal(after):
                problems.append(f"GET {path} ({name}): {after.status_code}, not the 403")
    assert problems == [], "\n".join(problems)
    assert kept >= 20, f"only {kept} pages answered 200"
    assert refused >= 10, f"only {refused} write pages were refused"
    for path in ("/", "/settings/", "/settings/exports/", "/settings/cancel/", "/quotes/"):
        assert clients["owner"].get(path).status_code == 200, path


def test_a_cancelled_workspace_shows_the_owner_no_write_buttons_but_keeps_export(clients):
    """The caps templates read are the gate's narrowed set: list pages lose their "New" and
    "Delete" buttons, the export stays."""
    owner = clients("owner")
    companies = owner.get("/companies/").content.decode()
    assert "/companies/new/" not in companies
    assert "/delete/" not in companies
    home = owner.get("/settings/").content.decode()
    assert "/settings/exports/" in home
    assert "/settings/security/" not in home  # a workspace setting, not the member's own
