"""Every URL an anonymous visitor can reach declares its rate limits (or why it needs none),
and past its limit every declared rule of every such URL answers 429 with Retry-After and
its message.

The URLs come from both URLconfs: every view of the public host, and every workspace view
that declares ``PUBLIC``. A new one that declares nothing fails
``test_every_url_an_anonymous_visitor_reaches_declares_its_rate_limits``; a new declaration
without a way to drive it here fails ``test_every_limited_url_has_a_driver_here``.

Each case lowers one rule to two (requests for a rate, free failures for a backoff) and
raises every other rule out of the way, then makes three requests that the rule counts:
from one address with a different target each time for a rule per address, and from a
different address each time at one target for a rule per target. The third is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client, TestCase
from django.utils import timezone
from django.utils.html import escape

from accounts import throttle
from accounts.tests.twofactor_helpers import code_now, enroll, post_password
from kernel.capabilities import PUBLIC
from kernel.decorators import declared_capability
from rbac import services as rbac_services
from rbac.models import Membership
from tests.urls import public_urls, tenant_urls
from workspace.tests.signup_helpers import sign_up_emailed, token_in

pytestmark = pytest.mark.django_db

WRONG_PASSWORD = "not the password at all"
ROLES = ("manager", "sales", "designer")  # acme members, one per target
RESET_LINK = re.compile(r"http://acme\.localhost:8000(/accounts/password-reset/link/[^/\s]+/)")


def anonymous_urls():
    """(host, url) for every URL an anonymous visitor reaches."""
    found = [("localhost", url) for url in public_urls()]
    found += [
        ("acme.localhost", url)
        for url in tenant_urls()
        if declared_capability(url.callback) == PUBLIC
    ]
    return found


def _limited() -> list[tuple[str, throttle.Limit]]:
    return [
        (url.name, limit)
        for _, url in anonymous_urls()
        for limit in (throttle.declared_limits(url.callback) or ())
    ]


CASES = [(name, rule.name) for name, limit in _limited() for rule in limit.rules]
RULES = {rule.name: (limit, rule) for _, limit in _limited() for rule in limit.rules}


# --- Declarations


def test_every_url_an_anonymous_visitor_reaches_declares_its_rate_limits():
    undeclared = [
        f"{host} {url.route}"
        for host, url in anonymous_urls()
        if throttle.declared_limits(url.callback) is None
    ]
    assert undeclared == []


def test_the_enumeration_sees_the_public_endpoints_of_both_hosts():
    names = {url.name for _, url in anonymous_urls()}
    assert {
        "sign-up",
        "find-workspaces",
        "support:sign-in",
        "accounts:sign-in",
        "accounts:password-reset",
        "accounts:two-factor-verify",
        "invitations:accept",
    } <= names
    assert "shop:home" not in names  # a workspace page for members only


def test_every_limited_url_has_a_driver_here():
    assert {name for name, _ in _limited()} == set(DRIVERS)


def test_every_rule_the_settings_override_is_a_declared_rule(settings):
    assert set(settings.RATE_LIMITS) <= set(RULES)


def test_an_exemption_says_why():
    with pytest.raises(ValueError, match="reason"):
        throttle.not_limited("  ")


# --- Driving every rule past its limit


@dataclass
class Drive:
    """What the drivers share: the seeded workspace, and objects made once per target."""

    acme: Any
    member: Callable
    made: dict = field(default_factory=dict)

    def once(self, key, make):
        if key not in self.made:
            self.made[key] = make()
        return self.made[key]


def _public(ip: str) -> Client:
    return Client(HTTP_HOST="localhost", REMOTE_ADDR=ip)


def _acme(ip: str) -> Client:
    return Client(HTTP_HOST="acme.localhost", REMOTE_ADDR=ip)


def _sign_up(drive, rule, ip, target):
    return _public(ip).post(
        "/signup/",
        {
            "full_name": "Drive Test",
            "email": f"t{target}@drive.example",
            "password": "a long passphrase for driving",
            "workspace_name": "Drive Signs",
            "slug": f"drive-{target}",
        },
    )


def _find_workspaces(drive, rule, ip, target):
    return _public(ip).post("/find-workspaces/", {"email": f"t{target}@drive.example"})


def _sign_up_link(drive, rule, ip, target):
    return _public(ip).get(f"/signup/confirm/drive-link-{target}/")


def _sign_up_confirm(drive, rule, ip, target):
    existing = rule.startswith("sign_in.")
    email = f"{ROLES[target]}@acme.example" if existing else f"t{target}@drive.example"

    def pending() -> Client:
        link = token_in(sign_up_emailed(email=email, slug=f"drive-{target}", ip="192.0.2.200").body)
        client = _public("192.0.2.201")
        client.get(f"/signup/confirm/{link}/")
        return client

    client = drive.once(("sign-up", target), pending)
    if existing:  # a wrong password for the account the address has
        data = {"slug": f"drive-{target}", "password": WRONG_PASSWORD}
    elif rule == "sign_up_confirm.link":  # an address taken: refused, and still counted
        data = {"slug": "acme"}
    else:  # a workspace created: what the address's count is about
        data = {"slug": f"drive-{target}"}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post("/signup/confirm/", data, REMOTE_ADDR=ip)


def _support_sign_in(drive, rule, ip, target):
    return _public(ip).post(
        "/support/sign-in/",
        {"email": f"agent{target}@drive.example", "password": WRONG_PASSWORD, "code": "123456"},
    )


def _sign_in(drive, rule, ip, target):
    return _acme(ip).post(
        "/accounts/sign-in/", {"email": f"t{target}@drive.example", "password": WRONG_PASSWORD}
    )


def _handoff(drive, rule, ip, target):
    return _acme(ip).get(f"/accounts/handoff/drive-{target}/")


def _session_enter(drive, rule, ip, target):
    return _acme(ip).get(f"/support-session/enter/drive-{target}/")


def _password_reset(drive, rule, ip, target):
    return _acme(ip).post("/accounts/password-reset/", {"email": f"t{target}@drive.example"})


def _password_reset_link(drive, rule, ip, target):
    return _acme(ip).get(f"/accounts/password-reset/link/drive-{target}/")


def _password_reset_new(drive, rule, ip, target):
    def link_opened() -> Client:
        client = _acme("192.0.2.202")
        email = f"{ROLES[target]}@acme.example"
        with TestCase.captureOnCommitCallbacks(execute=True):
            client.post("/accounts/password-reset/", {"email": email})
        (message,) = [m for m in mail.outbox if m.to == [email]]
        client.get(RESET_LINK.search(message.body).group(1))
        return client

    client = drive.once(("reset", target), link_opened)
    return client.post(
        "/accounts/password-reset/new-password/",
        {"new_password": "one new passphrase", "new_password_confirm": "another passphrase"},
        REMOTE_ADDR=ip,
    )


def _second_factor(path: str, wrong_code: Callable[[bytes], str]):
    def drive_it(drive, rule, ip, target):
        def half_signed_in():
            user = drive.member("acme", "sales")
            seed, _ = enroll(user)
            client = _acme("192.0.2.203")
            post_password(client, user)
            return client, seed

        client, seed = drive.once("two-factor", half_signed_in)
        return client.post(path, {"code": wrong_code(seed)}, REMOTE_ADDR=ip)

    return drive_it


def _invitation_accept(drive, rule, ip, target):
    owner = Membership.objects.get(tenant=drive.acme, user__email="owner@acme.example")
    if rule.startswith("sign_in."):  # an existing account's wrong password
        issued = drive.once(
            "invite-existing",
            lambda: rbac_services.membership_invite(
                tenant=drive.acme, actor=owner, email="owner@globex.example", role="employee"
            ),
        )
        return _acme(ip).post(f"/invitations/{issued.token}/", {"password": WRONG_PASSWORD})
    issued = drive.once(
        ("invite", target),
        lambda: rbac_services.membership_invite(
            tenant=drive.acme, actor=owner, email=f"t{target}@drive.example", role="employee"
        ),
    )
    return _acme(ip).get(f"/invitations/{issued.token}/")


def _document_request(drive, key, *, require_code=True):
    """A live document request of acme (one per ``key``) and its token."""

    def make():
        from django_tenants.utils import tenant_context

        from docrequests import services as docrequest_services

        manager = Membership.objects.get(tenant=drive.acme, user__email="manager@acme.example")
        company_id = (
            Membership.objects.filter(tenant=drive.acme, company_id__isnull=False)
            .values_list("company_id", flat=True)
            .first()
        )
        with tenant_context(drive.acme):
            return docrequest_services.document_request_create(
                tenant=drive.acme,
                actor=manager,
                company_id=company_id,
                recipients=["client@drive.example"],
                title=f"Drive {key}",
                items=[docrequest_services.ItemSpec("Anything")],
                lifetime_days=7,
                require_code=require_code,
            )

    return drive.once(("document-request", key), make)


def _document_request_open(drive, rule, ip, target):
    return _acme(ip).get(f"/r/{_document_request(drive, target).token}/")


def _document_request_code(drive, rule, ip, target):
    issued = _document_request(drive, target)
    client = _acme("192.0.2.210")
    client.get(f"/r/{issued.token}/")
    if rule.startswith("docrequest_code_request."):
        return client.post(
            "/r/code/", {"step": "email", "email": "client@drive.example"}, REMOTE_ADDR=ip
        )
    client.post("/r/code/", {"step": "email", "email": "client@drive.example"})
    return client.post("/r/code/", {"step": "code", "code": "not-it"}, REMOTE_ADDR=ip)


def _document_request_upload(drive, rule, ip, target):
    from shop.tests.factories import TINY_PDF, upload_of

    issued = _document_request(drive, ("upload", target), require_code=False)
    client = _acme("192.0.2.211")
    client.get(f"/r/{issued.token}/")
    client.post("/r/code/", {"step": "email", "email": "client@drive.example"})
    from django_tenants.utils import tenant_context

    with tenant_context(drive.acme):
        item_id = issued.document_request.items.values_list("pk", flat=True).get()
    stream = upload_of(TINY_PDF)
    stream.name = "drive.pdf"
    return client.post(f"/r/items/{item_id}/upload/", {"file": stream}, REMOTE_ADDR=ip)


def _api(url_name: str):
    """An API URL (api.views): a request with a token of acme's owner, one token per target,
    at a path naming no object (counted before the object is looked up)."""

    def drive_it(drive, rule, ip, target):
        from api.tests.conftest import token_for

        url = next(url for url in tenant_urls() if url.name == url_name)
        secret = drive.once(("api-token", target), lambda: token_for("acme", "owner")[1])
        path = url.path(**url.placeholder_kwargs())
        headers = {"Authorization": f"Bearer {secret}"}
        response = _acme(ip).get(path, headers=headers)
        if response.status_code == 405:  # an action taking POST only (quote send, export link)
            response = _acme(ip).post(path, {}, content_type="application/json", headers=headers)
        return response

    return drive_it


DRIVERS: dict[str, Callable] = {
    **{url.name: _api(url.name) for url in tenant_urls() if url.name.startswith("api:")},
    "sign-up": _sign_up,
    "find-workspaces": _find_workspaces,
    "sign-up-link": _sign_up_link,
    "sign-up-confirm": _sign_up_confirm,
    "support:sign-in": _support_sign_in,
    "accounts:sign-in": _sign_in,
    "accounts:handoff": _handoff,
    "accounts:password-reset": _password_reset,
    "accounts:password-reset-link": _password_reset_link,
    "accounts:password-reset-new": _password_reset_new,
    "accounts:two-factor-verify": _second_factor(
        "/accounts/2fa/verify/", lambda seed: f"{(int(code_now(seed)) + 1) % 10**6:06d}"
    ),
    "accounts:two-factor-verify-recovery": _second_factor(
        "/accounts/2fa/verify/recovery/", lambda seed: "zzzz-zzzz-zzzz"
    ),
    "invitations:accept": _invitation_accept,
    "support_access:session-enter": _session_enter,
    "docrequests:link-open": _document_request_open,
    "docrequests:code": _document_request_code,
    "docrequests:item-upload": _document_request_upload,
}


@pytest.mark.parametrize(("url_name", "rule_name"), CASES)
def test_past_its_limit_every_rule_of_every_anonymous_url_answers_429_with_retry_after(
    url_name, rule_name, settings, acme, member
):
    limit, rule = RULES[rule_name]
    settings.RATE_LIMITS = dict.fromkeys(RULES, (1000, 60 * 60)) | {rule_name: (2, 60 * 60)}
    drive, driver = Drive(acme=acme, member=member), DRIVERS[url_name]
    per_address = rule.per == throttle.Per.IP
    with time_machine.travel(timezone.now(), tick=False):
        responses = [
            driver(
                drive,
                rule_name,
                "203.0.113.77" if per_address else f"198.51.100.{attempt + 1}",
                attempt if per_address else 0,
            )
            for attempt in range(3)
        ]
    assert [r.status_code == 429 for r in responses] == [False, False, True], [
        r.status_code for r in responses
    ]
    refused = responses[-1]
    assert int(refused["Retry-After"]) >= 1
    assert escape(limit.message_of(rule)).encode() in refused.content
