"""Browsing the marketplace and deploying from it with the schema form."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Dashboard, check_accessibility, log_in, screenshot


def test_marketplace_lists_filters_and_sorts_every_template(
    page: Any, dashboard: Dashboard
) -> None:
    page.goto(f"{dashboard.url}/marketplace")
    cards = page.locator(".template-card")
    expect(page.get_by_role("heading", name="20 templates")).to_be_visible()
    expect(cards).to_have_count(20)
    assert all(card.is_visible() for card in cards.all())
    expect(page.get_by_role("heading", name="Featured")).to_be_visible()

    page.get_by_label("Sort by").select_option("name")
    expect(cards.first.get_by_role("link")).to_have_text("Churn Predictor")
    page.get_by_label("Category").select_option("finance")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Payment Reminder Bot")
    page.get_by_label("Category").select_option("")
    page.get_by_label("Search templates").fill("invoice")
    expect(page.get_by_role("heading", name=re.compile(r"^\d templates?$"))).to_be_visible()
    expect(page.get_by_role("link", name="Invoice Email Processor")).to_be_visible()
    expect(page.get_by_role("link", name="System Health Monitor")).to_have_count(0)

    page.get_by_role("link", name="Invoice Email Processor").click()
    expect(page.get_by_role("heading", name="Invoice Email Processor", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Steps")).to_be_visible()
    expect(page.locator("ol.steps > li").first).to_be_visible()
    expect(page.get_by_text("QuickBooks")).to_be_visible()
    check_accessibility(page, "template detail")
    screenshot(page, "template")


def test_deploy_form_with_schedule_webhook_and_missing_credentials(
    page: Any, dashboard: Dashboard
) -> None:
    user = dashboard.sign_up()
    log_in(page, dashboard.url, user["email"])
    expect(page).to_have_url(re.compile(r"/onboarding"))

    page.goto(f"{dashboard.url}/marketplace/invoice-email-processor/deploy")
    expect(page.get_by_role("heading", name="Deploy Invoice Email Processor")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Add a .* credential")).first).to_be_visible()

    page.goto(f"{dashboard.url}/marketplace/system-health-monitor/deploy")
    expect(page.get_by_label("Expected status")).to_have_value("200")
    expect(page.get_by_label("Method")).to_have_js_property("tagName", "SELECT")
    page.get_by_label("On a schedule (cron)").check()
    page.get_by_label(re.compile("Cron expression")).fill("30 6 * * 1")
    page.get_by_label("Time zone").select_option("Europe/Oslo")
    expect(page.locator("ol.fires > li")).to_have_count(3)
    check_accessibility(page, "deploy")
    screenshot(page, "deploy")

    # Browser validation: a malformed URL is marked on its field and nothing is sent.
    url_field = page.get_by_role("textbox", name="Url*", exact=True)
    url_field.fill("not a url")
    page.get_by_role("button", name="Deploy agent").click()
    expect(page.locator(".form-group", has=url_field).locator(".error-detail")).to_contain_text(
        "uri"
    )
    expect(page).to_have_url(re.compile(r"/deploy$"))

    # API validation: an interval under a minute comes back as a 422 on the trigger.
    url_field.fill(f"{dashboard.vendor.url}/up")
    page.get_by_label("Every N seconds").check()
    page.get_by_label(re.compile("Seconds between runs")).fill("5")
    page.get_by_role("button", name="Deploy agent").click()
    expect(page.locator("fieldset.trigger .field-error")).to_contain_text("60")
    expect(page).to_have_url(re.compile(r"/deploy$"))

    # A webhook trigger deploys and shows its URL once.
    page.get_by_label("When its webhook is called").check()
    page.get_by_label("Agent name").fill("Uptime hook")
    page.get_by_role("button", name="Deploy agent").click()
    expect(page.get_by_role("heading", name="Uptime hook", level=1)).to_be_visible()
    expect(page.get_by_test_id("webhook-url")).to_contain_text("/api/v1/hooks/")
    page.get_by_role("button", name="Rotate webhook URL").click()
    expect(page.get_by_test_id("webhook-url")).to_contain_text("/api/v1/hooks/")
