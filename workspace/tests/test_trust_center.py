"""The public trust center: every pillar with its section and verify link, the sub-processor
list, the disclosure policy, security.txt on every host, and the links to them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from tenants.models import Tenant
from workspace.trust import PILLARS, VERIFY_PATH

pytestmark = pytest.mark.django_db

REQUIRED_PILLARS = {
    "isolation",
    "roles",
    "audit",
    "two-factor",
    "support-access",
    "export-deletion",
    "encryption",
    "backups",
    "secrets",
    "document-links",
}


def _public(path: str):
    return Client(HTTP_HOST="localhost").get(path)


def test_every_pillar_the_issue_names_is_in_the_one_list():
    assert {pillar.slug for pillar in PILLARS} == REQUIRED_PILLARS
    assert all(pillar.what_we_do and pillar.how_to_verify for pillar in PILLARS)


def test_every_pillar_has_its_section_and_its_verify_link_on_the_security_page():
    body = _public("/security/").content.decode()
    for pillar in PILLARS:
        section = re.search(
            rf'<section id="{pillar.slug}" class="pillar">(.*?)</section>', body, re.S
        )
        assert section is not None, pillar.slug
        assert f"<h2>{pillar.title}</h2>" in section.group(1)
        assert "How to verify it" in section.group(1)
        assert f"{VERIFY_PATH}#{pillar.slug}" in section.group(1), pillar.slug
    assert 'id="roadmap"' in body
    assert 'id="faq"' in body
    assert 'id="audit-signing-key"' in body


def test_what_is_not_built_is_said_plainly():
    body = _public("/security/").content.decode()
    backups = re.search(r'<section id="backups" class="pillar">(.*?)</section>', body, re.S)
    assert "Not built yet." in backups.group(1)


def test_subprocessor_page_shows_the_list_and_its_history():
    response = _public("/security/sub-processors/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Postmark (ActiveCampaign)" in body
    assert "Recipients&#x27; email addresses" in body
    assert 'id="history"' in body
    assert "2026-12-08" in body


def test_disclosure_policy_names_scope_response_credit_and_safe_harbour(settings):
    settings.SECURITY_CONTACT_EMAIL = "security@shopsafe.example"
    body = _public("/security/disclosure/").content.decode()
    for anchor in ('id="scope"', 'id="response"', 'id="credit"', 'id="safe-harbour"'):
        assert anchor in body
    assert "24 business hours" in body
    assert "no legal action" in body
    assert "mailto:security@shopsafe.example" in body


def _fields(text: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in text.strip().splitlines())


@pytest.mark.parametrize("host", ["localhost", "acme.localhost"])
def test_security_txt_has_the_rfc_9116_fields_and_expires_in_the_future(host, settings):
    settings.SECURITY_CONTACT_EMAIL = "security@shopsafe.example"
    settings.SECURITY_TXT_EXPIRES_DAYS = 180
    for moment in (datetime(2027, 1, 1, tzinfo=UTC), datetime(2029, 6, 30, tzinfo=UTC)):
        with time_machine.travel(moment, tick=False):
            response = Client(HTTP_HOST=host).get("/.well-known/security.txt")
        assert response.status_code == 200
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        fields = _fields(response.content.decode())
        assert fields["Contact"] == "mailto:security@shopsafe.example"
        assert fields["Preferred-Languages"] == "en"
        assert fields["Canonical"] == f"https://{host}/.well-known/security.txt"
        assert fields["Policy"].endswith("localhost:8000/security/disclosure/")
        expires = datetime.strptime(fields["Expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert expires == moment + timedelta(days=180)
        assert expires > moment


def test_security_txt_is_served_by_a_cancelled_workspace_too(acme):
    Tenant.objects.filter(pk=acme.pk).update(state=Tenant.State.CANCELLED)
    response = Client(HTTP_HOST="acme.localhost").get("/.well-known/security.txt")
    assert response.status_code == 200


def test_landing_page_links_to_the_trust_center():
    body = _public("/").content.decode()
    for path in ("/security/", "/security/sub-processors/", "/security/disclosure/", "/status/"):
        assert f'href="{path}"' in body


@pytest.mark.parametrize(
    "host_path",
    [("localhost", "/signup/"), ("acme.localhost", "/"), ("acme.localhost", "/no-such-page/")],
)
def test_footer_of_every_page_links_to_the_public_trust_center(host_path, client_for):
    host, path = host_path
    client = client_for("acme", "owner") if host != "localhost" else Client(HTTP_HOST=host)
    body = client.get(path).content.decode()
    footer = body[body.index('<footer class="container app-footer">') :]
    for path_ in ("/security/", "/security/sub-processors/", "/security/disclosure/", "/status/"):
        assert f'href="http://localhost:8000{path_}"' in footer
