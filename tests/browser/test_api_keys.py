"""API keys on the account page: created with scopes and shown once, used by a
script against the live server, refused for the account, revoked with a confirm."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Dashboard, check_accessibility, log_in, screenshot


def test_create_use_and_revoke_an_api_key(page: Any, dashboard: Dashboard) -> None:
    user = dashboard.sign_up()
    log_in(page, dashboard.url, user["email"])
    expect(page).to_have_url(re.compile(r"/onboarding"))
    page.get_by_role("button", name="Skip for now").click()
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    expect(page.get_by_text("No API keys yet.")).to_be_visible()
    check_accessibility(page, "account with no api keys")

    page.get_by_label("Key name").fill("nightly report")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("fieldset .field-error")).to_contain_text("at least 1")
    page.get_by_role("checkbox", name=re.compile("agents:read")).check()
    page.get_by_role("checkbox", name=re.compile("runs:read")).check()
    page.get_by_role("button", name="Create key").click()

    shown = page.get_by_test_id("new-api-key")
    expect(shown).to_contain_text("bk_live_")
    key = shown.inner_text().strip()
    check_accessibility(page, "api key shown once")
    screenshot(page, "api-key-created")
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_test_id("new-api-key")).to_have_count(0)
    listed = page.get_by_role("list", name="Your API keys").get_by_role("listitem")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("nightly report")
    expect(listed).to_contain_text(key[:16])
    expect(listed).to_contain_text("runs:read")
    assert key not in page.content()

    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=dashboard.url, headers=headers, timeout=30) as script:
        agents = script.get("/api/v1/agents")
        assert agents.status_code == 200, agents.text
        account = script.patch("/api/v1/users/me", json={"full_name": "Mallory"})
        assert account.status_code == 403
        assert account.json()["reason"] == "api_key_not_allowed"
        write = script.post("/api/v1/credentials", json={})
        assert (write.status_code, write.json()["scope"]) == (403, "credentials:write")

    page.reload()
    expect(listed).not_to_contain_text("last used never")
    page.get_by_role("button", name="Revoke nightly report").click()
    page.get_by_role("group", name="Confirm revoking nightly report").get_by_role(
        "button", name="Yes, revoke"
    ).click()
    expect(page.get_by_text("No API keys yet.")).to_be_visible()
    with httpx.Client(base_url=dashboard.url, headers=headers, timeout=30) as script:
        assert script.get("/api/v1/agents").status_code == 401
