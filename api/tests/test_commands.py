"""``manage.py api_token_create`` and ``api_token_revoke``."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tenants.utils import tenant_context

from api.models import ApiToken
from api.tests.conftest import ApiClient
from audit.events import Event
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _create(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token_create", *args, stdout=out, stderr=err)
    return out.getvalue().strip()


def test_the_command_prints_a_working_token_once_and_audits_it_as_the_system(acme):
    secret = _create(
        "--workspace", "acme", "--email", "sales@acme.example", "--name", "nightly sync",
        "--read-only", "--expires-days", "30",
    )  # fmt: skip
    assert secret.startswith("shs_")
    client = ApiClient("acme", secret)
    assert client.get("/companies").status_code == 200
    assert client.post("/companies", {"name": "No"}).status_code == 403
    with tenant_context(acme):
        token = ApiToken.objects.get(name="nightly sync")
        event = AuditEvent.objects.get(event_type=Event.API_TOKEN_CREATED, target_id=str(token.pk))
    assert token.name == "nightly sync"
    assert token.created_by_id is None
    assert event.actor_kind == "system"
    assert event.additional_data["for"] == "sales@acme.example"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workspace", "nope", "--email", "owner@acme.example"], "No workspace"),
        (["--workspace", "acme", "--email", "owner@globex.example"], "is not a member"),
        (["--workspace", "acme", "--email", "owner@acme.example", "--expires-days", "400"],
         "between 1 and 365"),
        (["--workspace", "acme", "--email", "sales@acme.example", "--scopes", "members:manage"],
         "do not have: members:manage"),
        (["--workspace", "acme", "--email", "owner@acme.example", "--scopes", "nonsense"],
         "Unknown permission"),
    ],
)  # fmt: skip
def test_bad_input_is_a_command_error(acme, args, message):
    defaults = {"--name": "x", "--expires-days": "30", "--scopes": "companies:view"}
    for flag, value in defaults.items():
        if flag not in args:
            args = [*args, flag, value]
    with pytest.raises(CommandError, match=message):
        _create(*args)


def test_the_revoke_command_ends_a_token_at_once(acme):
    secret = _create(
        "--workspace", "acme", "--email", "owner@acme.example", "--name", "x",
        "--scopes", "companies:view", "--expires-days", "1",
    )  # fmt: skip
    with tenant_context(acme):
        token = ApiToken.objects.get(name="x")
    call_command("api_token_revoke", "--workspace", "acme", str(token.pk), stdout=io.StringIO())
    assert ApiClient("acme", secret).get("/companies").status_code == 401
    with pytest.raises(CommandError, match="already revoked"):
        call_command("api_token_revoke", "--workspace", "acme", str(token.pk))
    with pytest.raises(CommandError, match="No token"):
        call_command("api_token_revoke", "--workspace", "acme", "999999")
