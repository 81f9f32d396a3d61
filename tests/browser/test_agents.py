"""Managing agents and runs in the dashboard: the list's filters, editing an
agent's configuration and trigger, pause / resume / delete, cancelling a running
run and retrying it, a finished run's skipped steps, and a credential's rename,
new secret and deletion."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Dashboard, check_accessibility, log_in, screenshot
from tests.fakes.threaded_http import Reply


def health_monitor(url: str) -> dict[str, Any]:
    return {
        "template_id": "system-health-monitor",
        "config": {"url": url, "timeout_seconds": 30},
        "trigger": {"type": "manual"},
    }


MEETING_NOTES = {
    "template_id": "meeting-notes-summarizer",
    "config": {},
    "trigger": {"type": "webhook"},
}


def open_agents(page: Any, dashboard: Dashboard) -> dict[str, Any]:
    user = dashboard.sign_up()
    log_in(page, dashboard.url, user["email"])
    expect(page).to_have_url(re.compile(r"/onboarding"))
    return user


def test_agents_list_filters_by_status_and_category(page: Any, dashboard: Dashboard) -> None:
    user = open_agents(page, dashboard)
    dashboard.deploy(user["token"], health_monitor(f"{dashboard.vendor.url}/up"))
    notes = dashboard.deploy(user["token"], MEETING_NOTES)
    with dashboard.api() as client:
        paused = client.post(
            f"/api/v1/agents/{notes['id']}/pause",
            headers={"Authorization": f"Bearer {user['token']}"},
        )
        assert paused.status_code == 200, paused.text

    page.goto(f"{dashboard.url}/agents")
    health = page.get_by_role("link", name="System Health Monitor")
    summarizer = page.get_by_role("link", name="Meeting Notes Summarizer")
    expect(health).to_be_visible()
    expect(summarizer).to_be_visible()

    page.get_by_label("Status").select_option("paused")
    expect(summarizer).to_be_visible()
    expect(health).to_have_count(0)
    expect(page).to_have_url(re.compile(r"status=paused"))
    page.get_by_label("Status").select_option("active")
    expect(health).to_be_visible()
    expect(summarizer).to_have_count(0)

    page.get_by_label("Status").select_option("")
    page.get_by_label("Category").select_option("productivity")
    expect(summarizer).to_be_visible()
    expect(health).to_have_count(0)
    page.get_by_label("Status").select_option("active")
    expect(page.get_by_text("No agents match these filters.")).to_be_visible()
    check_accessibility(page, "agents filtered")

    # The filters live in the URL: a reload keeps them.
    page.reload()
    expect(page.get_by_label("Category")).to_have_value("productivity")
    expect(page.get_by_text("No agents match these filters.")).to_be_visible()


def test_edit_config_and_trigger_pause_resume_then_delete(page: Any, dashboard: Dashboard) -> None:
    user = open_agents(page, dashboard)
    agent = dashboard.deploy(user["token"], health_monitor(f"{dashboard.vendor.url}/up"))
    page.goto(f"{dashboard.url}/agents/{agent['id']}")
    expect(page.get_by_role("heading", name="System Health Monitor", level=1)).to_be_visible()

    # The configuration form: a value outside the schema is marked on its field and not saved.
    config = page.get_by_role("region", name="Configuration")
    expected = config.get_by_label("Expected status")
    expect(expected).to_have_value("200")
    expected.fill("99")
    config.get_by_role("button", name="Save configuration").click()
    expect(
        config.locator(".form-group", has=page.get_by_label("Expected status")).locator(
            ".error-detail"
        )
    ).to_contain_text("100")
    expected.fill("204")
    config.get_by_role("button", name="Save configuration").click()
    expect(config.get_by_role("status")).to_have_text("Saved.")
    page.reload()
    expect(
        page.get_by_role("region", name="Configuration").get_by_label("Expected status")
    ).to_have_value("204")

    # The trigger: the API's 422 lands on the trigger fields; a valid interval is saved.
    trigger = page.get_by_role("region", name="Trigger")
    trigger.get_by_label("Every N seconds").check()
    trigger.get_by_label(re.compile("Seconds between runs")).fill("5")
    trigger.get_by_role("button", name="Save trigger").click()
    expect(trigger.locator(".field-error")).to_contain_text("60")
    expect(trigger.get_by_text("Now: manual")).to_be_visible()
    trigger.get_by_label(re.compile("Seconds between runs")).fill("900")
    trigger.get_by_role("button", name="Save trigger").click()
    expect(trigger.get_by_text("Now: every 900 s")).to_be_visible()
    check_accessibility(page, "agent settings")

    # Pause and resume, in words.
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_text("Status: paused")).to_be_visible()
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_text("Status: active")).to_be_visible()

    # Delete asks first; "Keep it" keeps it.
    page.get_by_role("button", name="Delete", exact=True).click()
    confirm = page.get_by_role("group", name="Confirm deletion")
    expect(confirm).to_contain_text("Delete this agent and all its runs?")
    check_accessibility(page, "agent delete confirmation")
    confirm.get_by_role("button", name="Keep it").click()
    expect(confirm).to_have_count(0)
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("button", name="Yes, delete System Health Monitor").click()
    expect(page).to_have_url(re.compile(r"/agents$"))
    expect(page.get_by_role("heading", name="Your agents")).to_be_visible()
    expect(page.get_by_role("link", name="System Health Monitor")).to_have_count(0)
    with dashboard.api() as client:
        gone = client.get(
            f"/api/v1/agents/{agent['id']}", headers={"Authorization": f"Bearer {user['token']}"}
        )
        assert gone.status_code == 404


def test_cancel_a_running_run_then_retry_it(page: Any, dashboard: Dashboard) -> None:
    path = f"/slow-{uuid.uuid4().hex[:8]}"
    # The first probe hangs long enough to cancel the run; the retry's answers at once.
    dashboard.vendor.respond(path, Reply(200, body="slow", delay=10), Reply(200, body="all good"))
    user = open_agents(page, dashboard)
    agent = dashboard.deploy(user["token"], health_monitor(dashboard.vendor.url + path))
    page.goto(f"{dashboard.url}/agents/{agent['id']}")
    page.get_by_role("button", name="Run now").click()
    expect(page).to_have_url(re.compile(r"/runs/"))
    status = page.get_by_test_id("run-status")
    expect(status).to_have_text(re.compile("running"), timeout=30_000)
    expect(page.locator('[data-step="probe"]')).to_have_attribute("data-state", "running")
    check_accessibility(page, "run running")
    page.get_by_role("button", name="Cancel run").click()
    expect(status).to_have_text(re.compile("cancelled"))
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
    expect(page.locator('[data-step="alert"]')).to_have_attribute("data-state", "cancelled")
    expect(page.locator('[data-step="alert"]')).to_contain_text("not run")
    cancelled = page.url

    page.get_by_role("button", name="Retry run").click()
    expect(page).not_to_have_url(cancelled)
    expect(status).to_have_text(re.compile("succeeded"), timeout=30_000)
    expect(page.get_by_role("link", name="the earlier run")).to_have_attribute(
        "href", re.compile(cancelled.removeprefix(dashboard.url) + "$")
    )
    # The filter stopped a healthy probe: the steps after it were skipped, said in words.
    expect(page.locator('[data-step="probe"]')).to_have_attribute("data-state", "succeeded")
    for step in ("alert", "slack", "email"):
        item = page.locator(f'[data-step="{step}"]')
        expect(item).to_have_attribute("data-state", "skipped")
        expect(item.locator(".status")).to_have_text("skipped")
    expect(page.get_by_text("pending")).to_have_count(0)
    check_accessibility(page, "run retried")
    screenshot(page, "run-skipped")


def test_credential_rename_replace_secret_and_delete(page: Any, dashboard: Dashboard) -> None:
    user = open_agents(page, dashboard)
    with httpx.Client(base_url=dashboard.url) as client:
        made = client.post(
            "/api/v1/credentials",
            json={"kind": "http_bearer", "name": "Shop token", "secret": {"token": "tok-old-1111"}},
            headers={"Authorization": f"Bearer {user['token']}"},
        )
        assert made.status_code == 201, made.text
    page.goto(f"{dashboard.url}/credentials")
    card = page.locator("li.card", has=page.get_by_role("heading", name=re.compile("Shop token")))
    expect(card).to_contain_text("1111")

    card.get_by_label("New name for Shop token").fill("Store token")
    card.get_by_role("button", name="Rename").click()
    card = page.locator("li.card", has=page.get_by_role("heading", name=re.compile("Store token")))
    expect(card).to_be_visible()

    card.get_by_role("button", name="Replace the secret of Store token").click()
    card.get_by_role("textbox", name="Token*", exact=True).fill("tok-new-2222")
    check_accessibility(page, "credential replace")
    card.get_by_role("button", name="Save new secret").click()
    expect(card).to_contain_text("2222")
    expect(card).not_to_contain_text("1111")
    expect(page.get_by_text("tok-new-2222")).to_have_count(0)

    card.get_by_role("button", name="Delete Store token").click()
    confirm = card.get_by_role("group", name="Confirm deletion")
    expect(confirm).to_contain_text("Agents using it will fail")
    confirm.get_by_role("button", name="Yes, delete").click()
    expect(page.get_by_text("No credentials yet.")).to_be_visible()
    with httpx.Client(base_url=dashboard.url) as client:
        listed = client.get(
            "/api/v1/credentials", headers={"Authorization": f"Bearer {user['token']}"}
        ).json()
        assert listed["items"] == []
