"""The whole product as a new user meets it, in one browser session: sign up,
onboarding, two agents (webhook and manual), live runs, pause and resume, a
credential, a failing run on the errors page, and logging out."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Dashboard, check_accessibility, log_in, screenshot
from tests.fakes.threaded_http import Reply


def answer_onboarding(page: Any) -> None:
    page.get_by_label("Operations").check()
    page.get_by_label("2-10").check()
    page.get_by_label("Get reports and summaries without assembling them").check()
    page.get_by_label("Know when a system or the stock needs attention").check()
    page.get_by_role("button", name="See recommendations").click()


def test_new_user_journey(page: Any, dashboard: Dashboard) -> None:
    url = dashboard.url
    email = f"journey-{uuid.uuid4().hex[:8]}@example.com"
    dashboard.vendor.respond("/status", Reply(200, body="all good"))

    # Sign up: the app logs in with the session cookie and opens the wizard.
    page.goto(f"{url}/signup")
    check_accessibility(page, "signup")
    screenshot(page, "signup")
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/onboarding$"))
    expect(page.get_by_role("heading", name="Welcome, Grace Hopper")).to_be_visible()
    check_accessibility(page, "onboarding questions")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["botskis_session"]["httpOnly"]
    assert (
        page.evaluate("() => Object.keys(localStorage).concat(Object.keys(sessionStorage))") == []
    )

    # Onboarding: five questions, recommendations with reasons, deploy two.
    answer_onboarding(page)
    expect(page.get_by_role("heading", name="Recommended for you")).to_be_visible()
    expect(page.get_by_text("Why: System Health Monitor")).to_be_visible()
    page.get_by_role("textbox", name="Url*", exact=True).fill(f"{dashboard.vendor.url}/status")
    check_accessibility(page, "onboarding recommendations")
    screenshot(page, "onboarding")
    page.get_by_role("button", name="Deploy 2 agents").click()
    expect(page.get_by_role("heading", name="Your agents are ready")).to_be_visible()
    hook_url = page.get_by_test_id("webhook-url").inner_text()
    assert "/api/v1/hooks/" in hook_url
    page.get_by_role("link", name="Go to your agents").click()

    # Agents list: statuses in words, counters.
    expect(page.get_by_role("heading", name="Your agents")).to_be_visible()
    expect(page.get_by_role("link", name="System Health Monitor")).to_be_visible()
    expect(page.get_by_role("link", name="Meeting Notes Summarizer")).to_be_visible()
    expect(page.get_by_text("Status: active").first).to_be_visible()
    check_accessibility(page, "agents")

    # The health monitor becomes a manual agent, then runs now; the timeline goes live.
    page.get_by_role("link", name="System Health Monitor").click()
    expect(page.get_by_role("heading", name="System Health Monitor", level=1)).to_be_visible()
    page.get_by_label("Manually (Run now)").check()
    page.get_by_role("button", name="Save trigger").click()
    expect(page.get_by_text("Now: manual")).to_be_visible()
    check_accessibility(page, "agent")
    screenshot(page, "agent")
    page.get_by_role("button", name="Run now").click()
    expect(page).to_have_url(re.compile(r"/runs/"))
    reloads: list[str] = []
    page.on("framenavigated", lambda frame: reloads.append(frame.url))
    expect(page.get_by_test_id("run-status")).to_have_text(re.compile("succeeded"), timeout=30_000)
    expect(page.locator('[data-step="probe"]')).to_have_attribute("data-state", "succeeded")
    assert reloads == [], "the timeline must update without a reload"
    check_accessibility(page, "run")
    screenshot(page, "run")

    # A webhook delivery shows up as a run on the other agent's page.
    page.get_by_role("link", name="Agents", exact=True).click()
    page.get_by_role("link", name="Meeting Notes Summarizer").click()
    expect(page.get_by_text("No runs yet.")).to_be_visible()
    delivered = httpx.post(
        hook_url, json={"title": "Standup", "transcript": "We shipped the dashboard."}
    )
    assert delivered.status_code == 202, delivered.text
    run_link = page.get_by_role("link", name=re.compile(r"Run of .* \(webhook\)"))
    expect(run_link).to_be_visible(timeout=30_000)

    # Pause and resume, as words.
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_text("Status: paused")).to_be_visible()
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_text("Status: active")).to_be_visible()

    # A credential: added with its kind's fields, listed by hint only.
    page.get_by_role("link", name="Credentials", exact=True).click()
    page.get_by_label("Kind").select_option("http_bearer")
    page.get_by_label("Name", exact=True).fill("Shop token")
    page.get_by_label("Token").fill("tok-secret-123456")
    page.get_by_role("button", name="Add credential").click()
    expect(page.get_by_role("heading", name=re.compile("Shop token"))).to_be_visible()
    expect(page.get_by_text("3456")).to_be_visible()
    expect(page.get_by_text("tok-secret-123456")).to_have_count(0)
    page.get_by_label("New name for Shop token").fill("Store token")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", name=re.compile("Store token"))).to_be_visible()
    check_accessibility(page, "credentials")
    screenshot(page, "credentials")

    # A failing run (the model refuses the key) appears on the errors page, linked to its run.
    dashboard.openai.fail(401)
    failed = httpx.post(hook_url, json={"title": "Retro", "transcript": "It went well."})
    assert failed.status_code == 202
    page.get_by_role("link", name="Errors", exact=True).click()
    group = page.locator(".error-group").first
    for _ in range(30):
        if group.count():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(group).to_be_visible()
    check_accessibility(page, "errors")
    screenshot(page, "errors")
    group.get_by_role("link", name="See a run with this error").click()
    expect(page.get_by_test_id("run-status")).to_have_text(re.compile("failed"))
    expect(page.get_by_role("alert")).to_contain_text("Failed at step summarize")
    failed_run = page.url
    page.get_by_role("button", name="Retry run").click()
    expect(page).not_to_have_url(failed_run)
    expect(page.get_by_test_id("run-status")).to_have_text(re.compile("succeeded"))

    # Other pages pass axe too.
    for path, name in [
        ("/marketplace", "marketplace"),
        ("/usage", "usage"),
        ("/analytics", "analytics-journey"),
        ("/notifications", "notifications"),
        ("/account", "account"),
    ]:
        page.goto(url + path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        check_accessibility(page, name)
        screenshot(page, name)

    # Log out: the back button shows the login page, not the agents.
    page.get_by_role("link", name="Agents", exact=True).click()
    expect(page.get_by_role("link", name="System Health Monitor")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    page.go_back()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_text("System Health Monitor")).to_have_count(0)
    with httpx.Client(
        base_url=url, cookies={c["name"]: c["value"] for c in page.context.cookies()}
    ) as client:
        assert client.get("/api/v1/agents").status_code == 401


def test_onboarding_resumes_where_it_was_left_and_can_be_skipped(
    page: Any, dashboard: Dashboard
) -> None:
    user = dashboard.sign_up()
    log_in(page, dashboard.url, user["email"])
    expect(page).to_have_url(re.compile(r"/onboarding$"))
    page.get_by_label("Operations").check()
    page.get_by_label("2-10").check()
    expect(page.get_by_text("Your answers are saved as you go")).to_be_visible()
    wait_for_saved_answers(dashboard, user["token"], 2)

    # Midway, the user leaves; back in the wizard (a fresh page load), the answers are there.
    page.get_by_role("link", name="Agents", exact=True).click()
    expect(page.get_by_role("heading", name="Your agents")).to_be_visible()
    page.goto(f"{dashboard.url}/onboarding")
    expect(page.get_by_label("Operations")).to_be_checked()
    expect(page.get_by_label("2-10")).to_be_checked()
    page.get_by_label("Get reports and summaries without assembling them").check()
    page.get_by_role("button", name="See recommendations").click()
    expect(page.get_by_role("heading", name="Recommended for you")).to_be_visible()

    # Leaving at the recommendations comes back to them, with the answers behind them kept.
    page.goto(f"{dashboard.url}/agents")
    page.goto(f"{dashboard.url}/onboarding")
    expect(page.get_by_role("heading", name="Recommended for you")).to_be_visible()
    expect(page.get_by_text("Step 2 of 2")).to_be_visible()
    page.get_by_role("button", name="Change my answers").click()
    expect(page.get_by_label("Operations")).to_be_checked()
    expect(page.get_by_label("Get reports and summaries without assembling them")).to_be_checked()

    # Skipping goes to the agents, and the next login does not bring the wizard back.
    page.get_by_role("button", name="Skip for now").click()
    expect(page).to_have_url(re.compile(r"/agents$"))
    page.get_by_role("button", name="Log out").click()
    # The logout's request finishes before the next page load, which would cancel it.
    expect(page).to_have_url(re.compile(r"/login"))
    log_in(page, dashboard.url, user["email"])
    expect(page).to_have_url(re.compile(r"/agents$"))


def wait_for_saved_answers(dashboard: Dashboard, token: str, count: int) -> None:
    with dashboard.api() as client:
        for _ in range(50):
            session = client.get(
                "/api/v1/onboarding", headers={"Authorization": f"Bearer {token}"}
            ).json()
            if len(session["answers"]) >= count:
                return
            time.sleep(0.2)
    raise AssertionError(f"the server kept {session['answers']}, not {count} answers")
