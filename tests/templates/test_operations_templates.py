"""Templates that need no LLM (inventory, payments, health, integration), end to
end: they run with only their own config and credentials, no operator LLM."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.smtp_server import FakeSmtpServer
from tests.fakes.threaded_http import Reply
from tests.fakes.vendor_server import FakeVendorServer
from tests.templates.agent_runs import (
    deliver_webhook,
    deploy,
    fire_schedule,
    sign_up_quietly,
    step_statuses,
    store_credential,
)
from tests.users.factories import Account, sign_up

PRODUCTS = {
    "products": [
        {
            "id": 1,
            "title": "Mug",
            "variants": [
                {"id": 11, "title": "Red", "sku": "MUG-R", "inventory_quantity": 2},
                {"id": 12, "title": "Blue", "sku": "MUG-B", "inventory_quantity": 40},
            ],
        },
        {
            "id": 2,
            "title": "Poster",
            "variants": [{"id": 21, "title": "Default Title", "sku": "", "inventory_quantity": 0}],
        },
    ]
}


async def notifications(client: httpx.AsyncClient, account: Account) -> list[dict[str, object]]:
    response = await client.get("/api/v1/notifications", headers=account.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    items: list[dict[str, object]] = body["items"] if isinstance(body, dict) else body
    return items


async def test_inventory_monitor_reports_low_stock_variants_from_shopify(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake_vendor: FakeVendorServer,
    fake_smtp: FakeSmtpServer,
    fake_openai: FakeOpenAIServer,
) -> None:
    account = await sign_up_quietly(client, fake_smtp)
    await store_credential(
        client, account, "shopify", {"shop_domain": "shop.test", "access_token": "shpat_1"}
    )
    agent = await deploy(
        client,
        account,
        "inventory-monitor",
        {
            "store_url": fake_vendor.url,
            "threshold": 5,
            "slack_webhook_url": f"{fake_vendor.url}/slack/ops",
            "alert_email": "buyer@shop.test",
        },
    )
    fake_vendor.respond("/admin/api/2024-10/products.json", Reply(200, json=PRODUCTS))
    run = await fire_schedule(app, client, account, agent)
    assert run["status"] == "succeeded", run
    [read] = fake_vendor.requests_to("/admin/api/2024-10/products.json", "GET")
    assert read.headers["x-shopify-access-token"] == "shpat_1"
    assert read.query == {"limit": "250", "fields": "id,title,variants"}
    [slack] = fake_vendor.requests_to("/slack/ops", "POST")
    text = slack.json["text"]
    assert text.startswith("2 variant(s) at or below 5 in stock:")
    assert "- Mug / Red (SKU MUG-R): 2 left" in text
    assert "- Poster: 0 left" in text
    assert "Blue" not in text
    [mail] = fake_smtp.wait_for_messages(1)
    assert mail.recipients == ["buyer@shop.test"] and mail.subject == "Low stock: 2 variant(s)"
    titles = [n["title"] for n in await notifications(client, account)]
    assert "Low stock: 2 variant(s)" in titles
    assert fake_openai.completions == []


async def test_inventory_monitor_is_quiet_when_stock_is_fine(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    await store_credential(
        client, account, "shopify", {"shop_domain": "shop.test", "access_token": "shpat_1"}
    )
    agent = await deploy(
        client, account, "inventory-monitor", {"store_url": fake_vendor.url, "threshold": 0}
    )
    fake_vendor.respond("/admin/api/2024-10/products.json", Reply(200, json={"products": []}))
    run = await fire_schedule(app, client, account, agent)
    assert run["status"] == "succeeded"
    assert run["stopped_reason"] == "Every variant is above the threshold."


async def test_payment_reminder_has_stripe_resend_each_overdue_invoice(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    await store_credential(client, account, "stripe", {"secret_key": "sk_test_123"})
    agent = await deploy(
        client,
        account,
        "payment-reminder-bot",
        {"stripe_api_base": fake_vendor.url, "minimum_amount_due": 500},
    )
    fake_vendor.respond(
        "/v1/invoices",
        Reply(
            200,
            json={
                "object": "list",
                "data": [
                    {
                        "id": "in_1",
                        "number": "A-1",
                        "customer_email": "late@co.test",
                        "amount_remaining": 12000,
                        "currency": "usd",
                    },
                    {"id": "in_2", "customer": "cus_9", "amount_remaining": 100, "currency": "usd"},
                ],
            },
        ),
        method="GET",
    )
    run = await fire_schedule(app, client, account, agent)
    assert run["status"] == "succeeded", run
    [listing] = fake_vendor.requests_to("/v1/invoices", "GET")
    assert listing.headers["authorization"] == "Bearer sk_test_123"
    assert listing.query["status"] == "open"
    assert listing.query["collection_method"] == "send_invoice"
    assert listing.query["due_date[lt]"].isdigit()
    sent = [r.path for r in fake_vendor.requests if r.method == "POST"]
    assert sent == ["/v1/invoices/in_1/send"]
    titles = [n["title"] for n in await notifications(client, account)]
    assert "Reminded 1 overdue invoice(s)" in titles


async def test_health_monitor_alerts_on_a_wrong_status(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake_vendor: FakeVendorServer,
    fake_smtp: FakeSmtpServer,
) -> None:
    account = await sign_up_quietly(client, fake_smtp)
    agent = await deploy(
        client,
        account,
        "system-health-monitor",
        {
            "url": f"{fake_vendor.url}/status",
            "expect_text": "ok",
            "slack_webhook_url": f"{fake_vendor.url}/slack/oncall",
            "alert_email": "oncall@co.test",
        },
    )
    fake_vendor.respond("/status", Reply(503, body="maintenance"))
    run = await fire_schedule(app, client, account, agent)
    assert run["status"] == "succeeded", run
    assert len(fake_vendor.requests_to("/status", "GET")) == 1
    [slack] = fake_vendor.requests_to("/slack/oncall", "POST")
    assert "status 503, expected 200" in slack.json["text"]
    assert 'body lacks "ok"' in slack.json["text"]
    [mail] = fake_smtp.wait_for_messages(1)
    assert mail.subject == f"DOWN: {fake_vendor.url}/status"
    titles = [n["title"] for n in await notifications(client, account)]
    assert f"{fake_vendor.url}/status is unhealthy" in titles


async def test_health_monitor_alerts_when_the_answer_is_slower_than_the_budget(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    agent = await deploy(
        client,
        account,
        "system-health-monitor",
        {"url": f"{fake_vendor.url}/slow", "max_latency_ms": 50},
    )
    fake_vendor.respond("/slow", Reply(200, body="ok", delay=0.3))
    run = await fire_schedule(app, client, account, agent)
    assert run["status"] == "succeeded", run
    [notification] = await notifications(client, account)
    assert "ms, budget 50 ms" in str(notification["message"])
    assert "status" not in str(notification["message"])


async def test_health_monitor_is_quiet_when_healthy_with_no_extra_config(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    agent = await deploy(
        client, account, "system-health-monitor", {"url": f"{fake_vendor.url}/status"}
    )
    run = await fire_schedule(app, client, account, agent)
    assert run["status"] == "succeeded", run
    assert run["stopped_reason"] == "The endpoint is healthy."
    assert "alert" not in step_statuses(run)
    assert await notifications(client, account) == []


async def test_zapier_alternative_forwards_selected_fields_when_the_condition_matches(
    client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    agent = await deploy(
        client,
        account,
        "zapier-alternative",
        {
            "target_url": f"{fake_vendor.url}/crm/leads",
            "method": "PUT",
            "headers": {"X-Api-Key": "crm-key"},
            "include_fields": ["email", "plan"],
            "extra_fields": {"source": "webform"},
            "required_fields": ["email"],
            "match_field": "plan",
            "match_value": "pro",
        },
    )
    run = await deliver_webhook(
        client, account, agent, {"email": "x@co.test", "plan": "pro", "secret_note": "skip me"}
    )
    assert run["status"] == "succeeded", run
    [delivered] = fake_vendor.requests_to("/crm/leads", "PUT")
    assert delivered.headers["x-api-key"] == "crm-key"
    assert delivered.json == {"email": "x@co.test", "plan": "pro", "source": "webform"}

    skipped = await deliver_webhook(client, account, agent, {"email": "y@co.test", "plan": "free"})
    assert skipped["stopped_reason"] == "The payload does not match the condition."
    missing = await deliver_webhook(client, account, agent, {"plan": "pro"})
    assert missing["stopped_reason"] == "The payload is missing a required field."
    assert len(fake_vendor.requests_to("/crm/leads")) == 1


async def test_zapier_alternative_retries_a_failing_destination_until_it_answers(
    client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    agent = await deploy(
        client, account, "zapier-alternative", {"target_url": f"{fake_vendor.url}/hook"}
    )
    fake_vendor.respond("/hook", Reply(503), Reply(200, json={"ok": True}))
    run = await deliver_webhook(client, account, agent, {"order": 7, "total": 9.5})
    assert run["status"] == "succeeded", run
    assert run["auto_healed"] is True
    bodies = [r.json for r in fake_vendor.requests_to("/hook", "POST")]
    assert bodies == [{"order": 7, "total": 9.5}] * 2
