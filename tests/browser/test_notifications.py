"""A notification from a run reaches the open page live: the unread count in the
navigation changes without a reload, and the inbox marks it read."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Dashboard, check_accessibility, log_in
from tests.fakes.threaded_http import Reply


def test_unread_count_is_live(page: Any, dashboard: Dashboard) -> None:
    dashboard.vendor.respond("/down", Reply(500, body="broken"))
    user = dashboard.sign_up()
    agent = dashboard.deploy(
        user["token"],
        {
            "template_id": "system-health-monitor",
            "config": {"url": f"{dashboard.vendor.url}/down"},
            "trigger": {"type": "manual"},
        },
    )
    log_in(page, dashboard.url, user["email"])
    expect(page).to_have_url(re.compile(r"/onboarding"))
    page.get_by_role("button", name="Skip for now").click()
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Notifications", exact=True)).to_be_visible()

    with httpx.Client(base_url=dashboard.url) as client:
        started = client.post(
            f"/api/v1/agents/{agent['id']}/run",
            headers={"Authorization": f"Bearer {user['token']}"},
        )
        assert started.status_code == 202, started.text
    expect(nav.get_by_role("link", name="Notifications (1 unread)")).to_be_visible(timeout=30_000)

    nav.get_by_role("link", name="Notifications (1 unread)").click()
    expect(page.get_by_role("heading", name=re.compile("unread"))).to_be_visible()
    check_accessibility(page, "notifications")
    page.get_by_role("button", name="Mark all as read").click()
    expect(nav.get_by_role("link", name="Notifications", exact=True)).to_be_visible()
