"""Account settings: change the password, delete the account with the password;
email verification, the password reset flow from the login page, two-factor
authentication from set-up to logging in with a code; and the wait a rate limit
asks for."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pyotp
from playwright.sync_api import expect

from tests.browser.conftest import (
    ACCOUNT_MAIL_LIMIT,
    PASSWORD,
    Dashboard,
    check_accessibility,
    log_in,
    screenshot,
)

NEW_PASSWORD = "a brand new password"


def test_change_password_then_delete_the_account(page: Any, dashboard: Dashboard) -> None:
    user = dashboard.sign_up()
    log_in(page, dashboard.url, user["email"])
    expect(page).to_have_url(re.compile(r"/onboarding"))
    page.get_by_role("button", name="Skip for now").click()
    expect(page.get_by_role("heading", name="Your agents")).to_be_visible()
    page.get_by_role("link", name="Account", exact=True).click()

    current = page.get_by_label("Current password")
    current.fill("not my password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".field", has=current).locator(".field-error")).to_contain_text("incorrect")
    current.fill(PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Password changed.")).to_be_visible()
    check_accessibility(page, "account")

    # Still logged in (the page logged in again with the new password); the old one is gone.
    with httpx.Client(base_url=dashboard.url) as client:
        old = client.post("/api/v1/auth/login", json={"email": user["email"], "password": PASSWORD})
        assert old.status_code == 401

    confirm = page.get_by_label("Password to confirm deletion")
    confirm.fill("wrong")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator(".field", has=confirm).locator(".field-error")).to_be_visible()
    confirm.fill(NEW_PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    expect(page).to_have_url(re.compile(r"/signup$"))
    with httpx.Client(base_url=dashboard.url) as client:
        gone = client.post(
            "/api/v1/auth/login", json={"email": user["email"], "password": NEW_PASSWORD}
        )
        assert gone.status_code == 401


def test_verification_banner_resends_and_the_link_verifies(page: Any, dashboard: Dashboard) -> None:
    user = dashboard.sign_up()
    first = dashboard.link_in(dashboard.mail_to(user["email"], VERIFY), "/verify-email")
    log_in(page, dashboard.url, user["email"])
    expect(page).to_have_url(re.compile(r"/onboarding"))
    banner = page.get_by_role("region", name="Email verification")
    expect(banner).to_contain_text(user["email"])
    banner.get_by_role("button", name="Resend the verification link").click()
    expect(banner.get_by_role("status")).to_contain_text(f"on its way to {user['email']}")
    check_accessibility(page, "verification banner")
    screenshot(page, "verify-banner")
    again = dashboard.link_in(dashboard.mail_to(user["email"], VERIFY, count=2), "/verify-email")
    assert again != first

    page.goto(again)
    expect(page.get_by_role("heading", name="Verify your email")).to_be_visible()
    expect(page.get_by_text(f"Thank you: {user['email']} is verified.")).to_be_visible()
    expect(page.get_by_role("region", name="Email verification")).to_have_count(0)
    check_accessibility(page, "verify email")
    screenshot(page, "verify-email")

    # A link works once; the page says so.
    page.goto(again)
    expect(page.get_by_role("alert")).to_contain_text("already been used")
    with httpx.Client(base_url=dashboard.url) as client:
        me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {user['token']}"})
        assert me.json()["email_verified_at"] is not None


def test_password_reset_from_the_login_page(page: Any, dashboard: Dashboard) -> None:
    user = dashboard.sign_up()
    page.goto(f"{dashboard.url}/login")
    page.get_by_label("Email").fill(user["email"])
    page.get_by_role("link", name="Forgot password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value(user["email"])
    page.get_by_role("button", name="Send the reset link").click()
    sent = page.get_by_role("status").filter(has_text="reset its password")
    expect(sent).to_be_visible()
    answer = sent.inner_text()
    check_accessibility(page, "forgot password")
    screenshot(page, "forgot-password")

    # Nobody learns whether an address has an account: the same words for a stranger.
    page.get_by_label("Email").fill(f"nobody-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_role("button", name="Send the reset link").click()
    expect(page.get_by_role("status").filter(has_text="reset its password")).to_have_text(answer)

    link = dashboard.link_in(dashboard.mail_to(user["email"], RESET), "/reset-password")
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    new_password = page.get_by_label("New password", exact=True)
    new_password.fill("short")
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator(".field", has=new_password).locator(".field-error")).to_contain_text("8")
    check_accessibility(page, "reset password")
    screenshot(page, "reset-password")
    new_password.fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the new password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    page.get_by_role("link", name="Log in with the new password").click()
    log_in(page, dashboard.url, user["email"], NEW_PASSWORD)
    expect(page).to_have_url(re.compile(r"/onboarding"))

    # The link is spent: opening it again explains, and offers a new one.
    page.goto(link)
    page.get_by_label("New password", exact=True).fill("yet another password")
    page.get_by_role("button", name="Set the new password").click()
    expect(page.get_by_role("alert")).to_contain_text("already been used")
    expect(page.get_by_role("link", name="Ask for a new reset link")).to_be_visible()
    page.goto(f"{dashboard.url}/reset-password?token=not-a-real-token")
    page.get_by_label("New password", exact=True).fill("yet another password")
    page.get_by_role("button", name="Set the new password").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    with httpx.Client(base_url=dashboard.url) as client:
        old = client.post("/api/v1/auth/login", json={"email": user["email"], "password": PASSWORD})
        assert old.status_code == 401


def test_too_many_reset_requests_show_the_wait(page: Any, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/forgot-password")
    page.get_by_label("Email").fill(f"limited-{uuid.uuid4().hex[:8]}@example.com")
    send = page.get_by_role("button", name="Send the reset link")
    for _ in range(ACCOUNT_MAIL_LIMIT):
        send.click()
        expect(page.get_by_role("status").filter(has_text="reset its password")).to_be_visible()
    send.click()
    expect(page.get_by_role("alert")).to_have_text(
        re.compile(r"Too many attempts\. Try again in \d+ (seconds|minutes)\.")
    )
    check_accessibility(page, "rate limited")
    screenshot(page, "rate-limited")


def test_two_factor_setup_then_log_in_with_a_code(page: Any, dashboard: Dashboard) -> None:
    user = dashboard.sign_up()
    log_in(page, dashboard.url, user["email"])
    expect(page).to_have_url(re.compile(r"/onboarding"))
    page.goto(f"{dashboard.url}/account")
    section = page.get_by_role("region", name="Two-factor authentication")
    expect(section).to_contain_text("Status: off")
    section.get_by_role("button", name="Set up two-factor authentication").click()

    # The QR code is an image (a data: URL the CSP allows), never markup in the page.
    qr = section.get_by_role("img", name=re.compile("QR code"))
    expect(qr).to_be_visible()
    assert qr.get_attribute("src").startswith("data:image/svg+xml")
    page.wait_for_function("() => document.querySelector('img.qr').naturalWidth > 0")
    assert section.locator("svg").count() == 0
    secret = section.get_by_test_id("totp-secret").inner_text()
    totp = pyotp.TOTP(secret)
    check_accessibility(page, "two-factor setup")
    screenshot(page, "two-factor-setup")

    code_field = section.get_by_label("Code from the app")
    code_field.fill(wrong_code(totp))
    section.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(
        page.locator(".field", has=page.get_by_label("Code from the app")).locator(".field-error")
    ).to_contain_text("not valid")
    code_field.fill(totp.now())
    section.get_by_role("button", name="Turn on two-factor authentication").click()

    # Ten recovery codes, once, to copy or download.
    codes_list = section.get_by_role("list", name="Recovery codes")
    expect(codes_list.get_by_role("listitem")).to_have_count(10)
    codes = [c.strip() for c in codes_list.get_by_role("listitem").all_inner_texts()]
    check_accessibility(page, "recovery codes")
    screenshot(page, "recovery-codes")
    with page.expect_download() as download:
        section.get_by_role("link", name="Download the codes").click()
    assert Path(download.value.path()).read_text().split() == codes
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    section.get_by_role("button", name="Copy the codes").click()
    expect(section.get_by_text("Copied to the clipboard.")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()").split() == codes
    section.get_by_role("button", name="I have saved them").click()
    expect(section).to_contain_text("Status: on")
    expect(section.get_by_role("list", name="Recovery codes")).to_have_count(0)

    # Logging in now asks for the code; a wrong one is explained, the next one works.
    page.get_by_role("button", name="Log out").click()
    log_in(page, dashboard.url, user["email"])
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    check_accessibility(page, "login code")
    screenshot(page, "login-code")
    code = page.get_by_label("Authentication code")
    code.fill(wrong_code(totp))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".field", has=code).locator(".field-error")).to_contain_text("not valid")
    # The code that turned it on cannot be replayed: the next time step's code is valid now.
    code.fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/onboarding"))

    # A recovery code works once instead of the app.
    page.get_by_role("button", name="Log out").click()
    log_in(page, dashboard.url, user["email"])
    page.get_by_role("button", name="Use a recovery code instead").click()
    page.get_by_label("Recovery code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/onboarding"))

    # Turning it off takes the password and a code.
    page.goto(f"{dashboard.url}/account")
    section = page.get_by_role("region", name="Two-factor authentication")
    section.get_by_label("Password to turn off two-factor").fill(PASSWORD)
    section.get_by_label("Code to turn off two-factor").fill(codes[0])
    section.get_by_role("button", name="Turn off two-factor authentication").click()
    expect(section.locator(".field-error")).to_contain_text("not valid")
    section.get_by_label("Code to turn off two-factor").fill(codes[1])
    section.get_by_role("button", name="Turn off two-factor authentication").click()
    expect(section.get_by_text("Two-factor authentication is off.")).to_be_visible()
    expect(section).to_contain_text("Status: off")
    with httpx.Client(base_url=dashboard.url) as client:
        plain = client.post(
            "/api/v1/auth/login", json={"email": user["email"], "password": PASSWORD}
        )
        assert "access_token" in plain.json(), plain.text


VERIFY = "Verify your email address"
RESET = "Reset your password"


def wrong_code(totp: pyotp.TOTP) -> str:
    """Six digits that are none of the codes the server accepts right now (±1 step)."""
    now = time.time()
    valid = {totp.at(now + offset) for offset in (-30, 0, 30, 60)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444") if c not in valid)
