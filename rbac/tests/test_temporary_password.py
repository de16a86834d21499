"""An owner or admin gives a member a temporary password from the member's page, to hand over
in person or by phone: generated (shown once) or typed (checked by the password rules),
audited in both streams, announced to the member by an email that never holds it, and
replaced by the member at their next sign-in before anything else; their sessions end."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from accounts.models import User
from audit.events import Event
from audit.tests.streams import events_since, stream_head
from conftest import PASSWORD, sign_in_client
from kernel.roles import Role
from rbac import passwords
from rbac.models import Membership
from support.gate import IMPERSONATION_FORBIDDEN
from support.tests.factories import grant_for, impersonation_client, support_agent
from tenants.models import Tenant
from tenants.rls import platform_view
from tenants.writability import WORKSPACE_READ_ONLY_MESSAGE

pytestmark = pytest.mark.django_db

TYPED = "a typed temporary passphrase 8812"
NEW_PASSWORD = "the member's very own passphrase"
SHOWN = re.compile(r'id="temporary-password"[^>]*>([^<]+)<')
ROLES_WITHOUT_MEMBERS_MANAGE = [
    "manager", "sales", "designer", "installer", "accountant", "employee",
    "customer", "company_admin",
]  # fmt: skip


def url(name: str, *args) -> str:
    return reverse(name, urlconf="config.urls_tenant", args=args)


def _page(membership: Membership) -> str:
    return url("rbac:member-temporary-password", membership.pk)


def _sign_in(email: str, password: str) -> Client:
    client = Client(HTTP_HOST="acme.localhost")
    response = client.post(url("accounts:sign-in"), {"email": email, "password": password})
    assert response.status_code == 302, response.content[:400]
    return client


def _change(client: Client, current: str):
    return client.post(
        url("accounts:password-change"),
        {"current_password": current, "new_password": NEW_PASSWORD,
         "new_password_confirm": NEW_PASSWORD},
    )  # fmt: skip


def _password_of(membership: Membership) -> str:
    return User.objects.get(pk=membership.user_id).password


# --- The whole flow --------------------------------------------------------------------------


def test_an_owner_gives_a_generated_password_shown_once_and_the_member_must_replace_it(
    acme, client_for, membership_of, django_capture_on_commit_callbacks
):
    employee = membership_of(acme, "employee")
    their_session = client_for("acme", "employee")
    assert their_session.get("/").status_code == 200
    owner = client_for("acme", "owner")
    detail = owner.get(url("rbac:member-detail", employee.pk)).content.decode()
    assert f'href="{_page(employee)}"' in detail
    form = owner.get(_page(employee))
    assert form.status_code == 200
    assert b'name="mode" value="generate"' in form.content

    with django_capture_on_commit_callbacks(execute=True):
        done = owner.post(_page(employee), {"mode": "generate", "password": ""})

    assert done.status_code == 200
    assert "no-store" in done["Cache-Control"]
    (shown,) = SHOWN.findall(done.content.decode())
    assert len(shown) >= 16
    assert User.objects.get(pk=employee.user_id).check_password(shown)
    assert shown not in str(dict(owner.session.items()))  # shown once, kept nowhere
    assert owner.get(url("rbac:member-detail", employee.pk)).status_code == 200
    assert shown not in owner.get(url("rbac:member-detail", employee.pk)).content.decode()
    # Their sessions ended at once.
    assert their_session.get("/")["Location"].startswith(url("accounts:sign-in"))
    # At the next sign-in they can do nothing but choose their own password.
    member = _sign_in("employee@acme.example", shown)
    for path in ("/", "/quotes/", "/settings/", url("accounts:security")):
        response = member.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == url("accounts:password-change"), path
    assert member.post("/companies/new/", {"name": "Sneaky"})["Location"] == url(
        "accounts:password-change"
    )
    changed = _change(member, current=shown)
    assert changed.status_code == 302
    assert member.get("/").status_code == 200
    assert User.objects.get(pk=employee.user_id).check_password(NEW_PASSWORD)


def test_an_admin_gives_a_typed_password_which_the_password_rules_check(
    acme, client_for, membership_of
):
    sales = membership_of(acme, "sales")
    before = _password_of(sales)
    admin = client_for("acme", "admin")

    weak = admin.post(_page(sales), {"mode": "type", "password": "short"})
    assert weak.status_code == 400
    body = weak.content.decode()
    assert 'id="id_password_error"' in body
    assert "This password is too short. It must contain at least 12 characters." in body
    assert _password_of(sales) == before

    missing = admin.post(_page(sales), {"mode": "type", "password": ""})
    assert missing.status_code == 400
    assert passwords.TEMPORARY_PASSWORD_TYPE_ONE in missing.content.decode()

    done = admin.post(_page(sales), {"mode": "type", "password": TYPED})
    assert done.status_code == 200
    assert TYPED not in done.content.decode()  # the admin typed it; it is not echoed
    assert SHOWN.findall(done.content.decode()) == []
    assert User.objects.get(pk=sales.user_id).check_password(TYPED)
    assert User.objects.get(pk=sales.user_id).must_change_password is True


def test_the_member_is_told_by_email_and_the_email_never_holds_the_password(
    acme, client_for, membership_of, django_capture_on_commit_callbacks
):
    designer = membership_of(acme, "designer")
    with django_capture_on_commit_callbacks(execute=True):
        client_for("acme", "admin").post(_page(designer), {"mode": "type", "password": TYPED})

    (notice,) = mail.outbox
    assert notice.to == ["designer@acme.example"]
    assert notice.subject == "A temporary password was set for your Shopsafe account"
    assert "Acme Signs" in notice.body
    assert "admin@acme.example" in notice.body
    assert "choose your own password" in notice.body
    for message in mail.outbox:
        assert TYPED not in message.body
        assert TYPED not in message.subject
        for alternative, _kind in getattr(message, "alternatives", []):
            assert TYPED not in alternative


def test_both_streams_record_who_set_it_for_whom_without_the_password(
    acme, client_for, membership_of, member
):
    installer = membership_of(acme, "installer")
    client_for("acme", "installer")  # a session of theirs, which the change ends
    head, platform_head = stream_head(acme), stream_head("public")

    client_for("acme", "owner").post(_page(installer), {"mode": "generate"})

    expected = (
        "account.password.temporary_set",
        "owner@acme.example",
        "user",
        str(installer.user_id),
        {"must_change": True, "generated": True},
    )
    workspace = events_since(acme, head)
    platform = events_since("public", platform_head)
    assert [
        (e.event_name, e.actor_email, e.actor_kind, e.target_id, e.additional_data)
        for e in platform
    ] == [expected]
    assert [
        (e.event_name, e.actor_email, e.actor_kind, e.target_id, e.additional_data)
        for e in workspace
        if e.event_name == "account.password.temporary_set"
    ] == [expected]
    ended = [e for e in workspace if e.event_type == Event.SESSIONS_ENDED]
    assert [(e.target_id, e.additional_data["reason"]) for e in ended] == [
        (str(installer.user_id), "temporary_password_set")
    ]
    stored = User.objects.get(pk=installer.user_id)
    for event in workspace + platform:
        assert stored.password not in str(event.additional_data)


def test_a_workspace_without_the_first_sign_in_rule_lets_the_member_keep_it(
    acme, client_for, membership_of
):
    Tenant.objects.filter(pk=acme.pk).update(first_sign_in_password_change=False)
    employee = membership_of(acme, "employee")

    done = client_for("acme", "owner").post(_page(employee), {"mode": "type", "password": TYPED})

    assert done.status_code == 200
    assert User.objects.get(pk=employee.user_id).must_change_password is False
    assert _sign_in("employee@acme.example", TYPED).get("/").status_code == 200


# --- Who may, for whom -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES_WITHOUT_MEMBERS_MANAGE)
def test_a_role_without_members_manage_gets_403(acme, client_for, membership_of, role):
    employee = membership_of(acme, "employee")
    target = employee if role != "employee" else membership_of(acme, "sales")
    before = _password_of(target)
    client = client_for("acme", role)

    assert client.get(_page(target)).status_code == 403
    assert client.post(_page(target), {"mode": "type", "password": TYPED}).status_code == 403
    assert _password_of(target) == before
    assert (
        f'href="{_page(target)}"'
        not in client.get(url("rbac:member-detail", target.pk)).content.decode()
    )


def test_an_admin_cannot_give_the_owner_a_temporary_password(acme, client_for, membership_of):
    owner = membership_of(acme, "owner")
    before = _password_of(owner)
    admin = client_for("acme", "admin")

    assert (
        f'href="{_page(owner)}"'
        not in admin.get(url("rbac:member-detail", owner.pk)).content.decode()
    )
    for method in ("get", "post"):
        response = getattr(admin, method)(_page(owner), {"mode": "type", "password": TYPED})
        assert response.status_code == 302, method
        assert response["Location"] == url("rbac:member-detail", owner.pk)
        followed = admin.get(response["Location"]).content.decode()
        assert escape(passwords.TEMPORARY_PASSWORD_OUTRANKS) in followed
    assert _password_of(owner) == before


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_nobody_gives_themselves_a_temporary_password(acme, client_for, membership_of, role):
    own = membership_of(acme, role)
    before = _password_of(own)
    client = client_for("acme", role)

    assert (
        f'href="{_page(own)}"' not in client.get(url("rbac:member-detail", own.pk)).content.decode()
    )
    response = client.post(_page(own), {"mode": "type", "password": TYPED})
    assert response["Location"] == url("rbac:member-detail", own.pk)
    assert (
        passwords.TEMPORARY_PASSWORD_NOT_FOR_YOURSELF
        in client.get(response["Location"]).content.decode()
    )
    assert _password_of(own) == before


def test_the_service_refuses_the_same_cases_whoever_calls_it(acme, membership_of):
    admin, owner = membership_of(acme, "admin"), membership_of(acme, "owner")
    employee = membership_of(acme, "employee")
    cases = [
        (admin, owner, passwords.TEMPORARY_PASSWORD_OUTRANKS),
        (admin, admin, passwords.TEMPORARY_PASSWORD_NOT_FOR_YOURSELF),
    ]
    for actor, target, message in cases:
        with pytest.raises(passwords.ValidationError) as refused:
            passwords.password_temporary_set(
                tenant=acme, actor=actor, membership=target, password=TYPED
            )
        assert refused.value.messages == [message]
    with pytest.raises(PermissionDenied):
        passwords.password_temporary_set(
            tenant=acme, actor=employee, membership=admin, password=TYPED
        )


def test_an_account_that_also_belongs_to_another_workspace_is_refused_on_the_page(
    acme, globex, client_for
):
    # The check reads memberships of other workspaces, which row-level security hides in
    # acme's context: it must look in the platform's view.
    shared = User.objects.create_user("shared@example.com", PASSWORD, full_name="Shared")
    with platform_view():
        here = Membership.objects.create(user=shared, tenant=acme, role=Role.EMPLOYEE)
        Membership.objects.create(user=shared, tenant=globex, role=Role.EMPLOYEE)
    owner = client_for("acme", "owner")

    response = owner.post(_page(here), {"mode": "type", "password": TYPED})

    assert response.status_code == 302
    followed = owner.get(response["Location"]).content.decode()
    assert passwords.TEMPORARY_PASSWORD_NOT_ALLOWED in followed
    shared.refresh_from_db()
    assert shared.check_password(PASSWORD)


def test_a_member_of_another_workspace_is_the_missing_object_404(
    acme, globex, client_for, membership_of, member
):
    owner = client_for("acme", "owner")
    missing = owner.get(url("rbac:member-temporary-password", 999_999_999))
    assert missing.status_code == 404
    theirs = membership_of(globex, "employee")
    before = _password_of(theirs)
    for method in ("get", "post"):
        response = getattr(owner, method)(_page(theirs), {"mode": "type", "password": TYPED})
        assert response.status_code == 404, method
        assert response.content == missing.content
    outsider = sign_in_client(Client(), member("globex", "owner"), acme)
    for method in ("get", "post"):
        response = getattr(outsider, method)(
            _page(membership_of(acme, "employee")), {"mode": "type", "password": TYPED}
        )
        assert response.status_code == 404, method
        assert response.content == missing.content
    assert _password_of(theirs) == before


@pytest.mark.parametrize("write", [False, True], ids=["read-only", "write"])
def test_a_support_agent_impersonating_the_owner_cannot(acme, membership_of, write):
    grant_for(acme, allow_write=True)
    client, _session = impersonation_client(support_agent(), acme, role="owner", write=write)
    employee = membership_of(acme, "employee")
    before = _password_of(employee)

    for method in ("get", "post"):
        response = getattr(client, method)(_page(employee), {"mode": "type", "password": TYPED})
        assert response.status_code == 403, method
    assert IMPERSONATION_FORBIDDEN.encode() in client.post(_page(employee)).content
    assert _password_of(employee) == before


def test_the_service_refuses_a_support_agent_acting_for_an_owner(acme, membership_of):
    from kernel.context import ActorKind, audit_context

    owner, employee = membership_of(acme, "owner"), membership_of(acme, "employee")
    with audit_context(actor_kind=ActorKind.SUPPORT_AGENT), pytest.raises(PermissionDenied):
        passwords.password_temporary_set(
            tenant=acme, actor=owner, membership=employee, password=TYPED
        )


def test_a_cancelled_workspace_refuses_it(acme, client_for, membership_of):
    employee = membership_of(acme, "employee")
    owner = membership_of(acme, "owner")
    client = client_for("acme", "owner")
    before = _password_of(employee)
    acme.state = Tenant.State.CANCELLED
    acme.save()  # save(), not update(): the signal drops the cached host lookup
    try:
        response = client.post(_page(employee), {"mode": "type", "password": TYPED})
        assert response.status_code == 403
        assert WORKSPACE_READ_ONLY_MESSAGE.encode() in response.content
        with pytest.raises(PermissionDenied) as refused:
            passwords.password_temporary_set(
                tenant=acme, actor=owner, membership=employee, password=TYPED
            )
        assert str(refused.value) == WORKSPACE_READ_ONLY_MESSAGE
    finally:
        acme.state = Tenant.State.ACTIVE
        acme.save()
    assert _password_of(employee) == before


def test_a_generated_password_is_strong_and_easy_to_read_out(acme, membership_of):
    generated = {passwords.password_temporary_generate() for _ in range(50)}
    assert len(generated) == 50
    for password in generated:
        groups = password.split("-")
        assert [len(group) for group in groups] == [4, 4, 4, 4]
        assert set(password.replace("-", "")) <= set(passwords.READABLE_ALPHABET)
        assert not set(password) & set("0O1lI")
    # 16 symbols of 31: about 79 bits, and the password rules accept it.
    user = User.objects.get(pk=membership_of(acme, "employee").user_id)
    from accounts.passwords import password_validate

    password_validate(next(iter(generated)), user, "password")
