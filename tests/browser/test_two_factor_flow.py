"""A new owner turns on two-factor authentication by scanning (here: reading) the QR secret,
saves the recovery codes, signs out, and signs back in with password and a computed code;
then signs in with a recovery code (which rotates the set) and requires 2FA for everyone."""

from __future__ import annotations

import base64
import re
import secrets
import time

import pytest
from django.core import mail

from accounts.twofactor import crypto

from .conftest import sign_up_confirm, workspace_remove

pytestmark = pytest.mark.browser

PASSWORD = "a long passphrase for the two-factor test"
CODE_PATTERN = re.compile(r"^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$")


@pytest.fixture
def new_shop(django_db_blocker):
    """Slug and email to sign up with; removed afterwards (request before ``live_site``)."""
    suffix = secrets.token_hex(4)
    shop = {"slug": f"tf-{suffix}", "email": f"owner-{suffix}@browser.example"}
    yield shop
    with django_db_blocker.unblock():
        workspace_remove(slug=shop["slug"], emails=[shop["email"]])


def _seed_from_manual_key(text: str) -> bytes:
    key = text.replace(" ", "").strip().upper()
    return base64.b32decode(key + "=" * (-len(key) % 8))


def _next_code(seed: bytes) -> str:
    """A code the server has not accepted yet: the one for the next time step (within the
    one-step tolerance), so it never repeats the code used a moment ago."""
    return crypto.totp_code(seed, time.time() + crypto.TOTP_STEP_SECONDS)


def test_enroll_two_factor_then_sign_in_with_a_computed_code(new_shop, live_site, chromium):
    from playwright.sync_api import expect

    page = chromium.page
    slug, port = new_shop["slug"], live_site.rsplit(":", 1)[1]
    workspace = f"http://{slug}.localhost:{port}"

    # A fresh workspace and its owner.
    page.goto(f"{live_site}/signup/")
    page.get_by_label("Your name").fill("Tess Factor")
    page.get_by_label("Email").fill(new_shop["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Workspace name").fill("Two Factor Signs")
    page.get_by_label("Workspace address").fill(slug)
    page.get_by_role("button", name="Create workspace").click()
    sign_up_confirm(page, new_shop["email"])
    expect(page).to_have_url(f"{workspace}/")

    # Your security -> set up two-factor authentication.
    page.get_by_role("navigation", name="Main").locator("summary").click()
    page.get_by_role("link", name="Your security").click()
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    chromium.screenshot("2fa-01-security-page")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    expect(page.locator("figure.qr-code svg")).to_be_visible()
    chromium.screenshot("2fa-02-setup-qr-code")
    page.get_by_text("Can't scan it? Enter the key instead").click()
    secret_text = page.locator("#totp-secret").inner_text()
    seed = _seed_from_manual_key(secret_text)
    assert len(seed) == 20
    chromium.screenshot("2fa-03-setup-manual-key")

    # A wrong code first: refused next to the field.
    right = crypto.totp_code(seed)
    page.get_by_label("6-digit code from the app").fill(f"{(int(right) + 1) % 10**6:06d}")
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.locator("#id_code_error")).to_contain_text("That code is not right")
    chromium.screenshot("2fa-04-setup-wrong-code")
    page.get_by_label("6-digit code from the app").fill(crypto.totp_code(seed))
    page.get_by_role("button", name="Turn on two-factor authentication").click()

    # Recovery codes, shown once, with download and copy.
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    first_codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(first_codes) == 10
    assert all(CODE_PATTERN.match(code) for code in first_codes)
    expect(page.get_by_role("button", name="Download codes")).to_have_attribute(
        "download", f"shopsafe-recovery-codes-{slug}.txt"
    )
    expect(page.get_by_role("button", name="Copy codes")).to_be_visible()
    chromium.screenshot("2fa-05-recovery-codes")
    page.get_by_role("button", name="I have saved my codes — continue").click()
    expect(page.get_by_text("On", exact=True).first).to_be_visible()
    chromium.screenshot("2fa-06-overview-on")

    # Sign out, then sign in: password, then the second step.
    page.get_by_role("navigation", name="Main").locator("summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sign in")
    page.get_by_label("Email").fill(new_shop["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    expect(page).to_have_url(f"{workspace}/accounts/2fa/verify/")
    chromium.screenshot("2fa-07-sign-in-second-step")
    # Half signed in grants nothing.
    page.goto(f"{workspace}/quotes/")
    expect(page).to_have_url(re.compile(r"/accounts/sign-in/"))
    page.get_by_label("Email").fill(new_shop["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Authentication code").fill(_next_code(seed))
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page).to_have_url(f"{workspace}/quotes/")  # where the visitor was going
    chromium.screenshot("2fa-08-signed-in")

    # Lost phone: a recovery code signs in once and a new set replaces the old one.
    page.get_by_role("navigation", name="Main").locator("summary").click()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Email").fill(new_shop["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Lost your phone? Use a recovery code").click()
    chromium.screenshot("2fa-09-recovery-code-step")
    page.get_by_label("Recovery code").fill(first_codes[0])
    page.get_by_role("button", name="Sign in with recovery code").click()
    expect(page.get_by_text("You signed in with a recovery code.")).to_be_visible()
    second_codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(second_codes) == 10
    assert not set(second_codes) & set(first_codes)
    chromium.screenshot("2fa-10-recovery-codes-rotated")
    page.get_by_role("button", name="I have saved my codes — continue").click()
    expect(page).to_have_url(f"{workspace}/")

    # The owner requires 2FA for every member.
    page.goto(f"{workspace}/settings/two-factor/")
    chromium.screenshot("2fa-11-workspace-requirement-off")
    page.get_by_role("button", name="Require two-factor authentication for all members").click()
    expect(page.get_by_text("Two-factor authentication is now required.")).to_be_visible()
    chromium.screenshot("2fa-12-workspace-requirement-on")
    page.goto(f"{workspace}/settings/members/")
    expect(page.get_by_role("columnheader", name="Two-factor")).to_be_visible()
    chromium.screenshot("2fa-13-members-2fa-status")

    # Turning the requirement off is irreversible enough to need an emailed code.
    page.goto(f"{workspace}/settings/two-factor/")
    page.get_by_role("button", name="Stop requiring two-factor authentication…").click()
    expect(page.get_by_role("heading", name="What will happen")).to_be_visible()
    chromium.screenshot("2fa-14-step-up-explain")
    page.get_by_role("button", name="Email me a confirmation code").click()
    expect(page.get_by_text("We emailed a 6-digit code to")).to_be_visible()
    chromium.screenshot("2fa-15-step-up-code")
    page.get_by_label("Confirmation code").fill("000000")
    page.get_by_role("button", name="Stop requiring two-factor authentication").click()
    expect(page.locator("#id_code_error")).to_contain_text("That code is not right")
    emailed = [
        m for m in mail.outbox if m.to == [new_shop["email"]] and "confirmation" in m.subject
    ]
    code = re.search(r"^\s+(\d{6})$", emailed[-1].body, re.M).group(1)
    page.get_by_label("Confirmation code").fill(code)
    page.get_by_role("button", name="Stop requiring two-factor authentication").click()
    expect(page.get_by_text("no longer required in this workspace")).to_be_visible()
    chromium.screenshot("2fa-16-step-up-done")
    chromium.close()

    # What the browser did is really stored, and stored safely.
    from accounts.models import User
    from accounts.twofactor.models import EncryptedTOTPDevice, RecoveryCode
    from tenants.models import Tenant

    user = User.objects.get(email=new_shop["email"])
    device = EncryptedTOTPDevice.objects.get(user=user, confirmed=True)
    assert device.seed == seed
    assert secret_text.replace(" ", "") not in device.encrypted_seed
    assert seed.hex() not in device.encrypted_seed
    stored = list(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert len(stored) == 10
    assert not any(code in value for code in first_codes + second_codes for value in stored)
    assert Tenant.objects.get(slug=slug).require_2fa is False  # switched on, then off
