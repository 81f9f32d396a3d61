"""The Analytics page and an agent's charts, against runs made over the API: the
figures on the page are the API's, the CSV link exports the same range, a
failing agent links to its page, and the minutes-saved figure can be changed."""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Dashboard, check_accessibility, log_in, screenshot
from tests.fakes.threaded_http import Reply

FINISHED = {"succeeded", "failed", "cancelled"}


def _run(client: httpx.Client, agent_id: str, body: dict[str, Any]) -> str:
    accepted = client.post(f"/api/v1/agents/{agent_id}/run", json=body)
    assert accepted.status_code == 202, accepted.text
    run_id: str = accepted.json()["run_id"]
    return run_id


def _wait_finished(client: httpx.Client, run_ids: list[str]) -> dict[str, str]:
    deadline = time.monotonic() + 60
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        statuses = {r: client.get(f"/api/v1/runs/{r}").json()["status"] for r in run_ids}
        if set(statuses.values()) <= FINISHED:
            return statuses
        time.sleep(0.3)
    raise AssertionError(f"runs did not finish: {statuses}")


def _shown(page: Any, key: str) -> str:
    text: str = page.get_by_test_id(f"total-{key}").inner_text()
    return text


def _settled(page: Any) -> None:
    expect(page.get_by_test_id("analytics")).to_have_attribute("aria-busy", "false")
    expect(page.get_by_test_id("totals")).to_be_visible()


def _percent(rate: float | None) -> str:
    return "no finished runs" if rate is None else f"{round(rate * 100)}%"


def test_analytics_page_shows_the_apis_figures(page: Any, dashboard: Dashboard) -> None:
    user = dashboard.sign_up(name="Ada Analytics")
    notes_name = f"Notes {uuid.uuid4().hex[:6]}"
    notes = dashboard.deploy(
        user["token"],
        {
            "template_id": "meeting-notes-summarizer",
            "name": notes_name,
            "trigger": {"type": "manual"},
            "minutes_saved_per_run": 15,
        },
    )
    dashboard.vendor.respond("/status", Reply(200, body="all good"))
    probe = dashboard.deploy(
        user["token"],
        {
            "template_id": "system-health-monitor",
            "name": "Status probe",
            "config": {"url": f"{dashboard.vendor.url}/status"},
            "trigger": {"type": "manual"},
        },
    )
    meeting = {"input": {"title": "Standup", "transcript": "We shipped the charts."}}
    headers = {"Authorization": f"Bearer {user['token']}"}
    with httpx.Client(base_url=dashboard.url, headers=headers, timeout=30) as client:
        good = [_run(client, notes["id"], meeting) for _ in range(3)]
        good += [_run(client, probe["id"], {}) for _ in range(2)]
        assert set(_wait_finished(client, good).values()) == {"succeeded"}
        # The model refuses the key once: a permanent failure, like the journey's.
        dashboard.openai.fail(401)
        bad = _run(client, notes["id"], meeting)
        assert _wait_finished(client, [bad]) == {bad: "failed"}

    log_in(page, dashboard.url, user["email"])
    expect(page).to_have_url(re.compile(r"/onboarding"))
    page.get_by_role("link", name="Analytics", exact=True).click()
    expect(page.get_by_role("heading", name="Analytics", level=1)).to_be_visible()
    # The range lives in the address, so the radio turns checked once the navigation
    # renders (a transition): click, then wait for it, rather than check().
    page.get_by_label("Last 24 hours").click()
    expect(page.get_by_label("Last 24 hours")).to_be_checked()
    expect(page.get_by_label("Group by")).to_have_value("hour")
    _settled(page)

    # The CSV link carries the range the page shows; the same query as JSON is the truth.
    csv_link = page.get_by_role("link", name="Download CSV")
    href = csv_link.get_attribute("href")
    query = {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}
    assert query.pop("format") == "csv" and query["granularity"] == "hour"
    with httpx.Client(base_url=dashboard.url, headers=headers, timeout=30) as client:
        body = client.get("/api/v1/analytics/overview", params=query).json()
        exported = client.get("/api/v1/analytics/overview", params={**query, "format": "csv"})
    totals = body["totals"]
    assert (totals["runs"], totals["succeeded"], totals["failed"]) == (6, 5, 1)
    expect(page.get_by_test_id("total-runs")).to_have_text(str(totals["runs"]))
    assert _shown(page, "succeeded") == str(totals["succeeded"])
    assert _shown(page, "failed") == str(totals["failed"])
    assert _shown(page, "cancelled") == str(totals["cancelled"])
    assert _shown(page, "success-rate") == _percent(totals["success_rate"])
    assert _shown(page, "tokens") == f"{totals['tokens']:,}"
    assert totals["p50_duration_ms"] is not None
    assert re.fullmatch(r"\d+(\.\d)? m?s", _shown(page, "p50")), _shown(page, "p50")
    # 3 successful notes runs x 15 minutes + 2 probes x the template's 2 minutes.
    assert body["time_saved"]["minutes"] == 49
    assert _shown(page, "time-saved") == "49 minutes"
    # The link itself downloads with the browser's session cookie.
    downloaded = page.context.request.get(dashboard.url + href)
    assert downloaded.status == 200 and downloaded.text() == exported.text
    assert "attachment" in downloaded.headers["content-disposition"]
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text.splitlines()[0].startswith("bucket,runs,succeeded,failed")
    assert len(exported.text.splitlines()) == len(body["series"]) + 1

    # Four charts drawn, each with its figures in words; the table has every bucket.
    expect(page.locator("figure.chart canvas")).to_have_count(4)
    runs_caption = page.locator("figure.chart", has_text="Runs by status").locator(".chart-summary")
    expect(runs_caption).to_contain_text("6 runs: 5 succeeded, 1 failed, 0 cancelled.")
    page.get_by_text("The figures by hour, as a table").click()
    table = page.get_by_test_id("figures-table")
    expect(table.locator("tbody tr")).to_have_count(len(body["series"]))
    busiest = max(body["series"], key=lambda p: p["runs"])
    bucket = datetime.fromisoformat(busiest["bucket"].replace("Z", "+00:00"))
    row = table.locator(
        "tbody tr", has=page.get_by_role("rowheader", name=f"{bucket:%Y-%m-%d %H}:00")
    )
    expect(row.locator("td").nth(0)).to_have_text(str(busiest["runs"]))
    expect(row.locator("td").nth(2)).to_have_text(str(busiest["failed"]))

    # Top failing agents and error groups, linked.
    failing = page.get_by_test_id("top-failing-agents")
    assert [a["name"] for a in body["top_failing_agents"]] == [notes_name]
    expect(failing.get_by_role("link")).to_have_count(1)
    expect(failing).to_contain_text("1 failed run of 4, success rate 75%")
    error = body["top_errors"][0]
    errors = page.get_by_test_id("top-errors")
    expect(errors.get_by_role("link", name="See the latest run with this error")).to_have_attribute(
        "href", f"/runs/{error['sample_run_id']}"
    )
    expect(errors).to_contain_text(f"{error['count']} (new: none in the range before)")
    check_accessibility(page, "analytics")
    screenshot(page, "analytics")

    # Thirty days: by day, the same totals.
    page.get_by_label("Last 30 days").click()
    expect(page.get_by_label("Last 30 days")).to_be_checked()
    expect(page.get_by_label("Group by")).to_have_value("day")
    _settled(page)
    expect(page.get_by_role("link", name="Download CSV")).to_have_attribute(
        "href", re.compile("granularity=day")
    )
    expect(page.get_by_test_id("total-runs")).to_have_text("6")

    # A phone-sized screen: no sideways scrolling, still accessible.
    page.set_viewport_size({"width": 375, "height": 800})
    page.wait_for_timeout(300)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375, f"/analytics is {width} px wide at 375 px"
    check_accessibility(page, "analytics at 375 px")
    screenshot(page, "analytics-mobile")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Drill down: the failing agent's page shows its own charts.
    failing.get_by_role("link", name=notes_name).click()
    expect(page.get_by_role("heading", name=notes_name, level=1)).to_be_visible()
    section = page.get_by_role("region", name="Analytics", exact=True)
    expect(section.get_by_label("Last 30 days")).to_be_checked()
    _settled(page)
    expect(section.locator("figure.chart canvas")).to_have_count(4)
    expect(section.locator(".chart-summary").first).to_contain_text(
        "4 runs: 3 succeeded, 1 failed, 0 cancelled."
    )
    expect(section.get_by_test_id("time-saved")).to_contain_text(
        "45 minutes saved in this range: 3 successful runs at 15 minutes each"
    )

    # The owner changes the minutes one run saves; the estimate follows.
    section.get_by_label(f"Minutes saved per successful run of {notes_name}").fill("30")
    section.get_by_role("button", name="Save").click()
    expect(section.get_by_text("Saved.")).to_be_visible()
    expect(section.get_by_test_id("time-saved")).to_contain_text("1.5 hours saved")
    check_accessibility(page, "agent analytics")
    section.scroll_into_view_if_needed()
    screenshot(page, "agent-analytics")
    with httpx.Client(base_url=dashboard.url, headers=headers, timeout=30) as client:
        agent = client.get(f"/api/v1/agents/{notes['id']}").json()
    assert agent["minutes_saved_per_run"] == 30
