"""Sales templates, end to end against fake HubSpot, Cal.com, Slack and SMTP."""

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
from tests.users.factories import sign_up

LEAD = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@engines.test",
    "company": "Engines Ltd",
    "message": "We need automation for 40 support agents.",
}


async def test_lead_bot_scores_creates_the_hubspot_contact_and_alerts_slack_for_hot_leads(
    client: httpx.AsyncClient, fake_openai: FakeOpenAIServer, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    await store_credential(client, account, "hubspot", {"access_token": "hs-token"})
    agent = await deploy(
        client,
        account,
        "lead-qualification-bot",
        {
            "ideal_customer_profile": "B2B SaaS companies with 20+ support agents",
            "slack_webhook_url": f"{fake_vendor.url}/slack/sales",
            "hubspot_api_base": fake_vendor.url,
        },
    )
    fake_openai.reply({"score": 88, "reasons": ["team size", "clear need"], "next_action": "Call"})
    run = await deliver_webhook(client, account, agent, LEAD)
    assert run["status"] == "succeeded", run
    [contact] = fake_vendor.requests_to("/crm/v3/objects/contacts", "POST")
    assert contact.headers["authorization"] == "Bearer hs-token"
    assert contact.json["properties"] == {
        "email": "ada@engines.test",
        "firstname": "Ada",
        "lastname": "Lovelace",
        "company": "Engines Ltd",
        "phone": "",
        "hs_lead_status": "IN_PROGRESS",
        "lifecyclestage": "salesqualifiedlead",
    }
    [alert] = fake_vendor.requests_to("/slack/sales", "POST")
    assert "Hot lead (88/100): Ada Lovelace at Engines Ltd" in alert.json["text"]
    assert "team size; clear need" in alert.json["text"]
    assert "40 support agents" in fake_openai.completions[0]["messages"][-1]["content"]


async def test_lead_bot_does_not_alert_for_cold_leads_and_tolerates_a_known_contact(
    client: httpx.AsyncClient, fake_openai: FakeOpenAIServer, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    await store_credential(client, account, "hubspot", {"access_token": "hs-token"})
    agent = await deploy(
        client,
        account,
        "lead-qualification-bot",
        {
            "ideal_customer_profile": "B2B SaaS companies with 20+ support agents",
            "slack_webhook_url": f"{fake_vendor.url}/slack/sales",
            "hubspot_api_base": fake_vendor.url,
        },
    )
    fake_openai.reply({"score": 10, "reasons": ["student"], "next_action": "Nurture"})
    fake_vendor.respond(
        "/crm/v3/objects/contacts", Reply(409, json={"message": "Contact already exists"})
    )
    run = await deliver_webhook(client, account, agent, LEAD)
    assert run["status"] == "succeeded", run
    assert step_statuses(run)["slack_alert"] == "skipped"
    [contact] = fake_vendor.requests_to("/crm/v3/objects/contacts", "POST")
    assert contact.json["properties"]["lifecyclestage"] == "lead"
    assert fake_vendor.requests_to("/slack/sales") == []


async def test_sales_follow_up_emails_quiet_contacts_and_logs_notes_in_hubspot(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake_openai: FakeOpenAIServer,
    fake_vendor: FakeVendorServer,
    fake_smtp: FakeSmtpServer,
) -> None:
    account = await sign_up_quietly(client, fake_smtp)
    await store_credential(client, account, "hubspot", {"access_token": "hs-token"})
    agent = await deploy(
        client,
        account,
        "sales-follow-up-automation",
        {
            "sender_name": "Sam",
            "offer": "Automation agents for small teams",
            "inactive_days": 14,
            "hubspot_api_base": fake_vendor.url,
        },
    )
    fake_vendor.respond(
        "/crm/v3/objects/contacts/search",
        Reply(
            200,
            json={
                "results": [
                    {"id": "101", "properties": {"email": "a@x.test", "firstname": "Al"}},
                    {"id": "102", "properties": {"email": None, "firstname": "Nomail"}},
                    {"id": "103", "properties": {"email": "b@x.test", "firstname": "Bo"}},
                ]
            },
        ),
    )
    fake_openai.reply({"subject": "Still keen, Al?", "body": "Hi Al, ..."})
    fake_openai.reply({"subject": "Quick question, Bo", "body": "Hi Bo, ..."})
    run = await fire_schedule(app, client, account, agent)
    assert run["status"] == "succeeded", run

    [search] = fake_vendor.requests_to("/crm/v3/objects/contacts/search", "POST")
    assert search.headers["authorization"] == "Bearer hs-token"
    cutoff = search.json["filterGroups"][0]["filters"][0]
    assert cutoff["propertyName"] == "notes_last_updated" and cutoff["operator"] == "LT"
    assert isinstance(cutoff["value"], int) and search.json["limit"] == 10

    messages = fake_smtp.wait_for_messages(2)
    assert sorted((m.recipients[0], m.subject) for m in messages) == [
        ("a@x.test", "Still keen, Al?"),
        ("b@x.test", "Quick question, Bo"),
    ]
    notes = fake_vendor.requests_to("/crm/v3/objects/notes", "POST")
    assert [n.json["associations"][0]["to"]["id"] for n in notes] == ["101", "103"]
    assert notes[0].json["properties"]["hs_note_body"].endswith("Still keen, Al?")


async def test_sales_follow_up_stops_when_nobody_is_quiet(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    await store_credential(client, account, "hubspot", {"access_token": "hs-token"})
    agent = await deploy(
        client,
        account,
        "sales-follow-up-automation",
        {"sender_name": "Sam", "offer": "Agents", "hubspot_api_base": fake_vendor.url},
    )
    fake_vendor.respond("/crm/v3/objects/contacts/search", Reply(200, json={"results": []}))
    run = await fire_schedule(app, client, account, agent)
    assert run["status"] == "succeeded"
    assert run["stopped_reason"] == "No contact has been quiet long enough."


async def test_meeting_scheduler_replies_with_free_calcom_slots(
    client: httpx.AsyncClient,
    fake_openai: FakeOpenAIServer,
    fake_vendor: FakeVendorServer,
    fake_smtp: FakeSmtpServer,
) -> None:
    account = await sign_up_quietly(client, fake_smtp)
    await store_credential(client, account, "http_bearer", {"token": "cal-key"})
    agent = await deploy(
        client,
        account,
        "meeting-scheduler",
        {
            "event_type_id": 77,
            "booking_url": "https://cal.com/sam/30min",
            "your_name": "Sam",
            "timezone": "Europe/Oslo",
            "slots_to_offer": 2,
            "calcom_api_base": fake_vendor.url,
        },
    )
    fake_vendor.respond(
        "/v2/slots",
        Reply(
            200,
            json={
                "status": "success",
                "data": {
                    "2026-12-02": [{"start": "2026-12-02T13:00:00+01:00"}],
                    "2026-12-01": [
                        {"start": "2026-12-01T09:00:00+01:00"},
                        {"start": "2026-12-01T10:00:00+01:00"},
                    ],
                },
            },
        ),
    )
    fake_openai.reply({"wants_meeting": True, "topic": "a demo", "requester_name": "Kim"})
    run = await deliver_webhook(
        client,
        account,
        agent,
        {"from": "Kim <kim@co.test>", "subject": "Demo?", "text": "Can we meet next week?"},
    )
    assert run["status"] == "succeeded", run
    [lookup] = fake_vendor.requests_to("/v2/slots", "GET")
    assert lookup.headers["authorization"] == "Bearer cal-key"
    assert lookup.query["eventTypeId"] == "77" and lookup.query["timeZone"] == "Europe/Oslo"
    assert lookup.query["start"] < lookup.query["end"]
    [reply] = fake_smtp.wait_for_messages(1)
    assert reply.recipients == ["kim@co.test"] and reply.subject == "Re: Demo?"
    assert "2026-12-01T09:00:00+01:00" in reply.text
    assert "2026-12-01T10:00:00+01:00" in reply.text
    assert "2026-12-02T13:00:00+01:00" not in reply.text
    assert "https://cal.com/sam/30min" in reply.text and "Hi Kim" in reply.text
