"""The owner grants support access; an agent signs in to the console with password and code,
impersonates a member (read-only), sees the banner on the workspace, and ends the session,
landing back on the console. Screenshots under test-artifacts/screenshots/support-*."""

from __future__ import annotations

import time

import pytest

from accounts.twofactor import crypto

pytestmark = pytest.mark.browser

OWNER_PASSWORD = "correct horse battery staple"
AGENT_EMAIL = "browser-agent@platform.example"


@pytest.fixture
def agent(django_db_blocker):
    """A committed support agent with a TOTP device; removed with everything it made."""
    from support.tests.factories import AGENT_PASSWORD, support_agent

    with django_db_blocker.unblock():
        user = support_agent(AGENT_EMAIL)
        seed = user.totp_devices.get(confirmed=True).seed
    yield {"email": AGENT_EMAIL, "password": AGENT_PASSWORD, "seed": seed}
    with django_db_blocker.unblock():
        from django_tenants.utils import tenant_context

        from accounts.models import User, UserSession
        from support.models import ImpersonationSession, SupportAccessGrant
        from tenants.models import Tenant
        from tenants.rls import platform_view

        # The agent's console sessions belong to the public host, not acme: row-level security
        # hides them from acme's context, so they go first, in the platform's view.
        with platform_view():
            UserSession.objects.filter(user__email=AGENT_EMAIL).delete()
        # Inside a workspace context: the user's cascade also looks at workspace tables.
        with tenant_context(Tenant.objects.get(slug="acme")):
            ImpersonationSession.objects.filter(agent__email=AGENT_EMAIL).delete()
            SupportAccessGrant.objects.filter(tenant__slug="acme").delete()
            User.objects.filter(email=AGENT_EMAIL).delete()


def test_grant_impersonate_banner_end(agent, live_site, chromium):
    from playwright.sync_api import expect

    page = chromium.page
    port = live_site.rsplit(":", 1)[1]
    acme = f"http://acme.localhost:{port}"

    # The owner grants read-only access for four hours.
    page.goto(f"{acme}/accounts/sign-in/")
    page.get_by_label("Email").fill("owner@acme.example")
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{acme}/settings/")
    page.get_by_role("link", name="Support access").click()
    page.get_by_label("For how long").select_option("4")
    page.get_by_label("Ticket reference (optional)").fill("SUP-900")
    chromium.screenshot("support-01-owner-grant-form")
    page.get_by_role("button", name="Grant support access").click()
    expect(page.get_by_text("Support access granted.")).to_be_visible()
    chromium.screenshot("support-02-owner-granted")
    page.context.clear_cookies()

    # The agent signs in to the console with password and authenticator code.
    page.goto(f"{live_site}/support/sign-in/")
    page.get_by_label("Email").fill(agent["email"])
    page.get_by_label("Password").fill(agent["password"])
    page.get_by_label("Authenticator code").fill(crypto.totp_code(agent["seed"], time.time()))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Workspaces")).to_be_visible()
    chromium.screenshot("support-03-console")
    page.get_by_role("link", name="Acme Signs").click()
    options = page.get_by_label("Act as member").locator("option").all_inner_texts()
    manager = next(text for text in options if text.startswith("Manager"))
    page.get_by_label("Act as member").select_option(label=manager)
    page.get_by_label("Reason").fill("Customer says a quote is missing")
    page.get_by_label("Ticket reference").fill("SUP-900")
    chromium.screenshot("support-04-start-session")
    page.get_by_role("button", name="Start session").click()

    # On the workspace host, with the banner.
    expect(page).to_have_url(f"{acme}/")
    banner = page.locator("#impersonation-banner")
    expect(banner).to_contain_text("acting as manager@acme.example")
    expect(banner).to_contain_text("read-only")
    expect(page.locator("#support-viewing-banner")).to_be_visible()
    chromium.screenshot("support-05-impersonating-banner")
    banner.get_by_role("button", name="End session").click()

    # Back on the console, its own session untouched.
    expect(page).to_have_url(f"{live_site}/support/")
    expect(page.get_by_role("heading", name="Workspaces")).to_be_visible()
    chromium.screenshot("support-06-back-on-console")
