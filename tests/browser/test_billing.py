"""The billing page: upgrade goes to Stripe Checkout, the subscription Stripe then
reports shows with its invoice and a past_due banner, Manage billing goes to the
Customer Portal. Stripe's pages are the fake's URLs, answered in the browser."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Dashboard, check_accessibility, log_in


def test_upgrade_then_subscription_state_then_portal(page: Any, dashboard: Dashboard) -> None:
    page.route("https://checkout.stripe.test/**", lambda route: route.fulfill(body="checkout"))
    page.route("https://billing.stripe.test/**", lambda route: route.fulfill(body="portal"))
    user = dashboard.sign_up()
    log_in(page, dashboard.url, user["email"])
    expect(page).to_have_url(re.compile(r"/onboarding"))
    page.get_by_role("button", name="Skip for now").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", name="Billing")).to_be_visible()
    expect(page.get_by_text("No invoices yet.")).to_be_visible()
    check_accessibility(page, "billing")
    page.get_by_role("button", name="Upgrade to professional").click()
    expect(page).to_have_url(re.compile(r"^https://checkout\.stripe\.test/c/pay/cs_test_"))
    session_id = page.url.rsplit("/", 1)[1]

    events = dashboard.stripe.complete_checkout(session_id)
    subscription = json.loads(events[1].payload)["data"]["object"]["id"]
    events += dashboard.stripe.fail_payment(subscription, created=int(time.time()) + 5)
    with httpx.Client(base_url=dashboard.url, timeout=30) as client:
        for event in events:
            delivered = client.post(
                "/api/v1/billing/webhook", content=event.payload, headers=event.headers
            )
            assert delivered.status_code == 200, delivered.text

    # The worker applies the stored events in the background, and the page shows
    # the state at its load: look again until the last event is in.
    page.goto(f"{dashboard.url}/billing")
    past_due = page.get_by_role("alert").filter(has_text="The last payment failed")
    for _ in range(60):
        if past_due.count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(past_due).to_be_visible()
    expect(page.get_by_text("Plan: professional")).to_be_visible()
    expect(page.get_by_role("table", name="Invoices")).to_contain_text("paid")
    expect(page.get_by_text("Runs this month:")).to_be_visible()
    check_accessibility(page, "billing past due")
    page.get_by_role("button", name="Manage billing").click()
    expect(page).to_have_url(re.compile(r"^https://billing\.stripe\.test/p/session/"))
