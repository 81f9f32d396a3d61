"""What goes wrong, and what the user sees: bad credentials, someone else's
agent, an expired session; plus keyboard use and a phone-sized screen."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Dashboard, check_accessibility, log_in, screenshot

HEALTH = {
    "template_id": "system-health-monitor",
    "config": {"url": "https://example.com/"},
    "trigger": {"type": "manual"},
}


def test_wrong_password_and_duplicate_email_are_explained(page: Any, dashboard: Dashboard) -> None:
    user = dashboard.sign_up()
    log_in(page, dashboard.url, user["email"], "wrong password!")
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login"))
    check_accessibility(page, "login with error")
    screenshot(page, "login-error")

    page.goto(f"{dashboard.url}/signup")
    page.get_by_label("Full name").fill("Someone Else")
    page.get_by_label("Email").fill(user["email"].upper())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    email_field = page.get_by_label("Email")
    expect(email_field).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field", has=email_field).locator(".field-error")).to_be_visible()

    page.get_by_label("Email").fill("new-person@example.com")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Sign up").click()
    password_field = page.get_by_label("Password")
    expect(page.locator(".field", has=password_field).locator(".field-error")).to_contain_text("8")


def test_another_users_agent_is_not_found(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.sign_up()
    agent = dashboard.deploy(owner["token"], HEALTH)
    other = dashboard.sign_up()
    log_in(page, dashboard.url, other["email"])
    expect(page).to_have_url(re.compile(r"/onboarding"))
    page.goto(f"{dashboard.url}/agents/{agent['id']}")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_text("System Health Monitor")).to_have_count(0)
    check_accessibility(page, "not found")


def test_expired_session_returns_to_the_page_after_login(page: Any, dashboard: Dashboard) -> None:
    user = dashboard.sign_up()
    agent = dashboard.deploy(user["token"], HEALTH)
    log_in(page, dashboard.url, user["email"])
    expect(page).to_have_url(re.compile(r"/onboarding"))
    page.goto(f"{dashboard.url}/agents/{agent['id']}")
    expect(page.get_by_role("heading", name="System Health Monitor", level=1)).to_be_visible()

    # The session ends elsewhere (another tab logs out): the cookie's token is revoked.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=dashboard.url, cookies=cookies) as client:
        ended = client.delete(
            "/api/v1/auth/session", headers={"X-CSRF-Token": cookies["botskis_csrf"]}
        )
        assert ended.status_code == 204, ended.text
    page.context.add_cookies(
        [{"name": n, "value": v, "url": dashboard.url} for n, v in cookies.items()]
    )

    page.get_by_role("link", name="Credentials", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fcredentials"))
    expect(page.get_by_text("Your session has ended")).to_be_visible()
    log_in_here(page, user["email"])
    expect(page).to_have_url(re.compile(r"/credentials$"))
    expect(page.get_by_role("heading", name="Credentials", level=1)).to_be_visible()


def log_in_here(page: Any, email: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_keyboard_and_phone_width(page: Any, dashboard: Dashboard) -> None:
    user = dashboard.sign_up()
    dashboard.deploy(user["token"], HEALTH)
    log_in(page, dashboard.url, user["email"])
    expect(page).to_have_url(re.compile(r"/onboarding"))
    page.goto(f"{dashboard.url}/agents")
    expect(page.get_by_role("link", name="System Health Monitor")).to_be_visible()

    # Everything on the way is reachable with Tab, in order, and each stop has a name.
    names = []
    for _ in range(40):
        page.keyboard.press("Tab")
        name = page.evaluate(
            "() => { const e = document.activeElement; return e ? (e.getAttribute('aria-label') || e.innerText || e.value || e.id || '').trim() : ''; }"
        )
        assert name, "a focusable element without a name"
        names.append(name)
        if name == "System Health Monitor":
            break
    assert names[0] == "Skip to content"
    assert "Marketplace" in names and "Log out" in names and "Deploy a new agent" in names
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="System Health Monitor", level=1)).to_be_visible()

    # 375 px: no sideways scrolling, still accessible.
    page.set_viewport_size({"width": 375, "height": 800})
    for path, name in [
        ("/agents", "agents-mobile"),
        ("/marketplace", "marketplace-mobile"),
        ("/analytics", "analytics-empty-mobile"),
    ]:
        page.goto(dashboard.url + path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        page.wait_for_timeout(200)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 375, f"{path} is {width} px wide at 375 px"
        check_accessibility(page, name)
        screenshot(page, name)
