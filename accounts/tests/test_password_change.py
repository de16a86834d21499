"""Changing a password (it ends the other sessions) and the first-sign-in change a member makes
after an admin gave them a temporary password."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from accounts import passwords
from accounts.models import User, UserSession
from accounts.sessions import session_key_digest
from audit.tests.streams import events_since, stream_head
from conftest import PASSWORD
from kernel.roles import Role
from rbac import passwords as rbac_passwords
from rbac.models import Membership

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "an entirely different passphrase"
TEMPORARY = "temporary passphrase 4821"


def _sign_in(email: str, password: str = PASSWORD, slug: str = "acme") -> Client:
    client = Client(HTTP_HOST=f"{slug}.localhost")
    response = client.post("/accounts/sign-in/", {"email": email, "password": password})
    assert response.status_code == 302, response.content
    return client


def _change(client: Client, current: str = PASSWORD, new: str = NEW_PASSWORD):
    return client.post(
        "/accounts/password/change/",
        {"current_password": current, "new_password": new, "new_password_confirm": new},
    )


# --- Changing one's password


def test_password_change_keeps_this_session_with_a_new_key_and_ends_the_others(
    acme, member, django_capture_on_commit_callbacks
):
    here = _sign_in("owner@acme.example")
    elsewhere = _sign_in("owner@acme.example")
    key_before = here.cookies["sessionid"].value
    head, platform_head = stream_head(acme), stream_head("public")
    with django_capture_on_commit_callbacks(execute=True):
        response = _change(here)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/security/"
    key_after = here.cookies["sessionid"].value
    assert key_after != key_before
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
    owner = member("acme", "owner")
    assert [row.key_digest for row in UserSession.objects.filter(user=owner)] == [
        session_key_digest(key_after)
    ]
    assert owner.check_password(NEW_PASSWORD)
    assert [(e.event_name, e.additional_data) for e in events_since(acme, head)] == [
        ("auth.sessions.ended", {"reason": "password_changed", "count": 1}),
        ("account.password.changed", {"required": False}),
    ]
    assert [e.event_name for e in events_since("public", platform_head)] == [
        "account.password.changed"
    ]
    assert [m.subject for m in mail.outbox] == ["Your Shopsafe password was changed"]


def test_wrong_current_password_is_an_error_on_that_field(member):
    client = _sign_in("owner@acme.example")
    response = _change(client, current="not the password at all")
    assert response.status_code == 400
    assert b'id="id_current_password_error"' in response.content
    assert passwords.CURRENT_PASSWORD_WRONG.encode() in response.content
    assert member("acme", "owner").check_password(PASSWORD)


@pytest.mark.parametrize(
    ("new", "error"),
    [
        ("short", b"This password is too short"),
        ("x" * 129, b"Use at most 128 characters."),
        ("password1234", b"This password is too common."),
    ],
)
def test_new_password_rules_apply_to_a_change(new, error):
    client = _sign_in("owner@acme.example")
    response = _change(client, new=new)
    assert response.status_code == 400
    assert b'id="id_new_password_error"' in response.content
    assert error in response.content


def test_security_page_offers_change_sessions_and_sign_out_everywhere(client_for):
    response = client_for("acme", "installer").get("/accounts/security/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'action="/accounts/password/change/"' in body
    assert 'action="/accounts/security/sign-out-everywhere/"' in body
    assert "Active sessions in Acme Signs" in body


def test_every_member_finds_their_security_page_in_the_menu(client_for):
    for role in ("owner", "employee", "installer"):
        page = client_for("acme", role).get("/")
        assert b'href="/accounts/security/"' in page.content, role


# --- A temporary password from an admin, and the first-sign-in change


@pytest.fixture
def new_member(acme):
    user = User.objects.create_user("newbie@acme.example", None, full_name="New Member")
    Membership.objects.create(user=user, tenant=acme, role=Role.EMPLOYEE)
    return user


def _admin(acme, member):
    return Membership.objects.get(user=member("acme", "admin"), tenant=acme)


def _give_temporary(acme, actor, user, password=TEMPORARY):
    """The admin gives ``user`` (a member of acme) a temporary password."""
    return rbac_passwords.password_temporary_set(
        tenant=acme,
        actor=actor,
        membership=Membership.objects.get(user=user, tenant=acme),
        password=password,
    )


def test_temporary_password_makes_the_member_change_it_first(acme, member, new_member):
    _give_temporary(acme, _admin(acme, member), new_member)
    new_member.refresh_from_db()
    assert new_member.must_change_password is True
    client = _sign_in("newbie@acme.example", TEMPORARY)
    for path in ("/", "/quotes/", "/accounts/security/", "/settings/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == "/accounts/password/change/", path
    page = client.get("/accounts/password/change/")
    assert page.status_code == 200
    assert b"Choose your own password" in page.content
    assert client.post("/accounts/sign-out/").status_code == 302  # signing out still works


def test_after_choosing_their_own_password_the_member_reaches_the_workspace(
    acme, member, new_member
):
    _give_temporary(acme, _admin(acme, member), new_member)
    client = _sign_in("newbie@acme.example", TEMPORARY)
    head = stream_head(acme)
    response = _change(client, current=TEMPORARY)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
    new_member.refresh_from_db()
    assert new_member.must_change_password is False
    changed = [e for e in events_since(acme, head) if e.event_name == "account.password.changed"]
    assert [e.additional_data for e in changed] == [{"required": True}]


def test_the_new_password_may_not_be_the_temporary_one_reused_badly(acme, member, new_member):
    _give_temporary(acme, _admin(acme, member), new_member)
    client = _sign_in("newbie@acme.example", TEMPORARY)
    response = _change(client, current=TEMPORARY, new="short")
    assert response.status_code == 400
    assert client.get("/").status_code == 302  # still held at the change page


def test_workspace_without_the_rule_sets_no_change_requirement(acme, member, new_member):
    acme.first_sign_in_password_change = False
    acme.save()
    _give_temporary(acme, _admin(acme, member), new_member)
    new_member.refresh_from_db()
    assert new_member.must_change_password is False


def test_temporary_password_is_audited_without_the_password(acme, member, new_member):
    head, platform_head = stream_head(acme), stream_head("public")
    _give_temporary(acme, _admin(acme, member), new_member)
    for stream, mark in ((acme, head), ("public", platform_head)):
        events = events_since(stream, mark)
        assert [(e.event_name, e.actor_email, e.target_id, e.additional_data) for e in events] == [
            (
                "account.password.temporary_set",
                "admin@acme.example",
                str(new_member.pk),
                {"must_change": True, "generated": False},
            )
        ]
        assert TEMPORARY not in str(events[0].additional_data)


def test_temporary_password_ends_the_members_sessions(acme, member, new_member):
    new_member.set_password(PASSWORD)
    new_member.save()
    client = _sign_in("newbie@acme.example")
    _give_temporary(acme, _admin(acme, member), new_member)
    assert client.get("/").status_code == 302


def test_temporary_password_is_refused_for_an_account_of_another_workspace(acme, globex, member):
    # Accounts are global: an acme admin must not choose the password of someone who also
    # belongs to globex.
    shared = User.objects.create_user("shared@example.com", PASSWORD, full_name="Shared")
    Membership.objects.create(user=shared, tenant=acme, role=Role.EMPLOYEE)
    Membership.objects.create(user=shared, tenant=globex, role=Role.EMPLOYEE)
    with pytest.raises(ValidationError) as refused:
        _give_temporary(acme, _admin(acme, member), shared)
    assert refused.value.messages == [rbac_passwords.TEMPORARY_PASSWORD_NOT_ALLOWED]
    with pytest.raises(PermissionDenied):  # a membership of globex is none of acme's
        rbac_passwords.password_temporary_set(
            tenant=acme,
            actor=_admin(acme, member),
            membership=Membership.objects.get(user=member("globex", "employee")),
            password=TEMPORARY,
        )
    shared.refresh_from_db()
    assert shared.check_password(PASSWORD)


def test_temporary_password_needs_members_manage(acme, member, new_member):
    employee = Membership.objects.get(user=member("acme", "employee"), tenant=acme)
    with pytest.raises(PermissionDenied):
        _give_temporary(acme, employee, new_member)
