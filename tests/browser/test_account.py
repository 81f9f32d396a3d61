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

    # Still logged in (the page renewed its session with the refresh cookie); the old
    # password is gone.
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


PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def test_signing_out_another_session_sends_it_to_the_login_page(
    page: Any, browser: Any, dashboard: Dashboard
) -> None:
    user = dashboard.sign_up()
    phone_context = browser.new_context(viewport={"width": 390, "height": 844}, user_agent=PHONE)
    try:
        phone = phone_context.new_page()
        log_in(phone, dashboard.url, user["email"])
        expect(phone).to_have_url(re.compile(r"/onboarding"))

        log_in(page, dashboard.url, user["email"])
        expect(page).to_have_url(re.compile(r"/onboarding"))
        page.goto(f"{dashboard.url}/account")
        sessions = page.get_by_role("table", name="Devices signed in to this account")
        # This browser, the phone, and the API login the account was made with.
        expect(sessions.get_by_role("row")).to_have_count(4)
        expect(sessions.get_by_role("row", name=re.compile("this device"))).to_have_count(1)
        phone_row = sessions.get_by_role("row", name=re.compile("Safari on iOS"))
        expect(phone_row).to_contain_text("127.0.0.1")
        check_accessibility(page, "account sessions")

        phone_row.get_by_role("button", name=re.compile("^Sign out Safari on iOS")).click()
        expect(sessions.get_by_role("row", name=re.compile("Safari on iOS"))).to_have_count(0)

        # The phone's next request fails, its refresh is refused, and it is sent to log in.
        phone.get_by_role("button", name="Skip for now").click()
        expect(phone).to_have_url(re.compile(r"/login"))

        page.get_by_role("button", name="Sign out other sessions").click()
        expect(page.get_by_text("Signed out 1 other session(s).")).to_be_visible()
        expect(sessions.get_by_role("row")).to_have_count(2)
        with httpx.Client(base_url=dashboard.url) as client:
            api = client.get(
                "/api/v1/users/me", headers={"Authorization": f"Bearer {user['token']}"}
            )
            assert api.status_code == 401
        page.reload()
        expect(page.get_by_role("heading", name="Account", exact=True)).to_be_visible()
    finally:
        phone_context.close()


def test_an_expired_access_cookie_is_renewed_without_leaving_the_page(
    page: Any, dashboard: Dashboard
) -> None:
    user = dashboard.sign_up()
    log_in(page, dashboard.url, user["email"])
    expect(page).to_have_url(re.compile(r"/onboarding"))
    page.goto(f"{dashboard.url}/account")
    expect(page.get_by_role("heading", name="Account", exact=True)).to_be_visible()
    # What the browser does when the access cookie's max-age is over.
    page.context.clear_cookies(name="botskis_session")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Password changed.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/account$"))
    names = {c["name"] for c in page.context.cookies()}
    assert {"botskis_session", "botskis_refresh", "botskis_csrf"} <= names
    page.get_by_role("link", name="Billing").click()
    expect(page).to_have_url(re.compile(r"/billing"))
