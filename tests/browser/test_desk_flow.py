"""A customer submits a request in the portal; an expert answers it on the desk with an
internal note and a public reply; back in the portal the customer sees the reply and never
the note. Screenshots under test-artifacts/screenshots/desk-*."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
SUBJECT = "Browser flow: the sign by the door is dark"
NOTE = "Internal: the warranty ran out last month, bill the visit."
REPLY = "A technician will come by tomorrow morning."


@pytest.fixture
def request_removed(django_db_blocker):
    """Removes the request the test commits in acme (its messages go with it)."""
    yield
    with django_db_blocker.unblock():
        from django_tenants.utils import tenant_context

        from desk.models import Ticket
        from tenants.models import Tenant

        with tenant_context(Tenant.objects.get(slug="acme")):
            Ticket.objects.filter(subject=SUBJECT).delete()


def _sign_in(page, site: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{site}/accounts/sign-in/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_customer_request_expert_note_and_reply_customer_sees_only_the_reply(
    request_removed, live_site, chromium
):
    from playwright.sync_api import expect

    page = chromium.page
    port = live_site.rsplit(":", 1)[1]
    acme = f"http://acme.localhost:{port}"

    # The customer submits a request in the portal.
    _sign_in(page, acme, "customer@acme.example")
    page.get_by_role("link", name="Requests").first.click()
    page.get_by_role("button", name="New request").click()
    page.get_by_label("Subject").fill(SUBJECT)
    page.get_by_label("Description").fill("Since last night the lit sign stays off.")
    page.get_by_label("Priority").select_option("high")
    chromium.screenshot("desk-01-customer-new-request")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Thank you. Your request")).to_be_visible()
    expect(page.get_by_role("heading", name=SUBJECT)).to_be_visible()
    chromium.screenshot("desk-02-customer-request-sent")

    # The expert finds it in the queue and posts an internal note, then a public reply.
    _sign_in(page, acme, "expert@acme.example")
    page.get_by_role("link", name="Desk").first.click()
    page.get_by_label("Search", exact=True).fill("Browser flow")
    page.get_by_role("button", name="Filter").click()
    page.locator("tr", has_text=SUBJECT).get_by_role("link").first.click()
    page.get_by_label("Message").fill(NOTE)
    page.get_by_label("Internal note (staff only)").check()
    page.get_by_role("button", name="Post").click()
    page.get_by_label("Message").fill(REPLY)
    page.get_by_role("button", name="Post").click()
    expect(page.locator(".message-note", has_text=NOTE)).to_be_visible()
    expect(page.locator(".message-reply", has_text=REPLY)).to_be_visible()
    chromium.screenshot("desk-03-expert-note-and-reply")

    # The customer sees the reply and nothing of the note.
    _sign_in(page, acme, "customer@acme.example")
    page.get_by_role("link", name="Requests").first.click()
    page.locator("tr", has_text=SUBJECT).get_by_role("link").first.click()
    expect(page.get_by_text(REPLY)).to_be_visible()
    expect(page.get_by_text(NOTE)).to_have_count(0)
    expect(page.get_by_text("Internal note")).to_have_count(0)
    chromium.screenshot("desk-04-customer-sees-the-reply-only")
    chromium.close()
