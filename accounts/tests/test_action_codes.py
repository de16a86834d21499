"""Emailed one-time codes for irreversible actions: bound to action and target, ten minutes,
once, rate-limited, counted by the sign-in defence, audited; the reusable confirmation step."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts import throttle
from accounts.models import User
from accounts.twofactor.action_codes import (
    ACTION_CODE_INVALID,
    ACTION_CODE_MAX_ATTEMPTS,
    ACTION_CODE_REQUESTS_PER_HOUR,
    ACTION_CODE_SECONDS,
    Action,
    action_code_confirm,
    action_code_request,
    action_confirmation_check,
)
from accounts.twofactor.models import ActionCode
from audit.events import Event
from audit.tests.streams import events_since, stream_head
from rbac.models import Membership
from shop.models import Company

pytestmark = pytest.mark.django_db

IP = "198.51.100.23"


@pytest.fixture
def owner(acme, member):
    return Membership.objects.select_related("user").get(user=member("acme", "owner"), tenant=acme)


@pytest.fixture
def companies(acme):
    with tenant_context(acme):
        return list(Company.objects.order_by("pk")[:2])


@pytest.fixture
def request_code(django_capture_on_commit_callbacks):
    """request_code(actor, tenant, action, target) -> the code from the email it sent."""

    def send(actor, tenant, action, target) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            action_code_request(actor=actor, tenant=tenant, action=action, target=target)
        return re.search(r"^\s+(\d{6})$", mail.outbox[-1].body, re.M).group(1)

    return send


def _confirm(actor, tenant, action, target, code):
    return action_code_confirm(
        actor=actor, tenant=tenant, action=action, target=target, code=code, ip=IP
    )


def test_the_code_is_emailed_to_the_member_naming_action_target_and_workspace(
    owner, acme, companies, request_code
):
    head = stream_head(acme)
    request_code(owner, acme, Action.COMPANY_DELETE_WITH_RECORDS, companies[0])
    message = mail.outbox[-1]
    assert message.to == [owner.user.email]
    assert message.subject == "Your confirmation code for Acme Signs"
    assert "delete a company together with all of its records" in message.body
    assert companies[0].name in message.body
    assert "expires in 10 minutes" in message.body
    events = events_since(acme, head)
    assert [e.event_type for e in events] == [Event.ACTION_CODE_REQUESTED]
    assert events[0].additional_data == {"action": "company.delete_with_records"}
    assert events[0].target_id == str(companies[0].pk)


def test_the_right_code_confirms_exactly_once(owner, acme, companies, request_code):
    code = request_code(owner, acme, Action.COMPANY_DELETE_WITH_RECORDS, companies[0])
    head = stream_head(acme)
    confirmation = _confirm(owner, acme, Action.COMPANY_DELETE_WITH_RECORDS, companies[0], code)
    assert confirmation.action == "company.delete_with_records"
    assert confirmation.target_id == str(companies[0].pk)
    assert [e.event_type for e in events_since(acme, head)] == [Event.ACTION_CODE_CONFIRMED]
    with pytest.raises(ValidationError) as refused:
        _confirm(owner, acme, Action.COMPANY_DELETE_WITH_RECORDS, companies[0], code)
    assert refused.value.message_dict == {"code": [ACTION_CODE_INVALID]}


def test_a_code_for_one_company_fails_for_another_company_and_for_the_workspace(
    owner, acme, companies, request_code
):
    first, second = companies
    code = request_code(owner, acme, Action.COMPANY_DELETE_WITH_RECORDS, first)
    request_code(owner, acme, Action.COMPANY_DELETE_WITH_RECORDS, second)  # live code for Y too
    with pytest.raises(ValidationError):
        _confirm(owner, acme, Action.COMPANY_DELETE_WITH_RECORDS, second, code)
    request_code(owner, acme, Action.WORKSPACE_DELETE, acme)
    with pytest.raises(ValidationError):
        _confirm(owner, acme, Action.WORKSPACE_DELETE, acme, code)
    with pytest.raises(ValidationError):
        _confirm(owner, acme, Action.OWNERSHIP_TRANSFER, first, code)
    # ... and still works for what it was sent for.
    assert _confirm(owner, acme, Action.COMPANY_DELETE_WITH_RECORDS, first, code)


def test_a_code_is_worthless_to_another_member_and_in_another_workspace(
    owner, acme, globex, member, request_code
):
    code = request_code(owner, acme, Action.WORKSPACE_DELETE, acme)
    admin = Membership.objects.get(user=member("acme", "admin"), tenant=acme)
    with pytest.raises(ValidationError):
        _confirm(admin, acme, Action.WORKSPACE_DELETE, acme, code)
    Membership.objects.create(user=owner.user, tenant=globex, role="owner")
    with pytest.raises(ValidationError):
        _confirm(owner.user, globex, Action.WORKSPACE_DELETE, globex, code)
    assert _confirm(owner, acme, Action.WORKSPACE_DELETE, acme, code)


def test_a_code_lasts_ten_minutes(owner, acme, request_code):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        code = request_code(owner, acme, Action.WORKSPACE_DELETE, acme)
        traveller.shift(timedelta(seconds=ACTION_CODE_SECONDS - 1))
        assert _confirm(owner, acme, Action.WORKSPACE_DELETE, acme, code)
        code = request_code(owner, acme, Action.WORKSPACE_DELETE, acme)
        traveller.shift(timedelta(seconds=ACTION_CODE_SECONDS))
        with pytest.raises(ValidationError):
            _confirm(owner, acme, Action.WORKSPACE_DELETE, acme, code)


def test_a_new_code_replaces_the_previous_one(owner, acme, request_code):
    first = request_code(owner, acme, Action.WORKSPACE_DELETE, acme)
    second = request_code(owner, acme, Action.WORKSPACE_DELETE, acme)
    if first != second:
        with pytest.raises(ValidationError):
            _confirm(owner, acme, Action.WORKSPACE_DELETE, acme, first)
    assert _confirm(owner, acme, Action.WORKSPACE_DELETE, acme, second)


def test_too_many_wrong_codes_kill_the_code_and_are_audited(owner, acme, request_code):
    code = request_code(owner, acme, Action.WORKSPACE_DELETE, acme)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    head = stream_head(acme)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(ACTION_CODE_MAX_ATTEMPTS):
            with pytest.raises(ValidationError):
                _confirm(owner, acme, Action.WORKSPACE_DELETE, acme, wrong)
            traveller.shift(timedelta(seconds=5))  # past the sign-in delay
        with pytest.raises(ValidationError):
            _confirm(owner, acme, Action.WORKSPACE_DELETE, acme, code)
    failed = [e for e in events_since(acme, head) if e.event_type == Event.ACTION_CODE_FAILED]
    assert [e.additional_data["reason"] for e in failed] == [
        "wrong_code",
        "wrong_code",
        "wrong_code",
        "wrong_code",
        "wrong_code_limit",
        "no_live_code",
    ]
    assert all(e.outcome == "failure" for e in failed)
    row = ActionCode.objects.get(user=owner.user)
    assert row.invalidated_at is not None
    assert row.used_at is None


def test_wrong_codes_count_against_the_sign_in_defence(owner, acme, request_code):
    request_code(owner, acme, Action.WORKSPACE_DELETE, acme)
    with pytest.raises(ValidationError):
        _confirm(owner, acme, Action.WORKSPACE_DELETE, acme, "000000")
    assert User.objects.get(pk=owner.user_id).failed_sign_in_count == 1
    User.objects.filter(pk=owner.user_id).update(locked_at=timezone.now())
    with pytest.raises(throttle.Throttled):
        _confirm(owner, acme, Action.WORKSPACE_DELETE, acme, "000000")


def test_requests_are_limited_per_hour(owner, acme, request_code):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(ACTION_CODE_REQUESTS_PER_HOUR):
            request_code(owner, acme, Action.WORKSPACE_DELETE, acme)
        sent = len(mail.outbox)
        with pytest.raises(throttle.Throttled) as refused:
            action_code_request(
                actor=owner, tenant=acme, action=Action.WORKSPACE_DELETE, target=acme
            )
        assert 3590 <= refused.value.retry_after_seconds <= 3601
        assert len(mail.outbox) == sent
        traveller.shift(timedelta(hours=1, seconds=1))
        request_code(owner, acme, Action.WORKSPACE_DELETE, acme)


@pytest.mark.parametrize("typed", ["", "12345", "abcdef", "1234567", "12 34 56x"])
def test_malformed_codes_are_refused(owner, acme, request_code, typed):
    request_code(owner, acme, Action.WORKSPACE_DELETE, acme)
    with pytest.raises(ValidationError):
        _confirm(owner, acme, Action.WORKSPACE_DELETE, acme, typed)


def test_an_unknown_action_is_a_programming_error(owner, acme):
    with pytest.raises(ValueError, match="is not a valid Action"):
        action_code_request(actor=owner, tenant=acme, action="workspace.rename", target=acme)


# --- The proof services check


def test_services_accept_only_a_fresh_confirmation_for_exactly_their_action(
    owner, acme, companies, request_code
):
    first, second = companies
    code = request_code(owner, acme, Action.COMPANY_DELETE_WITH_RECORDS, first)
    confirmation = _confirm(owner, acme, Action.COMPANY_DELETE_WITH_RECORDS, first, code)
    action_confirmation_check(
        confirmation,
        actor=owner,
        tenant=acme,
        action=Action.COMPANY_DELETE_WITH_RECORDS,
        target=first,
    )
    for action, target in (
        (Action.COMPANY_DELETE_WITH_RECORDS, second),
        (Action.WORKSPACE_DELETE, acme),
    ):
        with pytest.raises(PermissionDenied):
            action_confirmation_check(
                confirmation, actor=owner, tenant=acme, action=action, target=target
            )
    with pytest.raises(PermissionDenied):
        action_confirmation_check(
            None,
            actor=owner,
            tenant=acme,
            action=Action.COMPANY_DELETE_WITH_RECORDS,
            target=first,
        )
    later = timezone.now() + timedelta(seconds=ACTION_CODE_SECONDS + 1)
    with time_machine.travel(later), pytest.raises(PermissionDenied):
        action_confirmation_check(
            confirmation,
            actor=owner,
            tenant=acme,
            action=Action.COMPANY_DELETE_WITH_RECORDS,
            target=first,
        )
