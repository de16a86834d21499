"""The member pages, the roles page and the invitation link, over HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.events import Event
from conftest import PASSWORD, sign_in_client
from kernel.capabilities import CAPABILITY_ORDER, ROLE_CAPABILITIES
from kernel.middleware import INPUT_UNSTORABLE_ADDRESS
from kernel.roles import Role
from rbac import services
from rbac.models import Invitation, Membership
from rbac.tests.seed import staff_invitee_email
from tenants.rls import platform_view

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(name, urlconf="config.urls_tenant", args=args)


def _issue(tenant, actor, email="newcomer@example.com", role="employee", **extra):
    return services.membership_invite(tenant=tenant, actor=actor, email=email, role=role, **extra)


def _host(tenant) -> Client:
    return Client(HTTP_HOST=f"{tenant.slug}.localhost")


# --- Members list and detail ---------------------------------------------------------------


def test_members_page_lists_every_member_and_the_pending_invitations(client_for, acme):
    response = client_for("acme", "admin").get(url("rbac:member-list"))
    assert response.status_code == 200
    body = response.content.decode()
    for member in Membership.objects.filter(tenant=acme).select_related("user"):
        assert member.user.email in body
    assert staff_invitee_email("acme") in body
    assert "globex.example" not in body


def test_admin_sees_manage_links_for_members_below_them_but_not_for_the_owner_or_themselves(
    client_for, membership_of, acme
):
    body = client_for("acme", "admin").get(url("rbac:member-list")).content.decode()
    assert url("rbac:member-role", membership_of(acme, "sales").pk) in body
    assert url("rbac:member-role", membership_of(acme, "owner").pk) not in body
    assert url("rbac:member-role", membership_of(acme, "admin").pk) not in body


def test_manager_sees_the_team_with_an_invite_button_but_no_manage_links(
    client_for, membership_of, acme
):
    body = client_for("acme", "manager").get(url("rbac:member-list")).content.decode()
    assert url("rbac:member-invite") in body
    assert url("rbac:member-role", membership_of(acme, "sales").pk) not in body
    assert url("rbac:member-remove", membership_of(acme, "sales").pk) not in body


def test_member_detail_lists_what_the_role_can_do(client_for, membership_of, acme):
    installer = membership_of(acme, "installer")
    body = client_for("acme", "owner").get(url("rbac:member-detail", installer.pk)).content
    for capability in CAPABILITY_ORDER:
        shown = f"<code>{capability}</code>".encode() in body
        assert shown == (capability in ROLE_CAPABILITIES[Role.INSTALLER]), capability


def test_a_membership_of_another_workspace_is_the_missing_object_404(
    client_for, membership_of, acme, globex
):
    client = client_for("globex", "owner")
    missing = client.get(url("rbac:member-detail", 999_999_999))
    assert missing.status_code == 404
    for name in ("rbac:member-detail", "rbac:member-role", "rbac:member-remove"):
        for method in ("get", "post"):
            response = getattr(client, method)(url(name, membership_of(acme, "sales").pk))
            assert response.status_code == 404, (name, method)
            assert response.content == missing.content
    with platform_view():
        assert Membership.objects.filter(pk=membership_of(acme, "sales").pk, role="sales").exists()


def test_an_invitation_of_another_workspace_is_the_missing_object_404(client_for, acme):
    acme_invitation = Invitation.objects.get(tenant=acme, email=staff_invitee_email("acme"))
    client = client_for("globex", "owner")
    missing = client.post(url("rbac:invitation-revoke", 999_999_999))
    response = client.post(url("rbac:invitation-revoke", acme_invitation.pk))
    assert response.status_code == missing.status_code == 404
    assert response.content == missing.content
    with platform_view():
        acme_invitation.refresh_from_db()
    assert acme_invitation.revoked_at is None


# --- Inviting, changing, removing ------------------------------------------------------------


def test_inviting_from_the_page_sends_the_email_and_lists_the_invitation(
    client_for, acme, django_capture_on_commit_callbacks
):
    client = client_for("acme", "manager")
    page = client.get(url("rbac:member-invite")).content.decode()
    assert 'value="accountant"' not in page  # not grantable by a manager
    assert 'value="owner"' not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("rbac:member-invite"), {"email": "Fresh@Example.com", "role": "installer"}
        )
    assert response.status_code == 302
    assert response["Location"] == url("rbac:member-list")
    invitation = Invitation.objects.get(tenant=acme, email="fresh@example.com")
    assert invitation.role == "installer"
    assert [m.to for m in mail.outbox] == [["fresh@example.com"]]
    assert b"fresh@example.com" in client.get(url("rbac:member-list")).content


def test_a_tampered_role_is_refused_next_to_the_field(client_for, acme):
    response = client_for("acme", "manager").post(
        url("rbac:member-invite"), {"email": "x@example.com", "role": "admin"}
    )
    assert response.status_code == 400
    assert not Invitation.objects.filter(email="x@example.com").exists()
    assert b'id="id_role_error"' in response.content


def test_customer_role_invitation_without_company_shows_the_error(client_for):
    response = client_for("acme", "owner").post(
        url("rbac:member-invite"), {"email": "c@example.com", "role": "customer"}
    )
    assert response.status_code == 400
    assert services.COMPANY_REQUIRED.encode() in response.content


def test_changing_a_role_signs_that_member_out_here_at_once(client_for, membership_of, acme):
    sales_client = client_for("acme", "sales")
    assert sales_client.get(url("shop:quote-create")).status_code == 200
    admin = client_for("acme", "admin")
    sales = membership_of(acme, "sales")
    response = admin.post(url("rbac:member-role", sales.pk), {"role": "employee"})
    assert response.status_code == 302
    sales.refresh_from_db()
    assert sales.role == "employee"
    after = sales_client.get(url("shop:quote-create"))
    assert after.status_code == 302
    assert after["Location"].startswith(url("accounts:sign-in"))


def test_removing_a_member_from_the_page_ends_their_access(client_for, membership_of, acme):
    designer_client = client_for("acme", "designer")
    designer = membership_of(acme, "designer")
    admin = client_for("acme", "admin")
    assert admin.get(url("rbac:member-remove", designer.pk)).status_code == 200
    response = admin.post(url("rbac:member-remove", designer.pk))
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=designer.pk).exists()
    assert designer_client.get("/").status_code == 302
    # Signed in again somehow, they are a non-member now: the same 404 as a stranger.
    again = sign_in_client(Client(), designer.user, acme)
    assert again.get("/").status_code == 404


def test_trying_to_remove_yourself_explains_why_instead_of_a_dead_end(client_for, membership_of):
    from tenants.models import Tenant

    acme = Tenant.objects.get(slug="acme")
    admin = membership_of(acme, "admin")
    client = client_for("acme", "admin")
    response = client.post(url("rbac:member-remove", admin.pk), follow=True)
    assert services.CANNOT_REMOVE_YOURSELF.encode() in response.content
    assert Membership.objects.filter(pk=admin.pk).exists()


# --- Ownership -----------------------------------------------------------------------------


def test_ownership_transfer_needs_the_owners_password(
    client_for, membership_of, acme, events, django_capture_on_commit_callbacks
):
    client = client_for("acme", "owner")
    manager = membership_of(acme, "manager")
    choose = client.get(url("rbac:ownership-transfer"))
    assert choose.status_code == 200
    assert f'value="{manager.pk}"'.encode() in choose.content
    confirm = client.get(url("rbac:ownership-confirm"), {"member": manager.pk})
    assert confirm.status_code == 200
    assert manager.user.email.encode() in confirm.content
    # The emailed one-time code (accounts.twofactor.action_codes), bound to this transfer.
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(url("rbac:ownership-confirm"), {"member": manager.pk, "step": "send"})
    assert sent["Location"] == f"{url('rbac:ownership-confirm')}?member={manager.pk}"
    code = re.search(r"^\s+(\d{6})$", mail.outbox[-1].body, re.M).group(1)
    wrong = client.post(
        url("rbac:ownership-confirm"),
        {"member": manager.pk, "password": "not it", "understood": "on", "code": code},
    )
    assert wrong.status_code == 400
    manager.refresh_from_db()
    assert manager.role == "manager"
    done = client.post(
        url("rbac:ownership-confirm"),
        {"member": manager.pk, "password": PASSWORD, "understood": "on", "code": code},
    )
    assert done.status_code == 302
    manager.refresh_from_db()
    assert manager.role == "owner"
    assert membership_of(acme, "owner").role == "admin"  # the seeded owner's address
    # The previous owner's own session stays (they just confirmed), now as an admin.
    assert client.get(url("rbac:member-list")).status_code == 200
    assert client.get(url("rbac:ownership-transfer")).status_code == 403
    assert len(events(acme, Event.OWNERSHIP_TRANSFERRED)) == 1


def test_confirming_a_transfer_to_someone_who_cannot_own_goes_back_to_the_choice(
    client_for, membership_of, acme
):
    client = client_for("acme", "owner")
    customer = membership_of(acme, "customer")
    response = client.get(url("rbac:ownership-confirm"), {"member": customer.pk})
    assert response.status_code == 302
    assert response["Location"] == url("rbac:ownership-transfer")
    response = client.post(
        url("rbac:ownership-confirm"),
        {"member": customer.pk, "password": PASSWORD, "understood": "on"},
    )
    assert response.status_code == 400
    customer.refresh_from_db()
    assert customer.role == "customer"


# --- Roles & permissions ---------------------------------------------------------------------


def test_roles_page_is_the_enforced_map(client_for):
    body = client_for("acme", "manager").get(url("rbac:roles")).content.decode()
    rows = re.findall(r"<tr>\s*<th scope=\"row\">.*?</tr>", body, flags=re.S)
    assert len(rows) == len(CAPABILITY_ORDER)
    for capability, row in zip(CAPABILITY_ORDER, rows, strict=True):
        assert f"<code>{capability}</code>" in row
        marks = re.findall(r'aria-label="(yes|no)"', row)
        expected = ["yes" if capability in ROLE_CAPABILITIES[role] else "no" for role in Role]
        assert marks == expected, capability


# --- Company administrators ------------------------------------------------------------------


def test_company_admin_sees_and_manages_only_their_company_people(
    client_for, membership_of, acme, django_capture_on_commit_callbacks
):
    client = client_for("acme", "company_admin")
    body = client.get(url("rbac:company-people")).content.decode()
    assert "customer@acme.example" in body
    assert "customer2@acme.example" not in body
    assert "sales@acme.example" not in body
    other_company = Membership.objects.get(tenant=acme, user__email="customer2@acme.example")
    for method in ("get", "post"):
        response = getattr(client, method)(url("rbac:company-person-remove", other_company.pk))
        assert response.status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("rbac:company-people-invite"), {"email": "buyer@one.example", "role": "customer"}
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get(tenant=acme, email="buyer@one.example")
    assert invitation.company_id == membership_of(acme, "company_admin").company_id
    customer = membership_of(acme, "customer")
    assert client.post(url("rbac:company-person-remove", customer.pk)).status_code == 302
    assert not Membership.objects.filter(pk=customer.pk).exists()


# --- Accepting an invitation -----------------------------------------------------------------


def test_a_new_person_accepts_creates_an_account_and_is_signed_in(
    acme, membership_of, events, in_tenant
):
    issued = _issue(acme, membership_of(acme, "owner"), role="designer")
    client = _host(acme)
    page = client.get(url("invitations:accept", issued.token))
    assert page.status_code == 200
    assert b"Acme Signs" in page.content
    assert b"Designer" in page.content
    assert b'name="full_name"' in page.content
    assert page["Cache-Control"].startswith("max-age=0")
    weak = client.post(
        url("invitations:accept", issued.token), {"full_name": "Dana Designer", "password": "short"}
    )
    assert weak.status_code == 400
    assert not User.objects.filter(email="newcomer@example.com").exists()
    response = client.post(
        url("invitations:accept", issued.token),
        {"full_name": "Dana Designer", "password": "a long and good passphrase"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get(email="newcomer@example.com")
    assert user.full_name == "Dana Designer"
    membership = Membership.objects.get(user=user, tenant=acme)
    assert membership.role == "designer"
    assert client.get("/").status_code == 200
    [added] = events(acme, Event.MEMBER_ADDED)
    assert added.changes == {"role": [None, "designer"]}
    assert added.actor_id == user.pk
    # Single use.
    again = _host(acme).get(url("invitations:accept", issued.token))
    assert again.status_code == 410
    assert services.INVITATION_USED.encode() in again.content


def test_an_existing_account_accepts_with_its_password(acme, globex, membership_of, member):
    globex_owner = member("globex", "owner")
    issued = _issue(acme, membership_of(acme, "owner"), email=globex_owner.email, role="sales")
    client = _host(acme)
    page = client.get(url("invitations:accept", issued.token))
    assert b'name="full_name"' not in page.content
    wrong = client.post(url("invitations:accept", issued.token), {"password": "nope nope nope"})
    assert wrong.status_code == 400
    assert services.INVITATION_WRONG_PASSWORD.encode() in wrong.content
    issued.invitation.refresh_from_db()
    assert issued.invitation.failed_attempts == 1
    right = client.post(url("invitations:accept", issued.token), {"password": PASSWORD})
    assert right.status_code == 302
    with platform_view():  # both workspaces' rows (row-level security: tenants/rls.py)
        assert Membership.objects.get(user=globex_owner, tenant=acme).role == "sales"
        assert Membership.objects.get(user=globex_owner, tenant=globex).role == "owner"


def test_five_wrong_passwords_withdraw_the_invitation(acme, membership_of, member, events):
    issued = _issue(acme, membership_of(acme, "owner"), email=member("globex", "sales").email)
    client = _host(acme)
    for _ in range(services.MAX_ACCEPT_ATTEMPTS - 1):
        response = client.post(url("invitations:accept", issued.token), {"password": "wrong!"})
        assert response.status_code == 400
    response = client.post(url("invitations:accept", issued.token), {"password": "wrong!"})
    assert response.status_code == 410
    assert services.INVITATION_LOCKED.encode() in response.content
    right = client.post(url("invitations:accept", issued.token), {"password": PASSWORD})
    assert right.status_code == 410
    assert not Membership.objects.filter(tenant=acme, user__email="sales@globex.example").exists()
    refused = events(acme, Event.MEMBER_INVITATION_REFUSED)
    assert [e.additional_data["reason"] for e in refused][:5] == ["wrong_password"] * 5


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, 410, services.INVITATION_EXPIRED),
        ({"revoked_at": timezone.now()}, 410, services.INVITATION_REVOKED),
    ],
)
def test_an_unusable_link_shows_why_and_never_a_500(acme, membership_of, change, status, message):
    issued = _issue(acme, membership_of(acme, "owner"))
    Invitation.objects.filter(pk=issued.invitation.pk).update(**change)
    for method in ("get", "post"):
        response = getattr(_host(acme), method)(
            url("invitations:accept", issued.token), {"full_name": "X", "password": "p" * 20}
        )
        assert response.status_code == status
        assert message.encode() in response.content
    assert not User.objects.filter(email="newcomer@example.com").exists()


@pytest.mark.parametrize("token", ["garbage", "x" * 300, "%00", "a.b-c_d"])
def test_an_unknown_token_is_a_400_message(acme, token):
    response = _host(acme).get(f"/invitations/{token}/")
    assert response.status_code in (400, 404)
    if response.status_code == 400:
        # A NUL cannot be stored or looked up: refused before the view (kernel.middleware).
        expected = INPUT_UNSTORABLE_ADDRESS if token == "%00" else services.INVITATION_INVALID
        assert expected.encode() in response.content


def test_an_acme_invitation_link_does_nothing_on_globex(acme, globex, membership_of):
    issued = _issue(acme, membership_of(acme, "owner"))
    response = _host(globex).post(
        url("invitations:accept", issued.token),
        {"full_name": "Sneaky", "password": "a long and good passphrase"},
    )
    assert response.status_code == 400
    assert services.INVITATION_INVALID.encode() in response.content
    assert b"Acme" not in response.content
    assert not User.objects.filter(email="newcomer@example.com").exists()


def test_a_customer_invitation_binds_the_company_on_accept(acme, membership_of):
    company_admin = membership_of(acme, "company_admin")
    issued = _issue(acme, company_admin, email="buyer@one.example", role="customer")
    response = _host(acme).post(
        url("invitations:accept", issued.token),
        {"full_name": "Bea Buyer", "password": "a long and good passphrase"},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(tenant=acme, user__email="buyer@one.example")
    assert (membership.role, membership.company_id) == ("customer", company_admin.company_id)


def test_ownership_transfer_refuses_a_wrong_or_foreign_code(
    client_for, membership_of, acme, django_capture_on_commit_callbacks
):
    client = client_for("acme", "owner")
    manager = membership_of(acme, "manager")
    sales = membership_of(acme, "sales")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("rbac:ownership-confirm"), {"member": sales.pk, "step": "send"})
    code_for_sales = re.search(r"^\s+(\d{6})$", mail.outbox[-1].body, re.M).group(1)
    for code in (code_for_sales, "", "12ab56"):
        response = client.post(
            url("rbac:ownership-confirm"),
            {"member": manager.pk, "password": PASSWORD, "understood": "on", "code": code},
        )
        assert response.status_code == 400
    manager.refresh_from_db()
    assert manager.role == "manager"


def test_an_existing_account_with_two_factor_must_still_pass_it_after_accepting(
    acme, membership_of, member
):
    from accounts.tests.twofactor_helpers import code_now, enroll

    user = member("globex", "designer")
    seed, _codes = enroll(user)
    issued = _issue(acme, membership_of(acme, "owner"), email=user.email, role="employee")
    client = _host(acme)
    response = client.post(url("invitations:accept", issued.token), {"password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == url("accounts:two-factor-verify")
    assert Membership.objects.get(user=user, tenant=acme).role == "employee"
    # Half signed in: nothing of the workspace opens until the second factor passes.
    assert client.get("/").status_code == 302
    verified = client.post(url("accounts:two-factor-verify"), {"code": code_now(seed)})
    assert verified.status_code == 302
    assert client.get("/").status_code == 200
