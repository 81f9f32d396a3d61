"""Account settings: change the password, delete the account with the password."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Dashboard, check_accessibility, log_in

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
    page.get_by_label("New password").fill(NEW_PASSWORD)
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
