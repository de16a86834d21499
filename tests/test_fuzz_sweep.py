"""Malformed input on every form and list page never answers 500 and never stores bad rows.

The pages come from the URLconfs (``tests.urls``), the way the role matrix and the crawl find
them, so a new page is fuzzed the moment it is routed. For each identity:

- ``owner`` (staff), ``company_admin`` and ``customer`` (a customer company's people),
  signed in on acme's host:
  every tenant URL whose capability the role holds, with real objects the role may see
  (``tests.test_role_matrix.object_source``; one object per state, so a draft quote's and a
  sent quote's pages are both read);
- ``anonymous``: every URL of the public host and every PUBLIC URL of acme's host;
- ``agent``: a support agent signed in to the console on the public host.

Each page is fetched; every ``<form>`` on it is submitted (once per form target: the same
action on several pages is one target) several times: empty, filled in as a careful person
would, with one or two fields malformed (``tests.fuzzing.MALFORMED``: huge, unicode with RTL
and emoji, control characters, NUL, percent-encoded lone surrogates, wrong types, invalid
dates and ids), with every field malformed, with unknown and repeated fields. A URL that takes
POST but whose form no page shows is posted junk. Every list page (a page with a GET form or
page links) is fetched with odd query strings (``ODD_QUERIES``) and its search and filter
fields malformed. Every answer must be below 500.

Each text field is also sent alone over every column's limit, the rest filled in carefully
(the form must refuse it, or the service: never a DataError). A page number or sort a list
cannot use (``PAGING_QUERIES``) must still answer 200 (or 400 saying why), never 404.

Afterwards every row the identity could have written (every model of every app, the
workspace's schema and public) is checked: no text over its column's limit or holding a
character PostgreSQL cannot store, every decimal finite, every quote's totals equal to its
lines', every invoice's total its subtotal plus tax.

Bounded and deterministic: the random choices are seeded by identity and form target, each
target gets ``VARIANTS`` submissions, each object URL at most ``OBJECTS_PER_URL`` objects.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction
from django.test import Client
from django.urls import Resolver404, resolve
from django_tenants.utils import schema_context, tenant_context

from conftest import PASSWORD, sign_in_client
from kernel.capabilities import PUBLIC, ROLE_CAPABILITIES
from kernel.decorators import declared_capability
from kernel.roles import STAFF_ROLES, Role
from kernel.text import text_storable
from rbac.models import Membership
from tests import fuzzing
from tests.test_role_matrix import TOKEN_MAKERS, accepted_methods, object_source
from tests.urls import TenantUrl, public_urls, tenant_urls

pytestmark = pytest.mark.django_db

# The owner holds every staff capability (``test_the_owner_reaches_every_staff_roles_forms``),
# and pages show forms by capability only, so every form target a manager, expert or other
# staff role reaches, the owner reaches too: fuzzing them again cost a third of the sweep and
# found no target the owner's run does not (their answers to what they may not do are the role
# matrix's business). Customers are fuzzed apart from company administrators: they are the
# least trusted people signed in.
IDENTITIES = (
    "owner",
    "company_admin",
    "customer",
    "anonymous",
    "agent",
    "docrequest_visitor",
    "docrequest_client",
)
# Identities whose pages hold one or two form targets only (the client of a document request).
FEW_TARGETS = {"docrequest_visitor": 1, "docrequest_client": 1}
VARIANTS = 7  # submissions per form target besides the empty and the careful one
OBJECTS_PER_URL = 4
_DESTRUCTIVE_WORDS = ("delete", "remove", "revoke", "sign-out", "session-end", "cancel", ":off")


@dataclass
class Target:
    """One place input goes: a form found on a page, or a bare URL that takes POST."""

    key: str
    host: str
    form: fuzzing.PageForm

    @property
    def destructive(self) -> bool:
        return any(word in self.key for word in _DESTRUCTIVE_WORDS)


@dataclass
class Page:
    url: TenantUrl
    path: str  # with real objects (or placeholders for anonymous visitors)

    @property
    def host(self) -> str:
        return "localhost" if self.url.urlconf == "config.urls_public" else "acme.localhost"


@dataclass
class Identity:
    name: str
    pages: list[Page]
    fresh_client: Callable[[], Client]
    signed_in: Callable[[Client], bool]


class Sweep:
    """Sends requests in savepoints (a 500 that broke the transaction is rolled back, so the
    next request still runs) and collects every answer of 500 or more."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.client = identity.fresh_client()
        self.failures: list[str] = []
        self.requests = 0
        self.statuses: dict[str, int] = {}

    def send(self, method: str, path: str, *, host: str, body=None, data=None, note=""):
        if not self.identity.signed_in(self.client):
            self.client = self.identity.fresh_client()
        savepoint = transaction.savepoint()
        if method == "get":
            response = self.client.get(path, HTTP_HOST=host)
        elif data is not None:
            response = self.client.post(path, data, HTTP_HOST=host)  # multipart
        else:
            response = self.client.generic(
                "POST",
                path,
                body or b"",
                content_type="application/x-www-form-urlencoded",
                HTTP_HOST=host,
            )
        self.requests += 1
        self.statuses[f"{method} {response.status_code}"] = (
            self.statuses.get(f"{method} {response.status_code}", 0) + 1
        )
        if response.status_code >= 500:
            transaction.savepoint_rollback(savepoint)
            self.failures.append(
                f"{method.upper()} {host}{path[:150]} [{note[:150]}] -> {response.status_code}"
            )
        else:
            transaction.savepoint_commit(savepoint)
        connection.set_schema_to_public()
        return response

    def submit(self, target: Target, pairs, note: str):
        form = target.form
        if form.method == "get":
            query = fuzzing.urlencoded(pairs).decode()
            return self.send("get", f"{form.path}?{query}", host=target.host, note=note)
        if form.multipart:
            data = _with_file(pairs, note, form)
            return self.send("post", form.action, host=target.host, data=data, note=note)
        body = fuzzing.urlencoded(pairs)
        return self.send("post", form.action, host=target.host, body=body, note=note)


def _with_file(pairs, note: str, form: fuzzing.PageForm) -> dict:
    """Multipart data with a small file (under the form's file input, or ``upload``) whose
    name and bytes are sometimes malformed too."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = fuzzing.multipart_data(pairs)
    file_names = [item.name for item in form.fields if item.kind == "file"] or ["upload"]
    rng = random.Random(note)
    name = rng.choice(
        ("proof.png", "a\x00b.png", "\u202egnp.exe", "x" * 300 + ".png", "../../etc/passwd", "")
    )
    content = rng.choice((PNG, b"", b"\x00" * 64, b"%PDF-1.4 not really"))
    for file_name in file_names:
        data[file_name] = SimpleUploadedFile(name or "unnamed", content)
    return data


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


# --- Who is asking, and which pages they have -------------------------------------------------


def _session_alive(client: Client) -> bool:
    from accounts.models import UserSession
    from accounts.sessions import session_key_digest

    key = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return bool(
        key
        and key.value
        and UserSession.objects.filter(key_digest=session_key_digest(key.value)).exists()
    )


def _has_session_cookie(client: Client) -> bool:
    key = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return bool(key and key.value)


def _by_state(objects: Iterable[models.Model]) -> list[models.Model]:
    """One object per state (status) first, then others, up to OBJECTS_PER_URL."""
    picked: list[models.Model] = []
    rest: list[models.Model] = []
    states: set = set()
    for obj in objects:
        state = getattr(obj, "status", None)
        (rest if state in states else picked).append(obj)
        states.add(state)
    return (picked + rest)[:OBJECTS_PER_URL]


def _member_pages(acme, viewer: Membership) -> list[Page]:
    pages = []
    held = ROLE_CAPABILITIES[viewer.role]
    for url in tenant_urls():
        capability = declared_capability(url.callback)
        if capability == PUBLIC or capability not in held:
            continue  # the gate answers before any input is read (the role matrix checks it)
        if not url.converters:
            pages.append(Page(url, url.path()))
            continue
        with tenant_context(acme):
            for obj in _by_state(object_source(url)(viewer)[:40]):
                kwargs = {}
                for name, converter in url.converters.items():
                    if type(converter).__name__ == "IntConverter":
                        kwargs[name] = obj.pk
                    else:
                        kwargs[name] = TOKEN_MAKERS[url.name](viewer, obj)
                pages.append(Page(url, url.path(**kwargs)))
    return pages


def _placeholder_pages(urls: Iterable[TenantUrl]) -> list[Page]:
    """Object-less pages as they are; a slug names acme, other values name nothing."""
    pages = []
    for url in urls:
        kwargs = url.placeholder_kwargs()
        for name, converter in url.converters.items():
            if type(converter).__name__ == "SlugConverter":
                kwargs[name] = "acme"
        pages.append(Page(url, url.path(**kwargs)))
    return pages


def _document_request_client(acme, *, verified: bool) -> Identity:
    """A client without an account, on a session the link of a fresh request bound: with a
    code asked for and not yet confirmed (``verified=False``: the code step's two forms), or
    with the address confirmed (a request needing no code: the checklist's upload forms)."""
    from docrequests import services as docrequest_services
    from kernel.roles import Role

    owner = Membership.objects.select_related("user", "tenant").get(tenant=acme, role=Role.OWNER)
    company_id = (
        Membership.objects.filter(tenant=acme, role=Role.CUSTOMER)
        .order_by("pk")
        .values_list("company_id", flat=True)
        .first()
    )
    address = "fuzz.person@example.com"  # what fuzzing.baseline puts in an email field
    with tenant_context(acme):
        issued = docrequest_services.document_request_create(
            tenant=acme,
            actor=owner,
            company_id=company_id,
            recipients=[address],
            title="Fuzzed document request",
            items=[
                docrequest_services.ItemSpec("Anything"),
                docrequest_services.ItemSpec("A picture", accepted_types=("png",)),
            ],
            lifetime_days=30,
            require_code=not verified,
        )
    connection.set_schema_to_public()

    def bound_client() -> Client:
        client = Client(raise_request_exception=False)
        client.get(f"/r/{issued.token}/", HTTP_HOST="acme.localhost")
        client.post("/r/code/", {"step": "email", "email": address}, HTTP_HOST="acme.localhost")
        connection.set_schema_to_public()
        return client

    urls = {url.name: url for url in tenant_urls()}
    names = ("docrequests:checklist",) if verified else ("docrequests:code",)
    return Identity(
        name="docrequest_client" if verified else "docrequest_visitor",
        pages=[Page(urls[name], urls[name].path()) for name in names],
        fresh_client=bound_client,
        signed_in=lambda client: True,  # an ended session shows "not available", never a 500
    )


def _identity(name: str, acme, member) -> Identity:
    if name in ("docrequest_visitor", "docrequest_client"):
        return _document_request_client(acme, verified=name == "docrequest_client")
    if name == "anonymous":
        public_tenant = [u for u in tenant_urls() if declared_capability(u.callback) == PUBLIC]
        return Identity(
            name=name,
            pages=_placeholder_pages(public_urls()) + _placeholder_pages(public_tenant),
            fresh_client=lambda: Client(raise_request_exception=False),
            signed_in=lambda client: True,
        )
    if name == "agent":
        from support.tests.factories import console_client, grant_for, support_agent

        agent = support_agent("fuzz-agent@platform.example")
        grant_for(acme, hours=4, allow_write=True)

        def agent_client() -> Client:
            client = console_client(agent)
            client.raise_request_exception = False
            return client

        return Identity(
            name=name,
            pages=_placeholder_pages(public_urls()),
            fresh_client=agent_client,
            signed_in=_has_session_cookie,
        )
    viewer = Membership.objects.select_related("user", "tenant").get(
        tenant=acme, user__email=f"{name}@acme.example"
    )
    return Identity(
        name=name,
        pages=_member_pages(acme, viewer),
        fresh_client=lambda: sign_in_client(
            Client(raise_request_exception=False), member("acme", name), acme
        ),
        signed_in=_session_alive,
    )


# --- The sweep -------------------------------------------------------------------------------


def _targets_and_lists(sweep: Sweep, identity: Identity):
    """Fetch every page once; collect its forms (one target per action) and, per list URL,
    one page to send odd query strings to, with its search form if it has one."""
    targets: dict[str, Target] = {}
    lists: dict[str, tuple[Page, fuzzing.PageForm | None]] = {}
    posts: list[Page] = []
    for page in identity.pages:
        methods, _ = accepted_methods(page.url)
        if "POST" in methods:
            posts.append(page)
        if "GET" not in methods:
            continue
        response = sweep.send("get", page.path, host=page.host, note="page")
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        page_forms = fuzzing.forms_on_page(html, page.path)
        for form in page_forms:
            key = f"{form.method} {_view_name(form.path, page.url.urlconf)}"
            targets.setdefault(key, Target(key, page.host, form))
        search = next((f for f in page_forms if f.method == "get" and f.path == page.path), None)
        if search is not None or "page=" in html:
            lists.setdefault(page.url.name, (page, search))
    for page in posts:
        key = f"post {page.url.name}"
        if key not in targets:
            bare = fuzzing.PageForm(
                page=page.path, action=page.path, method="post", multipart=False, fields=[]
            )
            targets[key] = Target(key, page.host, bare)
    return targets, lists


def _view_name(path: str, urlconf: str) -> str:
    try:
        return resolve(path, urlconf=urlconf).view_name
    except Resolver404:
        return path


def _fuzz_target(sweep: Sweep, target: Target, seed: str) -> None:
    rng = random.Random(f"{seed}|{target.key}")
    careful = fuzzing.baseline(target.form, password=PASSWORD)
    sweep.submit(target, [(key, "") for key, _ in careful], note="empty")
    sweep.submit(target, careful, note="careful")
    for number in range(VARIANTS):
        how_many = None if number >= VARIANTS - 2 else rng.choice((1, 1, 2))
        pairs, note = fuzzing.mutate(rng, careful, how_many=how_many)
        sweep.submit(target, pairs, note=note)
    # Each text field alone over any column's limit, the others filled in carefully: the
    # form must say so next to the field, or the service refuse it (never a DataError).
    typed = {f.name for f in target.form.fields if f.kind in fuzzing.TEXT_KINDS}
    too_long = _longest_text_limit() + 1  # over every text column's limit
    for index, (key, _) in enumerate(careful):
        if key in typed:
            over = [*careful[:index], (key, "Y" * too_long), *careful[index + 1 :]]
            sweep.submit(target, over, note=f"{key}=over the limit")


def _fuzz_list(sweep: Sweep, page: Page, search: fuzzing.PageForm | None, seed: str) -> None:
    for query in fuzzing.ODD_QUERIES:
        response = sweep.send("get", f"{page.path}?{query}", host=page.host, note=query[:40])
        if query in fuzzing.PAGING_QUERIES and response.status_code not in (200, 400):
            # A page number or sort a list cannot use shows a page (or says what is wrong).
            sweep.failures.append(f"GET {page.path}?{query} -> {response.status_code}")
    if search is not None:
        rng = random.Random(f"{seed}|list|{page.path}")
        target = Target(f"list {page.path}", page.host, search)
        careful = fuzzing.baseline(search, password=PASSWORD)
        for _ in range(3):
            pairs, note = fuzzing.mutate(rng, careful)
            sweep.submit(target, pairs, note=note)


@pytest.mark.parametrize("identity_name", IDENTITIES)
def test_malformed_input_on_every_form_and_list_page_never_answers_500_nor_stores_bad_rows(
    identity_name, acme, member, record_property
):
    identity = _identity(identity_name, acme, member)
    sweep = Sweep(identity)
    targets, lists = _targets_and_lists(sweep, identity)
    for _name, (page, search) in sorted(lists.items()):
        _fuzz_list(sweep, page, search, identity_name)
    for target in sorted(targets.values(), key=lambda t: (t.destructive, t.key)):
        _fuzz_target(sweep, target, identity_name)
    record_property("fuzz_requests", sweep.requests)
    print(
        f"fuzz {identity_name}: {sweep.requests} requests, {len(targets)} form targets, "
        f"{sorted(sweep.statuses.items())}"
    )
    assert sweep.failures == [], "\n".join(sweep.failures)
    assert malformed_rows(acme) == []
    assert len(targets) >= FEW_TARGETS.get(identity_name, 3)


def test_the_owner_reaches_every_staff_roles_forms():
    """Why the sweep signs in as the owner only among staff: no staff role holds a capability
    the owner lacks, so no staff role's page shows a form the owner's does not."""
    owner = ROLE_CAPABILITIES[Role.OWNER]
    assert {role: ROLE_CAPABILITIES[role] - owner for role in STAFF_ROLES} == {
        role: frozenset() for role in STAFF_ROLES
    }


# --- What is stored afterwards ---------------------------------------------------------------


def _our_models() -> list[type[models.Model]]:
    """Every model of every app of this repository (its top-level packages), whenever one is
    added: a hand-kept list of apps once missed the desk."""
    root = Path(settings.BASE_DIR).resolve()
    return [
        model
        for config in apps.get_app_configs()
        if Path(config.path).resolve().parent == root
        for model in config.get_models()
    ]


def _longest_text_limit() -> int:
    return max(
        field.max_length or 0
        for model in _our_models()
        for field in model._meta.concrete_fields
        if isinstance(field, models.CharField | models.TextField)
    )


def _schemas_of(model: type[models.Model], tenant) -> list[str]:
    app = model._meta.app_config.name
    return [
        schema
        for schema, installed in (
            ("public", settings.SHARED_APPS),
            (tenant.schema_name, settings.TENANT_APPS),
        )
        if app in installed
    ]


def malformed_rows(tenant) -> list[str]:
    """Every stored value that breaks its column's rules: text over its limit or unstorable,
    a decimal that is not finite, a quote whose totals differ from its lines'."""
    problems: list[str] = []
    for model in _our_models():
        text_fields = [
            f
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField)
        ]
        decimal_fields = [
            f for f in model._meta.concrete_fields if isinstance(f, models.DecimalField)
        ]
        if not text_fields and not decimal_fields:
            continue
        names = [f.attname for f in text_fields + decimal_fields]
        for schema in _schemas_of(model, tenant):
            with schema_context(schema):
                rows = list(model._default_manager.values("pk", *names))
            for row in rows:
                for text_field in text_fields:
                    value = row[text_field.attname]
                    if value is None:
                        continue
                    if text_field.max_length and len(value) > text_field.max_length:
                        problems.append(f"{model.__name__}#{row['pk']}.{text_field.name} too long")
                    if not text_storable(value):
                        problems.append(
                            f"{model.__name__}#{row['pk']}.{text_field.name} unstorable"
                        )
                for decimal_field in decimal_fields:
                    value = row[decimal_field.attname]
                    if isinstance(value, Decimal) and not value.is_finite():
                        problems.append(
                            f"{model.__name__}#{row['pk']}.{decimal_field.name} {value}"
                        )
    with tenant_context(tenant):
        from shop.models import Invoice, Quote

        for quote in Quote.objects.prefetch_related("lines"):
            totals = quote.computed_totals()
            computed = (totals.subtotal, totals.tax_amount, totals.total)
            stored = (quote.subtotal, quote.tax_amount, quote.total)
            if computed != stored:
                problems.append(f"Quote#{quote.pk} totals {stored} != {computed}")
        for invoice in Invoice.objects.all():
            if invoice.total != invoice.subtotal + invoice.tax_amount or invoice.total < 0:
                problems.append(f"Invoice#{invoice.pk} total {invoice.total} does not add up")
    return problems
