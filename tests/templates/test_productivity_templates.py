"""Productivity templates, end to end: meeting minutes, expenses and reports."""

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


async def test_meeting_notes_are_emailed_to_attendees_and_posted_to_slack(
    client: httpx.AsyncClient,
    fake_openai: FakeOpenAIServer,
    fake_vendor: FakeVendorServer,
    fake_smtp: FakeSmtpServer,
) -> None:
    account = await sign_up_quietly(client, fake_smtp)
    agent = await deploy(
        client,
        account,
        "meeting-notes-summarizer",
        {"slack_webhook_url": f"{fake_vendor.url}/slack/team", "extra_recipients": ["pm@co.test"]},
    )
    fake_openai.reply(
        {
            "summary": "Agreed the Q1 roadmap.",
            "decisions": ["Ship onboarding first"],
            "action_items": [
                {"owner": "Ann", "task": "Draft the spec", "due": "2026-12-05"},
                {"owner": "Bo", "task": "Book the room", "due": None},
            ],
        }
    )
    run = await deliver_webhook(
        client,
        account,
        agent,
        {
            "title": "Roadmap sync",
            "transcript": "Ann: let's ship onboarding first. Bo: agreed.",
            "attendees": ["ann@co.test", "bo@co.test", "Guest without email"],
        },
    )
    assert run["status"] == "succeeded", run
    [minutes] = fake_smtp.wait_for_messages(1)
    assert sorted(minutes.recipients) == ["ann@co.test", "bo@co.test", "pm@co.test"]
    assert minutes.subject == "Minutes: Roadmap sync"
    assert "- Ann: Draft the spec (due 2026-12-05)" in minutes.text
    assert "- Bo: Book the room\n" in minutes.text
    assert "- Ship onboarding first" in minutes.text
    [posted] = fake_vendor.requests_to("/slack/team", "POST")
    assert "Agreed the Q1 roadmap." in posted.json["text"]


async def test_expense_is_appended_to_airtable_and_over_limit_goes_to_the_approver(
    client: httpx.AsyncClient,
    fake_openai: FakeOpenAIServer,
    fake_vendor: FakeVendorServer,
    fake_smtp: FakeSmtpServer,
) -> None:
    account = await sign_up_quietly(client, fake_smtp)
    await store_credential(client, account, "http_bearer", {"token": "airtable-pat"})
    agent = await deploy(
        client,
        account,
        "expense-report-automation",
        {
            "airtable_base_id": "appAbc123",
            "airtable_table": "Team Expenses",
            "approver_email": "boss@co.test",
            "per_expense_limit": 100,
            "airtable_api_base": fake_vendor.url,
        },
    )
    fake_openai.reply(
        {
            "is_receipt": True,
            "merchant": "Hotel Nord",
            "date": "2026-11-20",
            "amount": 240.0,
            "currency": "NOK",
            "category": "lodging",
        }
    )
    run = await deliver_webhook(
        client,
        account,
        agent,
        {"from": "emp@co.test", "subject": "Fwd: receipt", "text": "Hotel Nord 240 NOK"},
    )
    assert run["status"] == "succeeded", run
    [append] = fake_vendor.requests_to("/v0/appAbc123/Team%20Expenses", "POST")
    assert append.headers["authorization"] == "Bearer airtable-pat"
    assert append.json["records"][0]["fields"] == {
        "Merchant": "Hotel Nord",
        "Date": "2026-11-20",
        "Amount": 240.0,
        "Currency": "NOK",
        "Category": "lodging",
        "Submitted by": "emp@co.test",
        "Needs approval": True,
    }
    [approval] = fake_smtp.wait_for_messages(1)
    assert approval.recipients == ["boss@co.test"]
    assert approval.subject == "Expense over limit: Hotel Nord 240.0 NOK"


async def test_expense_under_limit_needs_no_approval(
    client: httpx.AsyncClient,
    fake_openai: FakeOpenAIServer,
    fake_vendor: FakeVendorServer,
    fake_smtp: FakeSmtpServer,
) -> None:
    account = await sign_up_quietly(client, fake_smtp)
    await store_credential(client, account, "http_bearer", {"token": "airtable-pat"})
    agent = await deploy(
        client,
        account,
        "expense-report-automation",
        {
            "airtable_base_id": "appAbc123",
            "approver_email": "boss@co.test",
            "airtable_api_base": fake_vendor.url,
        },
    )
    fake_openai.reply(
        {
            "is_receipt": True,
            "merchant": "Cafe",
            "date": None,
            "amount": 12.5,
            "currency": "EUR",
            "category": "snacks",
        }
    )
    run = await deliver_webhook(client, account, agent, {"from": "e@co.test", "text": "Cafe"})
    assert step_statuses(run)["approval"] == "skipped"
    [append] = fake_vendor.requests_to("/v0/appAbc123/Expenses", "POST")
    assert append.json["records"][0]["fields"]["Category"] == "other"
    assert fake_smtp.messages == []


async def test_report_generator_fetches_figures_and_emails_the_written_report(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake_openai: FakeOpenAIServer,
    fake_vendor: FakeVendorServer,
    fake_smtp: FakeSmtpServer,
) -> None:
    account = await sign_up_quietly(client, fake_smtp)
    agent = await deploy(
        client,
        account,
        "report-generator",
        {
            "data_url": f"{fake_vendor.url}/metrics",
            "data_headers": {"X-Api-Key": "metrics-key"},
            "recipients": ["team@co.test", "ceo@co.test"],
            "report_title": "Weekly numbers",
        },
    )
    fake_vendor.respond("/metrics", Reply(200, json={"revenue": 1234, "signups": 56}))
    fake_openai.reply("Revenue rose to 1234; signups 56.")
    run = await fire_schedule(app, client, account, agent)
    assert run["status"] == "succeeded", run
    [fetch] = fake_vendor.requests_to("/metrics", "GET")
    assert fetch.headers["x-api-key"] == "metrics-key"
    assert '"revenue": 1234' in fake_openai.completions[0]["messages"][-1]["content"]
    [report] = fake_smtp.wait_for_messages(1)
    assert sorted(report.recipients) == ["ceo@co.test", "team@co.test"]
    assert report.subject.startswith("Weekly numbers — ")
    assert "Revenue rose to 1234; signups 56." in report.text
