"""URL-by-role matrix: every tenant URL, requested by every identity, equals the declared map.

The URL list is enumerated from the tenant URLconf (``tests.urls.tenant_urls``), so a new URL
is covered the moment it is routed; a URL whose view declares no capability fails
(``test_every_tenant_url_is_in_the_matrix``).

Identities (one test per identity, so one identity's writes never affect another's; each
test runs in a transaction that is rolled back):
  - the ten roles: acme's seeded member of that role (customer roles: of "Acme Customer One");
  - ``anonymous``: no session;
  - ``outsider``: globex's owner holding a session on acme's host (signed in, not a member).

Methods: GET and each mutating method (POST, PUT, PATCH, DELETE) the view accepts. Where the
view is wrapped in ``require_http_methods`` (or ``require_GET``/``require_POST``) that list is
used. A view that checks the method itself (it looks its object up first, so a foreign id is
a 404 for every method) is tried with GET and POST, and a 405 given to a role holding the
capability means "method not accepted": that cell is skipped.

Objects: a URL naming an object gets a real acme object the identity can see, picked through
the same selector the view uses (so an installer gets an order assigned to them, a customer
their own company's quote). Identities that lack the capability get any acme object: the gate
refuses them before the view looks anything up. Objects are picked at request time, and
mutating requests run after every GET, with the destructive ones (delete, remove, revoke)
last, so an earlier delete never leaves a later cell without an object. Each mutating request
uses a freshly signed-in client, because some of them end the session that made them.

Expected cell, for views that are not PUBLIC:
  - role holding the capability -> **allowed**, meaning the gate let the request through and
    the view itself answered: a 2xx; a 3xx whose Location is not the sign-in page; or the
    view's own refusal of the input or state - 400 (a form that failed validation), 409 (the
    state forbids it, e.g. an export already running), 410 (a used-up link). Never 401, 403,
    404 (the object was picked visible to the role, so a 404 would be a wrong refusal), a
    405 for a method the view declares, or a 5xx;
  - role lacking it -> 403;
  - ``outsider`` -> 404 (the same 404 a missing object gets);
  - ``anonymous`` -> 302 to the sign-in page with ``next`` set to the requested path.
PUBLIC views (sign-in, password reset, invitation links) have no 403/404 expectation and are
not requested here; their own tests cover them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django_tenants.utils import tenant_context

from conftest import sign_in_client
from kernel.capabilities import PUBLIC, ROLE_CAPABILITIES
from kernel.decorators import declared_capability
from kernel.roles import Role
from rbac.models import Membership
from tests.urls import TenantUrl, tenant_urls

pytestmark = pytest.mark.django_db

ROLES = [role.value for role in Role]
IDENTITIES = [*ROLES, "anonymous", "outsider"]
MUTATING = ("POST", "PUT", "PATCH", "DELETE")
_DESTRUCTIVE_WORDS = ("delete", "remove", "revoke", "sign-out")
SIGN_IN_PATH = reverse(settings.LOGIN_URL, urlconf="config.urls_tenant")
# Statuses with which a view (not the gate) refuses input or state after the gate let it in.
VIEW_REFUSALS = frozenset({400, 409, 410})


# --- What each URL accepts and which object it names ----------------------------------------


def accepted_methods(url: TenantUrl) -> tuple[list[str], bool]:
    """(methods to try, whether that list is declared). Reads ``request_method_list`` from
    the closure of Django's ``require_http_methods`` wrapper, anywhere in the wrap chain."""
    view = url.callback
    while view is not None:
        closure = inspect.getclosurevars(view).nonlocals if inspect.isfunction(view) else {}
        declared = closure.get("request_method_list")
        if declared is not None:
            methods = [m for m in ("GET", *MUTATING) if m in {d.upper() for d in declared}]
            return methods, True
        view = getattr(view, "__wrapped__", None)
    return ["GET", "POST"], False


def _shop(name: str) -> Callable:
    def pick(viewer):
        from shop import selectors

        return getattr(selectors, name)(viewer=viewer)

    return pick


def _desk(name: str) -> Callable:
    def pick(viewer):
        from desk import selectors

        return getattr(selectors, name)(viewer)

    return pick


def _document_requests(kind: str) -> Callable:
    def pick(viewer):
        from docrequests import selectors
        from docrequests.models import RequestItem, Upload

        visible = selectors.requests_visible(viewer)
        if kind == "items":
            return RequestItem.objects.filter(request__in=visible)
        if kind == "uploads":
            return Upload.objects.filter(item__request__in=visible)
        return visible

    return pick


def _audit_events(viewer):
    from audit.models import AuditEvent

    return AuditEvent.objects.all()


def _members(viewer):
    from rbac import selectors

    return selectors.membership_list(viewer=viewer)


def _company_members(viewer):
    from rbac import selectors

    return selectors.company_membership_list(viewer=viewer)


def _invitations(viewer):
    from rbac import selectors

    return selectors.invitation_list(viewer=viewer)


def _company_invitations(viewer):
    from rbac import selectors

    return selectors.company_invitation_list(viewer=viewer)


def _own_sessions(viewer):
    from accounts import selectors

    # The spare session the test made; revoking the one in use would end the client's own.
    return selectors.user_sessions_active(user=viewer.user, tenant=viewer.tenant).filter(
        user_agent=SPARE_SESSION_AGENT
    )


SPARE_SESSION_AGENT = "matrix-spare-session"


def _export_jobs(viewer):
    from exports import selectors

    return selectors.export_jobs_visible(viewer=viewer)


def _support_grants(viewer):
    from datetime import timedelta

    from django.utils import timezone

    from support.models import SupportAccessGrant

    # A revoke spends its grant: make a fresh one whenever none is left to revoke (directly:
    # an earlier cell may have switched support access off, which refuses new grants).
    live = SupportAccessGrant.objects.filter(tenant=viewer.tenant, revoked_at__isnull=True)
    if not live.exists():
        now = timezone.now()
        SupportAccessGrant.objects.create(
            tenant=viewer.tenant,
            granted_by=viewer.user,
            starts_at=now,
            ends_at=now + timedelta(hours=1),
        )
    return live


def _api_tokens(viewer):
    from datetime import timedelta

    from django.utils import timezone

    from api.models import ApiToken
    from api.services import api_token_create
    from kernel.capabilities import MEMBERS_MANAGE, capabilities_for

    # A revoke spends its token: make a fresh one of the viewer's whenever none is live.
    tokens = ApiToken.objects.filter(revoked_at__isnull=True)
    if MEMBERS_MANAGE not in capabilities_for(viewer):
        tokens = tokens.filter(membership_id=viewer.pk)
    if not tokens.exists():
        api_token_create(
            tenant=viewer.tenant,
            owner=viewer,
            name="matrix",
            scopes=["workspace:view"],
            expires_at=timezone.now() + timedelta(days=1),
            created_by=viewer,
        )
    return tokens


# Route prefix -> the queryset (narrowed to the viewer) whose pk the URL's parameter names.
# Longest prefix wins. An object URL not covered here fails the suite.
OBJECT_SOURCES: dict[str, Callable] = {
    "companies/": _shop("company_list"),
    "contacts/": _shop("contact_list"),
    "quotes/": _shop("quote_list"),
    "orders/": _shop("order_list"),
    "invoices/": _shop("invoice_list"),
    "files/": _shop("file_list"),
    "desk/tickets/": _desk("tickets_visible"),
    "desk/attachments/": _desk("attachments_visible"),
    "desk/assets/": _desk("assets_visible"),
    "portal/requests/": _desk("tickets_visible"),
    "portal/attachments/": _desk("attachments_visible"),
    "portal/assets/": _desk("assets_visible"),
    "docrequests/": _document_requests("requests"),
    "docrequests/items/": _document_requests("items"),
    "docrequests/uploads/": _document_requests("uploads"),
    "settings/audit/": _audit_events,
    "settings/members/": _members,
    "settings/invitations/": _invitations,
    "settings/people/": _company_members,
    "settings/people/invitations/": _company_invitations,
    "accounts/security/sessions/": _own_sessions,
    "settings/exports/": _export_jobs,
    "settings/support/": _support_grants,
    "settings/api-tokens/": _api_tokens,
}


def _export_download_token(viewer, job) -> str:
    from exports import services

    return services.export_link_issue(tenant=viewer.tenant, actor=viewer, job=job)


# URL name -> how to make the secret link token the URL carries beside the object id, as the
# page's own button would (called with a holder of the capability and the object).
TOKEN_MAKERS: dict[str, Callable] = {
    "exports:download": _export_download_token,
}


def object_source(url: TenantUrl) -> Callable:
    for prefix in sorted(OBJECT_SOURCES, key=len, reverse=True):
        if url.route.startswith(prefix):
            return OBJECT_SOURCES[prefix]
    raise AssertionError(f"{url.name} ({url.route}) names an object; map it in OBJECT_SOURCES")


@dataclass
class Cell:
    url: TenantUrl
    method: str
    capability: str
    declared_methods: bool


def matrix_cells() -> list[Cell]:
    cells = []
    for url in tenant_urls():
        capability = declared_capability(url.callback)
        if capability is None:
            raise AssertionError(f"{url.route} declares no capability")
        if capability == PUBLIC:
            continue
        methods, declared = accepted_methods(url)
        cells.extend(Cell(url, method, capability, declared) for method in methods)

    def order(cell: Cell) -> tuple:
        destructive = any(word in cell.url.name for word in _DESTRUCTIVE_WORDS)
        return (cell.method != "GET", destructive, cell.url.name, cell.method)

    return sorted(cells, key=order)


# --- The test ----------------------------------------------------------------------------------


def _viewer(acme, identity: str) -> Membership | None:
    if identity not in ROLES:
        return None
    return Membership.objects.select_related("user", "tenant").get(
        tenant=acme, user__email=f"{identity}@acme.example"
    )


def _client(acme, globex, identity: str, member) -> Client:
    if identity == "anonymous":
        return Client(HTTP_HOST=f"{acme.slug}.localhost")
    if identity == "outsider":
        return sign_in_client(Client(), member("globex", "owner"), acme)
    return sign_in_client(Client(), member("acme", identity), acme)


def _still_signed_in(client: Client, identity: str) -> bool:
    """Whether the client's session survived the last request (some end it on purpose)."""
    from accounts.models import UserSession
    from accounts.sessions import session_key_digest

    if identity == "anonymous":
        return True
    key = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return (
        bool(key and key.value)
        and UserSession.objects.filter(key_digest=session_key_digest(key.value)).exists()
    )


def _path(cell: Cell, acme, viewer) -> str:
    if not cell.url.converters:
        return cell.url.path()
    source = object_source(cell.url)
    holds = viewer is not None and cell.capability in ROLE_CAPABILITIES[viewer.role]
    if not holds:
        # Any acme object will do (the gate answers first); one a holder of the capability sees.
        holder = next(r for r in ROLES if cell.capability in ROLE_CAPABILITIES[r])
        viewer = _viewer(acme, holder)
    with tenant_context(acme):
        obj = source(viewer).first()
        assert obj is not None, f"no acme object for {cell.url.name} visible to {viewer}"
        kwargs = {}
        for name, converter in cell.url.converters.items():
            if type(converter).__name__ == "IntConverter":
                kwargs[name] = obj.pk
            else:
                assert cell.url.name in TOKEN_MAKERS, f"{cell.url.name}: add a TOKEN_MAKERS entry"
                kwargs[name] = TOKEN_MAKERS[cell.url.name](viewer, obj)
    return cell.url.path(**kwargs)


def _outcome(identity: str, cell: Cell, response) -> str:
    """A short name for what happened, to compare with what the map says should."""
    status = response.status_code
    location = response.headers.get("Location", "")
    if status in (301, 302, 303, 307, 308) and location.startswith(f"{SIGN_IN_PATH}?next="):
        return "sign-in"  # the gate's answer to a visitor who is not signed in
    if 200 <= status < 400 or status in VIEW_REFUSALS:
        return "allowed"
    return str(status)


def _expected(identity: str, capability: str) -> str:
    if identity == "anonymous":
        return "sign-in"
    if identity == "outsider":
        return "404"
    return "allowed" if capability in ROLE_CAPABILITIES[identity] else "403"


@pytest.mark.parametrize("identity", IDENTITIES)
def test_every_url_and_method_answers_each_identity_as_the_map_declares(
    identity, acme, globex, member, record_property
):
    from accounts.tests.factories import tracked_session_for

    viewer = _viewer(acme, identity)
    # A spare session for the sessions page to revoke, for this identity and for the owner
    # (whose objects identities without the capability aim at).
    for spare_for in {viewer, _viewer(acme, "owner")} - {None}:
        tracked_session_for(
            session_key=f"spare-{spare_for.role}",
            user=spare_for.user,
            tenant=acme,
            user_agent=SPARE_SESSION_AGENT,
        )
    reading = _client(acme, globex, identity, member)
    mismatches: list[str] = []
    checked = 0
    for cell in matrix_cells():
        path = _path(cell, acme, viewer)
        if cell.method != "GET" and not _still_signed_in(reading, identity):
            reading = _client(acme, globex, identity, member)
        client = reading
        response = client.generic(cell.method, path)
        expected = _expected(identity, cell.capability)
        if response.status_code == 405 and expected == "allowed" and not cell.declared_methods:
            continue  # the view checks its method itself and does not take this one
        outcome = _outcome(identity, cell, response)
        checked += 1
        if outcome != expected:
            mismatches.append(
                f"{cell.method} {path} ({cell.url.name}, needs {cell.capability}): "
                f"expected {expected}, got {outcome}"
            )
        elif expected == "sign-in":
            assert unquote(response["Location"]).endswith(f"?next={path}"), path
    record_property("matrix_cells", checked)
    assert mismatches == [], f"{identity}:\n" + "\n".join(mismatches)
    assert checked >= len({cell.url.name for cell in matrix_cells()})


def test_every_tenant_url_is_in_the_matrix():
    """Every routed tenant URL declares a capability and, unless PUBLIC, has matrix cells."""
    cells = {cell.url.name for cell in matrix_cells()}
    for url in tenant_urls():
        capability = declared_capability(url.callback)
        assert capability is not None, f"{url.route} declares no capability"
        if capability != PUBLIC:
            assert url.name in cells, url.name
            if url.converters:
                object_source(url)


def test_a_new_undeclared_url_fails_the_matrix(monkeypatch):
    from django.http import HttpResponse

    def undeclared(request):
        return HttpResponse("no declaration")

    fake = TenantUrl(name="x:undeclared", callback=undeclared, converters={}, route="x/")
    real = tenant_urls()
    monkeypatch.setattr("tests.test_role_matrix.tenant_urls", lambda: [*real, fake])
    with pytest.raises(AssertionError, match="declares no capability"):
        matrix_cells()
