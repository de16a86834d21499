"""A member asks a client for documents; the client, with no account, opens the emailed
link, confirms the address, enters the 6-digit code read from the outbox, sends a file per
item and sees what is still missing; the member accepts a document, which then appears among
the company's files. Screenshots under test-artifacts/screenshots/docrequest-*."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
TITLE = "Browser flow: onboarding papers"
CLIENT = "browser-client@example.org"


@pytest.fixture
def request_removed(django_db_blocker):
    """Removes what the test commits in acme: the request (items and uploads with it), the
    company files its acceptance made, their bytes, and the limiter's counters of the link."""
    yield
    with django_db_blocker.unblock():
        from django_tenants.utils import tenant_context

        from accounts.models import RateLimitCounter
        from docrequests.models import DocumentRequest, Upload
        from kernel import storage
        from shop.models import StoredFile
        from tenants.models import Tenant

        with tenant_context(Tenant.objects.get(slug="acme")):
            uploads = Upload.objects.filter(item__request__title=TITLE)
            files = StoredFile.objects.filter(
                pk__in=[pk for pk in uploads.values_list("stored_file_id", flat=True) if pk]
            )
            keys = [*uploads.values_list("storage_key", flat=True)]
            keys += files.values_list("storage_key", flat=True)
            files.delete()
            DocumentRequest.objects.filter(title=TITLE).delete()
            for key in keys:
                storage.delete(key)
        RateLimitCounter.objects.filter(rule__startswith="docrequest_").delete()


def _sign_in(page, site: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{site}/accounts/sign-in/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _last_email_to(address: str):
    from django.core import mail

    return [message for message in mail.outbox if message.to == [address]][-1]


def test_client_confirms_the_code_uploads_per_item_and_the_member_accepts(
    request_removed, live_site, chromium, tmp_path
):
    from playwright.sync_api import expect

    from shop.tests.factories import TINY_PDF, TINY_PNG

    page = chromium.page
    port = live_site.rsplit(":", 1)[1]
    acme = f"http://acme.localhost:{port}"
    contract = tmp_path / "contract.pdf"
    contract.write_bytes(TINY_PDF)
    photo = tmp_path / "photo.png"
    photo.write_bytes(TINY_PNG)

    # The member creates the request.
    _sign_in(page, acme, "manager@acme.example")
    page.get_by_role("link", name="Documents").first.click()
    page.get_by_role("button", name="New document request").click()
    page.get_by_label("Company").select_option(index=1)
    page.get_by_label("Contacts' email addresses").fill(CLIENT)
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("Documents asked for").fill("Signed contract\n? Photo")
    page.get_by_label("PNG").check()
    chromium.screenshot("docrequest-01-member-new-request")
    page.get_by_role("button", name="Create and email the link").click()
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(page.get_by_text("0 of 2 received")).to_be_visible()

    # The client opens the emailed link: no account, a fresh browser session.
    link = re.search(r"http://acme\.localhost:\d+/r/[A-Za-z0-9_-]+/", _last_email_to(CLIENT).body)
    assert link, "the request's email carries the link"
    page.context.clear_cookies()
    page.goto(link.group(0))
    assert "/r/code/" in page.url  # the token is swapped for a session at once
    page.get_by_label("Your email address").fill(CLIENT)
    page.get_by_role("button", name="Email me a code").click()
    code_field = page.get_by_label("The 6-digit code from the email")
    expect(code_field).to_be_visible()  # the page after the commit that sent the email
    code = re.search(r"\b(\d{6})\b", _last_email_to(CLIENT).body)
    assert code, "the code's email carries six digits"
    code_field.fill(code.group(1))
    chromium.screenshot("docrequest-02-client-enters-the-code")
    page.get_by_role("button", name="Open the request").click()
    expect(page.get_by_text("2 documents still to send.")).to_be_visible()
    chromium.screenshot("docrequest-03-client-checklist")

    page.locator("li", has_text="Signed contract").locator("input[type=file]").set_input_files(
        str(contract)
    )
    page.locator("li", has_text="Signed contract").get_by_role("button", name="Send").click()
    expect(page.get_by_text("1 document still to send.")).to_be_visible()
    expect(page.get_by_text("Sent: contract.pdf")).to_be_visible()
    page.locator("li", has_text="Photo").locator("input[type=file]").set_input_files(str(photo))
    page.locator("li", has_text="Photo").get_by_role("button", name="Send").click()
    expect(page.get_by_text("Nothing missing.")).to_be_visible()
    expect(page.get_by_text("Sent: photo.png")).to_be_visible()
    chromium.screenshot("docrequest-04-client-sent-everything")

    # The member sees the progress and accepts the contract; it joins the company's files.
    _sign_in(page, acme, "manager@acme.example")
    page.get_by_role("link", name="Documents").first.click()
    row = page.locator("tr", has_text=TITLE)
    expect(row).to_contain_text("2 of 2 received")
    row.get_by_role("link", name=TITLE).click()
    contract_item = page.locator("li", has_text="Signed contract")
    contract_item.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("Decision saved")).to_be_visible()
    expect(page.locator("li", has_text="Signed contract")).to_contain_text("Accepted")
    chromium.screenshot("docrequest-05-member-accepted")
    page.locator("li", has_text="Signed contract").get_by_role(
        "link", name="contract.pdf"
    ).last.click()
    expect(page.get_by_role("heading", name="contract.pdf")).to_be_visible()
    expect(page.get_by_text(f"Document request “{TITLE}”: Signed contract")).to_be_visible()
    chromium.screenshot("docrequest-06-among-the-company-files")
    chromium.close()
