"""Templates about people (hiring, team chat, customers), end to end."""

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


async def test_resume_screener_emails_the_assessment_and_acknowledges_the_candidate(
    client: httpx.AsyncClient, fake_openai: FakeOpenAIServer, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up_quietly(client, fake_smtp)
    agent = await deploy(
        client,
        account,
        "resume-screener",
        {
            "job_title": "Backend Engineer",
            "job_description": "Build Python APIs with FastAPI and PostgreSQL.",
            "required_skills": ["Python", "PostgreSQL"],
            "hiring_manager_email": "hm@co.test",
            "company_name": "Co",
        },
    )
    fake_openai.reply(
        {
            "score": 82,
            "matched_skills": ["Python", "PostgreSQL"],
            "missing_skills": ["Kubernetes"],
            "summary": "Strong backend background.",
        }
    )
    run = await deliver_webhook(
        client,
        account,
        agent,
        {"candidate_name": "Rui", "email": "rui@mail.test", "resume_text": "10 years of Python."},
    )
    assert run["status"] == "succeeded", (run["error_step"], run["error_message"])
    messages = {m.recipients[0]: m for m in fake_smtp.wait_for_messages(2)}
    assessment = messages["hm@co.test"]
    assert assessment.subject == "[ADVANCE] Rui for Backend Engineer (82/100)"
    assert "Matched skills: Python, PostgreSQL" in assessment.text
    assert "Missing skills: Kubernetes" in assessment.text
    ack = messages["rui@mail.test"]
    assert ack.subject == "Your application for Backend Engineer"
    system = fake_openai.completions[0]["messages"][0]["content"]
    assert "protected traits" in system and "Python, PostgreSQL" in system


async def test_resume_screener_without_a_resume_stops(
    client: httpx.AsyncClient, fake_openai: FakeOpenAIServer
) -> None:
    account = await sign_up(client)
    agent = await deploy(
        client,
        account,
        "resume-screener",
        {
            "job_title": "Designer",
            "job_description": "Design product screens and flows.",
            "hiring_manager_email": "hm@co.test",
        },
    )
    run = await deliver_webhook(client, account, agent, {"candidate_name": "Empty"})
    assert run["stopped_reason"] == "The application has no resume text."
    assert fake_openai.completions == []


async def test_slack_digest_reads_each_channel_and_posts_one_digest(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake_vendor: FakeVendorServer,
    fake_openai: FakeOpenAIServer,
) -> None:
    account = await sign_up(client)
    await store_credential(client, account, "http_bearer", {"token": "xoxb-bot"})
    agent = await deploy(
        client,
        account,
        "slack-digest",
        {
            "channels": ["C111", "C222"],
            "digest_webhook_url": f"{fake_vendor.url}/slack/digest",
            "top_threads": 1,
            "slack_api_base": fake_vendor.url,
        },
    )
    history = {
        "ok": True,
        "messages": [
            {"text": "Release is out", "reply_count": 7},
            {"text": "Lunch?", "reply_count": 2},
            {"text": "hello"},
        ],
    }
    fake_vendor.respond(
        "/api/conversations.history",
        Reply(200, json=history),
        Reply(200, json={"ok": False, "error": "not_in_channel"}),
    )
    run = await fire_schedule(app, client, account, agent)
    assert run["status"] == "succeeded", (run["error_step"], run["error_message"])
    reads = fake_vendor.requests_to("/api/conversations.history", "GET")
    assert [r.query["channel"] for r in reads] == ["C111", "C222"]
    assert all(r.headers["authorization"] == "Bearer xoxb-bot" for r in reads)
    assert float(reads[0].query["oldest"]) > 0
    [digest] = fake_vendor.requests_to("/slack/digest", "POST")
    text = digest.json["text"]
    assert (
        "<#C111>: 3 message(s)" in text
        and "<#C222>: 0 message(s) (could not read: not_in_channel)" in text
    )
    assert "7 replies — Release is out" in text and "Lunch?" not in text
    assert step_statuses(run)["summarize"] == "skipped"
    assert fake_openai.completions == []


async def test_churn_predictor_emails_at_risk_accounts_and_alerts_slack(
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
        "churn-predictor",
        {
            "customers_url": f"{fake_vendor.url}/customers",
            "csm_email": "csm@co.test",
            "risk_threshold": 60,
            "slack_webhook_url": f"{fake_vendor.url}/slack/cs",
        },
    )
    customers = [
        {"id": "c1", "name": "Acme", "logins_30d": 1, "open_tickets": 5},
        {"id": "c2", "name": "Globex", "logins_30d": 80, "open_tickets": 0},
    ]
    fake_vendor.respond("/customers", Reply(200, json={"customers": customers}))
    fake_openai.reply(
        {
            "assessments": [
                {"customer": "Globex", "risk": 10, "reasons": ["active"], "action": "none"},
                {"customer": "Acme", "risk": 85, "reasons": ["no logins"], "action": "Call"},
            ]
        }
    )
    run = await fire_schedule(app, client, account, agent)
    assert run["status"] == "succeeded", (run["error_step"], run["error_message"])
    assert '"name": "Acme"' in fake_openai.completions[0]["messages"][-1]["content"]
    [report] = fake_smtp.wait_for_messages(1)
    assert report.recipients == ["csm@co.test"]
    assert report.subject == "Churn risk: 1 account(s) at or above 60"
    assert "Acme — risk 85/100" in report.text and "Globex" not in report.text
    [alert] = fake_vendor.requests_to("/slack/cs", "POST")
    assert "1 account(s) at churn risk: Acme" in alert.json["text"]
