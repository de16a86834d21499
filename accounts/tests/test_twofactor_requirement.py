"""The workspace's "require 2FA for all members": who may switch it, what members meet at
their next sign-in (and only in that workspace), sessions that predate it, turning it off
with an emailed code, and the audit events and owner emails."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import User
from accounts.twofactor.models import EncryptedTOTPDevice
from accounts.twofactor.selectors import user_has_2fa
from audit.events import Event
from audit.tests.streams import events_since, stream_head
from conftest import PASSWORD
from rbac.models import Membership
from tenants.models import Tenant
from workspace import two_factor as workspace_two_factor

from .twofactor_helpers import code_now, enroll, post_password, recovery_codes_in, workspace_client

pytestmark = pytest.mark.django_db

SETTINGS = "/settings/two-factor/"
OFF = "/settings/two-factor/off/"
SETUP = "/accounts/2fa/setup/"


def _require(acme, member) -> None:
    owner = member("acme", "owner")
    if not user_has_2fa(owner):
        enroll(owner)
    workspace_two_factor.workspace_two_factor_require(
        tenant=acme, actor=Membership.objects.get(user=owner, tenant=acme)
    )


def _fresh(tenant) -> Tenant:
    return Tenant.objects.get(pk=tenant.pk)


# --- Switching it on


def test_the_owner_must_have_2fa_before_requiring_it(client_for, acme, member):
    client = client_for("acme", "owner")
    page = client.get(SETTINGS).content.decode()
    assert "Turn on two-factor authentication for your own account first." in page
    assert "Require two-factor authentication for all members</button>" not in page
    response = client.post(SETTINGS, follow=True)
    assert workspace_two_factor.REQUIREMENT_NEEDS_YOUR_2FA in response.content.decode()
    assert _fresh(acme).require_2fa is False


def test_switching_it_on_is_audited_and_emailed_to_the_owners(
    client_for, acme, member, django_capture_on_commit_callbacks
):
    owner = member("acme", "owner")
    enroll(owner)
    second_owner = member("acme", "admin")
    Membership.objects.filter(user=second_owner, tenant=acme).update(role="owner")
    client = client_for("acme", "owner")
    head, platform_head = stream_head(acme), stream_head("public")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(SETTINGS)
    assert response["Location"] == SETTINGS
    tenant = _fresh(acme)
    assert tenant.require_2fa is True
    assert tenant.require_2fa_since is not None
    for stream, since in ((acme, head), ("public", platform_head)):
        events = [
            e
            for e in events_since(stream, since)
            if e.event_type == Event.WORKSPACE_TWO_FACTOR_REQUIRED
        ]
        assert len(events) == 1
        assert events[0].changes == {"require_2fa": [False, True]}
        assert events[0].actor_email == owner.email
    emails = [m for m in mail.outbox if "two-factor authentication is now required" in m.subject]
    assert sorted(m.to[0] for m in emails) == sorted([owner.email, second_owner.email])
    assert "Acme Owner" in emails[0].body
    page = client.get(SETTINGS).content.decode()
    assert "Required" in page
    assert OFF in page


def test_switching_it_on_twice_changes_nothing(acme, member):
    _require(acme, member)
    head = stream_head(acme)
    owner = Membership.objects.get(user=member("acme", "owner"), tenant=acme)
    assert workspace_two_factor.workspace_two_factor_require(tenant=acme, actor=owner) is False
    assert events_since(acme, head) == []


@pytest.mark.parametrize("role", ["manager", "sales", "employee", "customer"])
def test_members_without_settings_security_cannot_switch_it(acme, member, client_for, role):
    from kernel.roles import CUSTOMER_ROLES, Role

    if Role(role) in CUSTOMER_ROLES:
        membership = Membership.objects.filter(tenant=acme, role=role).first()
        user = membership.user
        from conftest import sign_in_client

        client = sign_in_client(workspace_client(acme), user, acme)
    else:
        user = member("acme", role)
        client = client_for("acme", role)
    enroll(user)
    assert client.get(SETTINGS).status_code == 403
    assert client.post(SETTINGS).status_code == 403
    assert client.post(OFF, {"step": "send"}).status_code == 403
    assert _fresh(acme).require_2fa is False


def test_an_admin_with_2fa_may_switch_it(acme, member, client_for):
    enroll(member("acme", "admin"))
    client_for("acme", "admin").post(SETTINGS)
    assert _fresh(acme).require_2fa is True


# --- What members meet


@pytest.mark.parametrize(
    "path",
    ["/", "/quotes/", "/companies/", "/accounts/security/", "/accounts/2fa/", "/settings/members/"],
)
def test_a_member_without_2fa_signing_in_after_the_switch_reaches_only_enrollment(
    acme, member, path
):
    _require(acme, member)
    user = member("acme", "manager")
    client = workspace_client(acme)
    assert post_password(client, user)["Location"] == "/"  # signed in ...
    response = client.get(path)
    assert response.status_code == 302  # ... but sent to enrollment from everywhere
    assert response["Location"] == SETUP
    assert client.post(path)["Location"] in (SETUP,)
    setup = client.get(SETUP)
    assert setup.status_code == 200
    body = setup.content.decode()
    assert "Acme Signs requires two-factor authentication." in body
    assert 'href="/quotes/"' not in body  # no way around it in the navigation
    assert "Sign out" in body


def test_enrolling_then_opens_the_workspace(acme, member):
    _require(acme, member)
    user = member("acme", "manager")
    client = workspace_client(acme)
    post_password(client, user)
    client.get(SETUP)
    seed = EncryptedTOTPDevice.objects.get(user=user).seed
    response = client.post(SETUP, {"code": code_now(seed)})
    assert response.status_code == 200
    assert len(recovery_codes_in(response)) == 10
    assert 'href="/"' in response.content.decode()  # continue into the workspace
    assert client.get("/quotes/").status_code == 200


def test_signing_out_is_still_possible_while_enrollment_is_required(acme, member):
    _require(acme, member)
    client = workspace_client(acme)
    post_password(client, member("acme", "manager"))
    response = client.post("/accounts/sign-out/")
    assert response["Location"] == "/accounts/sign-in/"
    assert client.session.get("_auth_user_id") is None


def test_sessions_that_started_before_the_switch_keep_working(acme, member, client_for):
    before = client_for("acme", "sales")
    _require(acme, member)
    assert before.get("/quotes/").status_code == 200
    after = workspace_client(acme)
    post_password(after, member("acme", "sales"))
    assert after.get("/quotes/")["Location"] == SETUP


def test_the_owner_can_sign_everyone_out_so_everyone_meets_the_requirement(
    acme, globex, member, client_for
):
    sales = client_for("acme", "sales")
    designer = client_for("acme", "designer")
    elsewhere = client_for("globex", "sales")
    owner = client_for("acme", "owner")
    _require(acme, member)
    head = stream_head(acme)
    response = owner.post("/settings/two-factor/sign-out-everyone/", follow=True)
    assert "session(s) ended" in response.content.decode()
    for client in (sales, designer):
        assert client.get("/quotes/")["Location"].startswith("/accounts/sign-in/")
    assert owner.get("/quotes/").status_code == 200  # the owner's own session stays
    assert elsewhere.get("/quotes/").status_code == 200  # other workspaces are untouched
    ended = [e for e in events_since(acme, head) if e.event_type == Event.SESSIONS_ENDED]
    assert {e.target_label.split("<")[-1].rstrip(">") for e in ended} >= {
        "sales@acme.example",
        "designer@acme.example",
    }
    assert all(e.additional_data["reason"] == "workspace_signed_out" for e in ended)
    again = workspace_client(acme)
    post_password(again, member("acme", "sales"))
    assert again.get("/quotes/")["Location"] == SETUP


def test_only_settings_security_may_sign_everyone_out(client_for):
    assert (
        client_for("acme", "manager").post("/settings/two-factor/sign-out-everyone/").status_code
        == 403
    )
    assert (
        client_for("acme", "owner").get("/settings/two-factor/sign-out-everyone/").status_code
        == 405
    )


def test_a_member_of_two_workspaces_meets_the_requirement_only_where_it_applies(
    acme, globex, member
):
    user = member("acme", "designer")
    Membership.objects.create(user=user, tenant=globex, role="designer")
    _require(acme, member)
    at_globex = workspace_client(globex)
    assert post_password(at_globex, user)["Location"] == "/"
    assert at_globex.get("/quotes/").status_code == 200  # globex does not require it
    at_acme = workspace_client(acme)
    assert post_password(at_acme, user)["Location"] == "/"
    assert at_acme.get("/quotes/")["Location"] == SETUP  # acme does
    # After enrolling (at acme), globex asks for the second factor too: it is the account's.
    at_acme.get(SETUP)
    at_acme.post(SETUP, {"code": code_now(EncryptedTOTPDevice.objects.get(user=user).seed)})
    assert at_acme.get("/quotes/").status_code == 200
    again = workspace_client(globex)
    assert post_password(again, user)["Location"] == "/accounts/2fa/verify/"


def test_members_with_2fa_are_not_disturbed(acme, member):
    _require(acme, member)
    user = member("acme", "accountant")
    seed, _ = enroll(user)
    client = workspace_client(acme)
    post_password(client, user)
    client.post("/accounts/2fa/verify/", {"code": code_now(seed)})
    assert client.get("/invoices/").status_code == 200


def test_a_temporary_password_is_replaced_before_enrolling(acme, member):
    _require(acme, member)
    user = member("acme", "manager")
    User.objects.filter(pk=user.pk).update(must_change_password=True)
    client = workspace_client(acme)
    post_password(client, user)
    assert client.get("/")["Location"] == "/accounts/password/change/"
    assert client.get("/accounts/password/change/").status_code == 200
    new_password = "an entirely new passphrase 42"
    response = client.post(
        "/accounts/password/change/",
        {
            "current_password": PASSWORD,
            "new_password": new_password,
            "new_password_confirm": new_password,
        },
    )
    assert response.status_code == 302
    assert client.get("/quotes/")["Location"] == SETUP


def test_turning_2fa_off_in_a_workspace_that_requires_it_sends_back_to_enrollment(acme, member):
    _require(acme, member)
    user = member("acme", "accountant")
    seed, _ = enroll(user)
    client = workspace_client(acme)
    post_password(client, user)
    client.post("/accounts/2fa/verify/", {"code": code_now(seed)})
    page = client.get("/accounts/2fa/disable/").content.decode()
    assert "Acme Signs requires two-factor authentication" in page
    client.post(
        "/accounts/2fa/disable/",
        {"current_password": PASSWORD, "code": code_now(seed, offset_steps=1)},
    )
    assert not user_has_2fa(user)
    assert client.get("/invoices/")["Location"] == SETUP


# --- Switching it off: the emailed code


def _code_from_outbox() -> str:
    return re.search(r"^\s+(\d{6})$", mail.outbox[-1].body, re.M).group(1)


def test_switching_it_off_shows_what_will_happen_and_needs_an_emailed_code(
    acme, member, client_for, django_capture_on_commit_callbacks
):
    _require(acme, member)
    owner = member("acme", "owner")
    client = client_for("acme", "owner")
    page = client.get(OFF)
    assert page.status_code == 200
    body = page.content.decode()
    assert "What will happen" in body
    assert "can sign in with their password alone" in body
    assert "Email me a confirmation code" in body
    assert _fresh(acme).require_2fa is True

    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(OFF, {"step": "send"})
    assert sent.status_code == 200
    assert "We emailed a 6-digit code to o•••@acme.example" in sent.content.decode()
    assert mail.outbox[-1].to == [owner.email]
    assert "stop requiring two-factor authentication" in mail.outbox[-1].body
    code = _code_from_outbox()

    wrong = client.post(OFF, {"step": "confirm", "code": f"{(int(code) + 1) % 10**6:06d}"})
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.content.decode()
    malformed = client.post(OFF, {"step": "confirm", "code": "12ab"})
    assert malformed.status_code == 400
    assert "Enter the 6-digit code from the email." in malformed.content.decode()
    assert _fresh(acme).require_2fa is True

    head, platform_head = stream_head(acme), stream_head("public")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(OFF, {"step": "confirm", "code": code})
    assert done["Location"] == SETTINGS
    tenant = _fresh(acme)
    assert tenant.require_2fa is False
    assert tenant.require_2fa_since is None
    events = [e.event_type for e in events_since(acme, head)]
    assert events == [Event.ACTION_CODE_CONFIRMED, Event.WORKSPACE_TWO_FACTOR_NOT_REQUIRED]
    assert Event.WORKSPACE_TWO_FACTOR_NOT_REQUIRED in [
        e.event_type for e in events_since("public", platform_head)
    ]
    assert [m.subject for m in mail.outbox] == [
        "Acme Signs: two-factor authentication is no longer required"
    ]
    # Members signing in now are not sent to enrollment.
    fresh = workspace_client(acme)
    post_password(fresh, member("acme", "manager"))
    assert fresh.get("/quotes/").status_code == 200


def test_the_service_refuses_to_switch_it_off_without_a_confirmation(acme, member):
    from django.core.exceptions import PermissionDenied

    _require(acme, member)
    owner = Membership.objects.get(user=member("acme", "owner"), tenant=acme)
    with pytest.raises(PermissionDenied):
        workspace_two_factor.workspace_two_factor_unrequire(
            tenant=acme, actor=owner, confirmation=None
        )
    assert _fresh(acme).require_2fa is True


def test_the_off_page_when_not_required_goes_back(acme, client_for):
    response = client_for("acme", "owner").get(OFF)
    assert response["Location"] == SETTINGS


def test_the_settings_page_counts_members_with_2fa(acme, member, client_for):
    enroll(member("acme", "owner"))
    enroll(member("acme", "sales"))
    total = Membership.objects.filter(tenant=acme, is_active=True).count()
    page = client_for("acme", "owner").get(SETTINGS).content.decode()
    assert f"2 of {total} members have two-factor authentication on." in page


def test_the_requirement_records_when_it_started(acme, member):
    before = timezone.now()
    _require(acme, member)
    assert before <= _fresh(acme).require_2fa_since <= timezone.now()


# --- The members page


def test_the_members_page_shows_each_members_2fa_status(acme, member, client_for):
    enroll(member("acme", "sales"))
    client = client_for("acme", "owner")
    page = client.get("/settings/members/").content.decode()
    assert '<th scope="col">Two-factor</th>' in page
    rows = re.findall(r"<tr>.*?</tr>", page, re.S)
    sales_row = next(row for row in rows if "sales@acme.example" in row)
    owner_row = next(row for row in rows if "owner@acme.example" in row)
    assert '<span class="badge active">On</span>' in sales_row
    assert ">Off</span>" in owner_row
    sales = Membership.objects.get(user=member("acme", "sales"), tenant=acme)
    detail = client.get(f"/settings/members/{sales.pk}/").content.decode()
    assert "<dt>Two-factor authentication</dt><dd>on</dd>" in detail


def test_the_security_pages_link_to_two_factor_settings(acme, member, client_for):
    client = client_for("acme", "owner")
    assert "/accounts/2fa/setup/" in client.get("/accounts/security/").content.decode()
    assert SETTINGS in client.get("/settings/security/").content.decode()
    assert SETTINGS in client.get("/settings/").content.decode()
    enroll(member("acme", "owner"))
    assert 'href="/accounts/2fa/"' in client.get("/accounts/security/").content.decode()
