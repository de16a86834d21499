"""Member management services: invitations, role changes, removal, ownership transfer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import UserSession
from accounts.tests.factories import tracked_session_for
from accounts.tests.twofactor_helpers import confirmed_action
from accounts.twofactor.action_codes import Action
from audit.events import Event
from kernel.roles import Role
from rbac import services
from rbac.models import Invitation, Membership
from rbac.selectors import token_digest
from rbac.tests.seed import company_invitee_email, staff_invitee_email
from shop.models import Company
from shop.tests.seed import company_one_name, company_two_name

pytestmark = pytest.mark.django_db


def _company_id(tenant, in_tenant, name: str) -> int:
    with in_tenant(tenant):
        return Company.objects.get(name=name).pk


@pytest.fixture
def one_id(acme, in_tenant):
    return _company_id(acme, in_tenant, company_one_name("acme"))


@pytest.fixture
def two_id(acme, in_tenant):
    return _company_id(acme, in_tenant, company_two_name("acme"))


# --- Inviting --------------------------------------------------------------------------------


def test_owner_invites_a_designer_storing_only_the_token_digest_and_emailing_the_link(
    acme, membership_of, events, django_capture_on_commit_callbacks
):
    owner = membership_of(acme, "owner")
    with django_capture_on_commit_callbacks(execute=True):
        issued = services.membership_invite(
            tenant=acme, actor=owner, email="  New.Person@Example.com ", role=Role.DESIGNER
        )
    invitation = Invitation.objects.get(pk=issued.invitation.pk)
    assert invitation.email == "new.person@example.com"
    assert invitation.role == Role.DESIGNER
    assert invitation.company_id is None
    assert invitation.token_digest == token_digest(issued.token)
    assert issued.token not in invitation.token_digest
    assert invitation.invited_by == owner.user
    expected_expiry = timezone.now() + timedelta(days=services.INVITATION_DAYS)
    assert abs(invitation.expires_at - expected_expiry) < timedelta(minutes=1)
    [message] = mail.outbox
    assert message.to == ["new.person@example.com"]
    assert message.subject == "You are invited to Acme Signs on Shopsafe"
    assert f"http://acme.localhost:8000/invitations/{issued.token}/" in message.body
    assert "as Designer" in message.body
    [event] = events(acme, Event.MEMBER_INVITED)
    assert event.changes == {"role": [None, "designer"], "company_id": [None, None]}
    assert event.additional_data["email"] == "new.person@example.com"
    assert event.actor_id == owner.user_id
    assert event.target_type == "rbac.invitation"


def test_inviting_the_same_address_again_revokes_the_earlier_invitation(
    acme, membership_of, events
):
    owner = membership_of(acme, "owner")
    first = services.membership_invite(tenant=acme, actor=owner, email="a@x.example", role="sales")
    second = services.membership_invite(tenant=acme, actor=owner, email="a@x.example", role="sales")
    first.invitation.refresh_from_db()
    assert first.invitation.revoked_at is not None
    assert second.invitation.revoked_at is None
    revoked = events(acme, Event.MEMBER_INVITATION_REVOKED)
    assert revoked[-1].additional_data == {"reason": "superseded", "role": "sales"}


def test_customer_role_invitation_needs_one_of_the_workspaces_companies(
    acme, globex, membership_of, in_tenant, one_id
):
    owner = membership_of(acme, "owner")
    with pytest.raises(ValidationError) as error:
        services.membership_invite(tenant=acme, actor=owner, email="c@x.example", role="customer")
    assert error.value.message_dict == {"company": [services.COMPANY_REQUIRED]}
    globex_company = _company_id(globex, in_tenant, company_one_name("globex"))
    with pytest.raises(ValidationError) as error:
        services.membership_invite(
            tenant=acme,
            actor=owner,
            email="c@x.example",
            role="customer",
            company_id=globex_company if globex_company != one_id else 10**9,
        )
    assert error.value.message_dict == {"company": [services.COMPANY_UNKNOWN]}
    with pytest.raises(ValidationError) as error:
        services.membership_invite(
            tenant=acme, actor=owner, email="c@x.example", role="sales", company_id=one_id
        )
    assert error.value.message_dict == {"company": [services.COMPANY_ONLY_FOR_CUSTOMERS]}


def test_nobody_invites_an_owner(acme, membership_of):
    with pytest.raises(ValidationError) as error:
        services.membership_invite(
            tenant=acme, actor=membership_of(acme, "owner"), email="o@x.example", role="owner"
        )
    assert error.value.message_dict == {"role": [services.OWNER_ONLY_BY_TRANSFER]}


@pytest.mark.parametrize("role", ["accountant", "company_admin", "admin"])
def test_a_manager_cannot_invite_a_role_with_capabilities_they_lack(acme, membership_of, role):
    with pytest.raises(ValidationError) as error:
        services.membership_invite(
            tenant=acme,
            actor=membership_of(acme, "manager"),
            email="m@x.example",
            role=role,
        )
    assert error.value.message_dict == {"role": [services.ROLE_NOT_GRANTABLE]}


def test_a_manager_may_invite_an_installer(acme, membership_of):
    issued = services.membership_invite(
        tenant=acme, actor=membership_of(acme, "manager"), email="i@x.example", role="installer"
    )
    assert issued.invitation.role == "installer"


@pytest.mark.parametrize("role", ["sales", "designer", "installer", "accountant", "employee"])
def test_roles_without_members_invite_cannot_invite_even_a_lesser_role(acme, membership_of, role):
    with pytest.raises(PermissionDenied):
        services.membership_invite(
            tenant=acme, actor=membership_of(acme, role), email="e@x.example", role="employee"
        )


def test_the_grantable_roles_follow_the_map(acme, membership_of):
    assert services.roles_grantable_by(membership_of(acme, "manager")) == [
        Role.MANAGER,
        Role.SALES,
        Role.DESIGNER,
        Role.INSTALLER,
        Role.EMPLOYEE,
        Role.EXPERT,
        Role.CUSTOMER,
    ]
    assert Role.OWNER not in services.roles_grantable_by(membership_of(acme, "owner"))
    assert services.roles_grantable_by(membership_of(acme, "company_admin")) == [
        Role.CUSTOMER,
        Role.COMPANY_ADMIN,
    ]
    assert services.roles_grantable_by(membership_of(acme, "customer")) == []
    assert services.roles_grantable_by(membership_of(acme, "sales")) == []


def test_inviting_someone_who_is_already_a_member_is_refused(acme, membership_of):
    with pytest.raises(ValidationError) as error:
        services.membership_invite(
            tenant=acme,
            actor=membership_of(acme, "owner"),
            email="SALES@acme.example",
            role="employee",
        )
    assert error.value.message_dict == {"email": [services.ALREADY_MEMBER]}


def test_a_member_of_another_workspace_cannot_invite_here(acme, globex, membership_of):
    with pytest.raises(PermissionDenied):
        services.membership_invite(
            tenant=acme, actor=membership_of(globex, "owner"), email="x@x.example", role="sales"
        )


def test_a_cancelled_workspace_invites_nobody(acme, membership_of):
    acme.state = acme.State.CANCELLED
    with pytest.raises(ValidationError) as error:
        services.membership_invite(
            tenant=acme, actor=membership_of(acme, "owner"), email="x@x.example", role="sales"
        )
    assert error.value.messages == [services.WORKSPACE_NOT_ACTIVE]


# --- A company administrator's people -----------------------------------------------------


def test_company_admin_invitation_is_always_for_their_own_company(acme, membership_of, one_id):
    issued = services.membership_invite(
        tenant=acme,
        actor=membership_of(acme, "company_admin"),
        email="p@one.example",
        role="customer",
    )
    assert issued.invitation.company_id == one_id


def test_company_admin_cannot_invite_for_another_company_or_a_staff_role(
    acme, membership_of, two_id
):
    company_admin = membership_of(acme, "company_admin")
    with pytest.raises(ValidationError) as error:
        services.membership_invite(
            tenant=acme,
            actor=company_admin,
            email="p@two.example",
            role="customer",
            company_id=two_id,
        )
    assert error.value.message_dict == {"company": [services.OWN_COMPANY_ONLY]}
    with pytest.raises(ValidationError) as error:
        services.membership_invite(
            tenant=acme, actor=company_admin, email="p@one.example", role="employee"
        )
    assert error.value.message_dict == {"role": [services.CUSTOMER_ROLES_ONLY]}


def test_company_admin_cannot_replace_a_staff_invitation_to_the_same_address(acme, membership_of):
    with pytest.raises(ValidationError) as error:
        services.membership_invite(
            tenant=acme,
            actor=membership_of(acme, "company_admin"),
            email=staff_invitee_email("acme"),
            role="customer",
        )
    assert error.value.message_dict == {"email": [services.OWN_COMPANY_ONLY]}


def test_a_customer_cannot_invite_anyone(acme, membership_of):
    with pytest.raises(PermissionDenied):
        services.membership_invite(
            tenant=acme,
            actor=membership_of(acme, "customer"),
            email="x@x.example",
            role="customer",
        )


def test_company_admin_removes_a_customer_of_their_company_but_nobody_else(
    acme, membership_of, events
):
    company_admin = membership_of(acme, "company_admin")
    other_company = Membership.objects.get(tenant=acme, user__email="customer2@acme.example")
    with pytest.raises(ValidationError) as error:
        services.membership_remove(tenant=acme, actor=company_admin, membership=other_company)
    assert error.value.messages == [services.OWN_COMPANY_ONLY]
    with pytest.raises(ValidationError):
        services.membership_remove(
            tenant=acme, actor=company_admin, membership=membership_of(acme, "employee")
        )
    customer = membership_of(acme, "customer")
    services.membership_remove(tenant=acme, actor=company_admin, membership=customer)
    assert not Membership.objects.filter(pk=customer.pk).exists()
    assert events(acme, Event.MEMBER_REMOVED)[-1].changes["role"] == ["customer", None]


def test_company_admin_revokes_only_their_company_invitations(acme, membership_of):
    company_admin = membership_of(acme, "company_admin")
    staff_invitation = Invitation.objects.get(tenant=acme, email=staff_invitee_email("acme"))
    with pytest.raises(PermissionDenied):
        services.invitation_revoke(tenant=acme, actor=company_admin, invitation=staff_invitation)
    own = Invitation.objects.get(tenant=acme, email=company_invitee_email("acme"))
    services.invitation_revoke(tenant=acme, actor=company_admin, invitation=own)
    own.refresh_from_db()
    assert own.revoked_at is not None


def test_company_admin_cannot_change_roles(acme, membership_of):
    with pytest.raises(PermissionDenied):
        services.membership_change_role(
            tenant=acme,
            actor=membership_of(acme, "company_admin"),
            membership=membership_of(acme, "customer"),
            role="company_admin",
        )


# --- Changing roles --------------------------------------------------------------------------


def test_admin_changes_a_role_with_before_and_after_and_the_members_sessions_here_end(
    acme, globex, membership_of, events, member
):
    admin = membership_of(acme, "admin")
    sales = membership_of(acme, "sales")
    here = tracked_session_for(session_key="k-acme", user=sales.user, tenant=acme)
    elsewhere = tracked_session_for(session_key="k-globex", user=sales.user, tenant=globex)
    services.membership_change_role(tenant=acme, actor=admin, membership=sales, role="employee")
    sales.refresh_from_db()
    assert sales.role == "employee"
    [event] = events(acme, Event.MEMBER_ROLE_CHANGED)
    assert event.changes == {"role": ["sales", "employee"]}
    assert event.target_id == str(sales.user_id)
    assert not UserSession.objects.filter(pk=here.pk).exists()
    assert UserSession.objects.filter(pk=elsewhere.pk).exists()
    assert events(acme, Event.SESSIONS_ENDED)[-1].additional_data == {
        "reason": "role_changed",
        "count": 1,
    }


def test_raising_a_role_ends_the_members_sessions_too(acme, membership_of):
    employee = membership_of(acme, "employee")
    session = tracked_session_for(session_key="k", user=employee.user, tenant=acme)
    services.membership_change_role(
        tenant=acme, actor=membership_of(acme, "owner"), membership=employee, role="manager"
    )
    assert not UserSession.objects.filter(pk=session.pk).exists()


def test_a_role_change_to_a_customer_role_binds_the_company(acme, membership_of, one_id, events):
    employee = membership_of(acme, "employee")
    services.membership_change_role(
        tenant=acme,
        actor=membership_of(acme, "admin"),
        membership=employee,
        role="customer",
        company_id=one_id,
    )
    employee.refresh_from_db()
    assert (employee.role, employee.company_id) == ("customer", one_id)
    assert events(acme, Event.MEMBER_ROLE_CHANGED)[-1].changes == {
        "role": ["employee", "customer"],
        "company_id": [None, one_id],
    }


def test_nobody_changes_their_own_role(acme, membership_of):
    admin = membership_of(acme, "admin")
    with pytest.raises(ValidationError) as error:
        services.membership_change_role(tenant=acme, actor=admin, membership=admin, role="sales")
    assert error.value.messages == [services.CANNOT_CHANGE_OWN_ROLE]


def test_an_admin_cannot_touch_the_owner(acme, membership_of):
    admin = membership_of(acme, "admin")
    owner = membership_of(acme, "owner")
    with pytest.raises(ValidationError) as error:
        services.membership_change_role(tenant=acme, actor=admin, membership=owner, role="admin")
    assert error.value.messages == [services.MEMBER_OUTRANKS_YOU]
    with pytest.raises(ValidationError) as error:
        services.membership_remove(tenant=acme, actor=admin, membership=owner)
    assert error.value.messages == [services.MEMBER_OUTRANKS_YOU]


def test_the_owner_role_is_never_given_by_a_role_change(acme, membership_of):
    with pytest.raises(ValidationError) as error:
        services.membership_change_role(
            tenant=acme,
            actor=membership_of(acme, "owner"),
            membership=membership_of(acme, "admin"),
            role="owner",
        )
    assert error.value.message_dict == {"role": [services.OWNER_ONLY_BY_TRANSFER]}


def test_a_manager_cannot_change_roles_at_all(acme, membership_of):
    with pytest.raises(PermissionDenied):
        services.membership_change_role(
            tenant=acme,
            actor=membership_of(acme, "manager"),
            membership=membership_of(acme, "employee"),
            role="sales",
        )


def _second_owner(acme, membership_of) -> Membership:
    """Make acme's admin an owner too (several owners can exist, e.g. after a support fix)."""
    admin = membership_of(acme, "admin")
    Membership.objects.filter(pk=admin.pk).update(role=Role.OWNER)
    admin.refresh_from_db()
    return admin


def test_an_owner_may_demote_another_owner_while_one_owner_remains(acme, membership_of):
    owner = membership_of(acme, "owner")
    second = _second_owner(acme, membership_of)
    services.membership_change_role(tenant=acme, actor=owner, membership=second, role="admin")
    second.refresh_from_db()
    assert second.role == "admin"


@pytest.mark.parametrize("change", ["demote", "remove"])
def test_the_last_owner_cannot_be_demoted_or_removed(acme, membership_of, change):
    owner = membership_of(acme, "owner")
    second = _second_owner(acme, membership_of)
    # ``second`` took the page in another tab before ``owner`` removed them: the stale
    # object still says "owner".
    stale_second = Membership.objects.select_related("user", "tenant").get(pk=second.pk)
    services.membership_change_role(tenant=acme, actor=owner, membership=second, role="admin")
    attempts = {
        "demote": lambda: services.membership_change_role(
            tenant=acme, actor=stale_second, membership=owner, role="admin"
        ),
        "remove": lambda: services.membership_remove(
            tenant=acme, actor=stale_second, membership=owner
        ),
    }
    # The service re-reads the actor: an admin now, outranked by the owner.
    with pytest.raises(ValidationError) as refused:
        attempts[change]()
    assert refused.value.messages == [services.MEMBER_OUTRANKS_YOU]
    # And the rule itself, which also holds for any owner-level caller (a command, support):
    with pytest.raises(ValidationError) as error:
        services._ensure_not_last_owner(acme, owner)
    assert error.value.messages == [services.LAST_OWNER]
    owner.refresh_from_db()
    assert owner.role == "owner"


def test_a_removed_member_cannot_act_through_a_stale_membership(acme, membership_of):
    admin = membership_of(acme, "admin")
    services.membership_remove(tenant=acme, actor=membership_of(acme, "owner"), membership=admin)
    with pytest.raises(PermissionDenied):
        services.membership_invite(tenant=acme, actor=admin, email="x@x.example", role="sales")


# --- Removing --------------------------------------------------------------------------------


def test_removing_a_member_keeps_their_account_ends_their_sessions_and_is_audited(
    acme, membership_of, events
):
    designer = membership_of(acme, "designer")
    session = tracked_session_for(session_key="k", user=designer.user, tenant=acme)
    services.membership_remove(tenant=acme, actor=membership_of(acme, "admin"), membership=designer)
    assert not Membership.objects.filter(pk=designer.pk).exists()
    designer.user.refresh_from_db()
    assert not UserSession.objects.filter(pk=session.pk).exists()
    [event] = events(acme, Event.MEMBER_REMOVED)
    assert event.changes == {"role": ["designer", None]}
    assert event.target_id == str(designer.user_id)


def test_nobody_removes_themselves(acme, membership_of):
    admin = membership_of(acme, "admin")
    with pytest.raises(ValidationError) as error:
        services.membership_remove(tenant=acme, actor=admin, membership=admin)
    assert error.value.messages == [services.CANNOT_REMOVE_YOURSELF]


def test_a_membership_of_another_workspace_cannot_be_removed_from_here(acme, globex, membership_of):
    with pytest.raises(PermissionDenied):
        services.membership_remove(
            tenant=acme,
            actor=membership_of(acme, "owner"),
            membership=membership_of(globex, "employee"),
        )
    assert Membership.objects.filter(pk=membership_of(globex, "employee").pk).exists()


# --- Ownership -------------------------------------------------------------------------------


def test_ownership_transfer_makes_the_new_owner_and_demotes_the_old_one_to_admin(
    acme, membership_of, events
):
    owner = membership_of(acme, "owner")
    manager = membership_of(acme, "manager")
    kept = tracked_session_for(session_key="mine", user=owner.user, tenant=acme)
    other = tracked_session_for(session_key="other", user=owner.user, tenant=acme)
    theirs = tracked_session_for(session_key="theirs", user=manager.user, tenant=acme)
    services.ownership_transfer(
        tenant=acme,
        actor=owner,
        new_owner=manager,
        keep_session_key="mine",
        confirmation=confirmed_action(
            actor=owner, tenant=acme, action=Action.OWNERSHIP_TRANSFER, target=manager
        ),
    )
    owner.refresh_from_db()
    manager.refresh_from_db()
    assert (owner.role, manager.role) == ("admin", "owner")
    [event] = events(acme, Event.OWNERSHIP_TRANSFERRED)
    assert event.changes == {"owner": ["owner@acme.example", "manager@acme.example"]}
    changes = [e.changes for e in events(acme, Event.MEMBER_ROLE_CHANGED)]
    assert changes == [{"role": ["manager", "owner"]}, {"role": ["owner", "admin"]}]
    assert UserSession.objects.filter(pk=kept.pk).exists()
    assert not UserSession.objects.filter(pk__in=[other.pk, theirs.pk]).exists()


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_only_owners_transfer_ownership(acme, membership_of, role):
    with pytest.raises(PermissionDenied):
        services.ownership_transfer(
            tenant=acme,
            actor=membership_of(acme, role),
            new_owner=membership_of(acme, "employee"),
        )


@pytest.mark.parametrize("target", ["owner", "customer"])
def test_ownership_goes_only_to_another_staff_member(acme, membership_of, target):
    with pytest.raises(ValidationError) as error:
        services.ownership_transfer(
            tenant=acme,
            actor=membership_of(acme, "owner"),
            new_owner=membership_of(acme, target),
        )
    assert error.value.message_dict == {"member": [services.TRANSFER_TARGET_INVALID]}


# --- The accept check -------------------------------------------------------------------------


def test_an_invitation_is_usable_only_on_its_workspace_while_open(acme, globex, membership_of):
    invitation = Invitation.objects.get(tenant=acme, email=staff_invitee_email("acme"))
    assert services.invitation_check(tenant=acme, invitation=invitation) == invitation
    with pytest.raises(services.InvitationUnusable) as error:
        services.invitation_check(tenant=globex, invitation=invitation)
    assert (error.value.status, error.value.messages) == (400, [services.INVITATION_INVALID])
    invitation.expires_at = timezone.now()
    with pytest.raises(services.InvitationUnusable) as error:
        services.invitation_check(tenant=acme, invitation=invitation)
    assert (error.value.status, error.value.messages) == (410, [services.INVITATION_EXPIRED])
    invitation.revoked_at = timezone.now()
    with pytest.raises(services.InvitationUnusable) as error:
        services.invitation_check(tenant=acme, invitation=invitation)
    assert error.value.messages == [services.INVITATION_REVOKED]


def test_an_invitation_to_a_deleted_company_is_no_longer_usable(acme, membership_of, in_tenant):
    owner = membership_of(acme, "owner")
    with in_tenant(acme):
        from shop import services as shop_services

        company = shop_services.company_create(tenant=acme, actor=owner, name="Short-lived Ltd")
    issued = services.membership_invite(
        tenant=acme, actor=owner, email="gone@x.example", role="customer", company_id=company.pk
    )
    with in_tenant(acme):
        shop_services.company_delete(tenant=acme, actor=owner, company=company)
    with pytest.raises(services.InvitationUnusable) as error:
        services.invitation_check(tenant=acme, invitation=issued.invitation)
    assert error.value.status == 410


def test_ownership_transfer_needs_an_emailed_code_confirmed_for_exactly_that_member(
    acme, membership_of
):
    owner = membership_of(acme, "owner")
    manager = membership_of(acme, "manager")
    sales = membership_of(acme, "sales")
    for confirmation in (
        None,
        confirmed_action(actor=owner, tenant=acme, action=Action.OWNERSHIP_TRANSFER, target=sales),
        confirmed_action(actor=owner, tenant=acme, action=Action.WORKSPACE_DELETE, target=acme),
    ):
        with pytest.raises(PermissionDenied):
            services.ownership_transfer(
                tenant=acme, actor=owner, new_owner=manager, confirmation=confirmation
            )
    manager.refresh_from_db()
    assert manager.role == "manager"
