"""Support templates, end to end: a ticket or a question arrives on the agent's
webhook, the (fake) LLM answers, and the vendor or mailbox receives the result."""

from __future__ import annotations

import httpx

from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.smtp_server import FakeSmtpServer
from tests.fakes.vendor_server import FakeVendorServer
from tests.templates.agent_runs import deliver_webhook, deploy, sign_up_quietly, step_statuses
from tests.users.factories import sign_up


async def test_triager_posts_the_classified_ticket_to_its_category_channel(
    client: httpx.AsyncClient, fake_openai: FakeOpenAIServer, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    agent = await deploy(
        client,
        account,
        "customer-support-triager",
        {
            "default_webhook_url": f"{fake_vendor.url}/slack/general",
            "routes": {"billing": f"{fake_vendor.url}/slack/billing"},
        },
    )
    fake_openai.reply(
        {
            "category": "billing",
            "priority": "urgent",
            "sentiment": "negative",
            "summary": "Charged twice for the March invoice.",
        }
    )
    run = await deliver_webhook(
        client,
        account,
        agent,
        {"subject": "Double charge!", "body": "You billed me twice.", "customer_email": "ann@x.io"},
    )
    assert run["status"] == "succeeded", run
    assert step_statuses(run)["alert"] == "succeeded"
    [posted] = fake_vendor.requests_to("/slack/billing", "POST")
    assert posted.json["text"] == "[URGENT] billing: Double charge!"
    assert "Charged twice for the March invoice." in posted.json["blocks"][0]["text"]["text"]
    assert fake_vendor.requests_to("/slack/general") == []
    prompt = fake_openai.completions[0]["messages"][-1]["content"]
    assert "You billed me twice." in prompt and "billing, technical" in prompt


async def test_triager_sends_unrouted_categories_to_the_default_channel(
    client: httpx.AsyncClient, fake_openai: FakeOpenAIServer, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    agent = await deploy(
        client,
        account,
        "customer-support-triager",
        {"default_webhook_url": f"{fake_vendor.url}/slack/general"},
    )
    fake_openai.reply(
        {"category": "technical", "priority": "low", "sentiment": "neutral", "summary": "Login"}
    )
    run = await deliver_webhook(client, account, agent, {"subject": "Cannot log in", "body": "?"})
    assert run["status"] == "succeeded", run
    assert len(fake_vendor.requests_to("/slack/general", "POST")) == 1
    assert step_statuses(run)["alert"] == "skipped"


async def test_faq_responder_answers_from_the_faq_and_escalates_the_rest(
    client: httpx.AsyncClient, fake_openai: FakeOpenAIServer, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up_quietly(client, fake_smtp)
    agent = await deploy(
        client,
        account,
        "faq-responder",
        {
            "faqs": [{"question": "When are you open?", "answer": "9 to 5, Monday to Friday."}],
            "escalation_email": "support@shop.test",
            "company_name": "Shop",
        },
    )
    fake_openai.reply({"answered": True, "answer": "We are open 9 to 5.", "confidence": 0.95})
    answered = await deliver_webhook(
        client,
        account,
        agent,
        {"from": "Cal <cal@x.io>", "subject": "Hours?", "text": "When are you open?"},
    )
    assert answered["status"] == "succeeded", answered
    [reply] = fake_smtp.wait_for_messages(1)
    assert reply.recipients == ["cal@x.io"]
    assert reply.subject == "Re: Hours?"
    assert "We are open 9 to 5." in reply.text
    assert "9 to 5, Monday to Friday." in fake_openai.completions[0]["messages"][0]["content"]

    fake_smtp.reset()
    fake_openai.reply({"answered": False, "answer": "", "confidence": 0.1})
    escalated = await deliver_webhook(
        client, account, agent, {"from": "dee@x.io", "subject": "Refund", "text": "Refund me"}
    )
    assert escalated["status"] == "succeeded", escalated
    [forwarded] = fake_smtp.wait_for_messages(1)
    assert forwarded.recipients == ["support@shop.test"]
    assert "Refund me" in forwarded.text and "dee@x.io" in forwarded.text
