"""A new shop signs up, confirms its address from the email, lands signed in on its own
workspace, and writes its first quote."""

from __future__ import annotations

import re
import secrets

import pytest

from .conftest import sign_up_confirm, workspace_remove

pytestmark = pytest.mark.browser

PASSWORD = "a long passphrase for the browser test"


@pytest.fixture
def new_shop(django_db_blocker):
    """The slug and email the test signs up with; whatever they created is removed after.

    Request it before ``live_site``: fixtures are torn down in reverse order, so the removal
    then runs after the test transaction (opened by live_site's ``db``) has been rolled back.
    """
    suffix = secrets.token_hex(4)
    shop = {"slug": f"pw-{suffix}", "email": f"owner-{suffix}@browser.example"}
    yield shop
    with django_db_blocker.unblock():
        workspace_remove(slug=shop["slug"], emails=[shop["email"]])


def test_sign_up_then_create_a_company_and_a_quote(new_shop, live_site, chromium):
    from playwright.sync_api import expect

    page = chromium.page
    slug, port = new_shop["slug"], live_site.rsplit(":", 1)[1]
    workspace = f"http://{slug}.localhost:{port}"

    # The public site, then sign-up.
    page.goto(f"{live_site}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Quotes, jobs and invoices")
    chromium.screenshot("01-public-landing")
    page.get_by_role("button", name="Create a workspace").first.click()
    expect(page.get_by_role("heading", name="Create your workspace")).to_be_visible()
    page.get_by_label("Your name").fill("Paula Wright")
    page.get_by_label("Email").fill(new_shop["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Workspace name").fill("Playwright Signs")
    page.get_by_label("Workspace address").fill(slug)
    chromium.screenshot("02-sign-up-filled")
    page.get_by_role("button", name="Create workspace").click()
    chromium.screenshot("03-check-your-email")
    sign_up_confirm(page, new_shop["email"])

    # Signed in, on the workspace's own host.
    expect(page).to_have_url(f"{workspace}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Playwright Signs")
    chromium.screenshot("04-workspace-home")

    # A company.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Companies").click()
    page.get_by_role("button", name="New company").click()
    page.get_by_label("Name").fill("Initech Print Buyers")
    page.get_by_label("Email").fill("orders@initech.example")
    chromium.screenshot("05-company-form")
    page.get_by_role("button", name="Create company").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Initech Print Buyers")

    # A quote for it, with one line.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Quotes").click()
    page.get_by_role("button", name="New quote").click()
    page.get_by_label("Company").select_option(label="Initech Print Buyers")
    page.get_by_label("Title").fill("Shopfront fascia sign")
    page.get_by_label("Description, line 1").fill("Aluminium composite fascia, 4 m")
    page.get_by_label("Quantity, line 1").fill("2")
    page.get_by_label("Unit price, line 1").fill("350.00")
    chromium.screenshot("06-quote-form")
    page.get_by_role("button", name="Create draft quote").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile(r"Q|quote", re.I))
    expect(page.get_by_text("Aluminium composite fascia, 4 m")).to_be_visible()
    chromium.screenshot("07-quote-detail")

    # Both listed.
    page.goto(f"{workspace}/companies/")
    expect(page.get_by_role("link", name="Initech Print Buyers")).to_be_visible()
    chromium.screenshot("08-company-list")
    page.goto(f"{workspace}/quotes/")
    quote_row = page.get_by_role("row").filter(has_text="Shopfront fascia sign")
    expect(quote_row).to_contain_text("Initech Print Buyers")
    chromium.screenshot("09-quote-list")
    chromium.close()

    # What the browser did is really in the workspace's schema.
    from django_tenants.utils import tenant_context

    from rbac.models import Membership
    from shop.models import Company, Quote
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=slug)
    assert Membership.objects.get(tenant=tenant).user.email == new_shop["email"]
    with tenant_context(tenant):
        assert list(Company.objects.values_list("name", flat=True)) == ["Initech Print Buyers"]
        quote = Quote.objects.get()
        assert quote.title == "Shopfront fascia sign"
        assert quote.company.name == "Initech Print Buyers"
        assert [(line.description, str(line.quantity)) for line in quote.lines.all()] == [
            ("Aluminium composite fascia, 4 m", "2.00")
        ]
