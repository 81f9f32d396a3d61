"""Email templates, end to end: the message arrives as the JSON an inbound-parse
webhook (SendGrid, Postmark, Mailgun) posts, and the result lands in Trello, an
accounting API or a mailbox."""

from __future__ import annotations

import httpx

from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.smtp_server import FakeSmtpServer
from tests.fakes.threaded_http import Reply
from tests.fakes.vendor_server import FakeVendorServer
from tests.templates.agent_runs import (
    deliver_webhook,
    deploy,
    sign_up_quietly,
    step_statuses,
    store_credential,
)
from tests.users.factories import sign_up

INBOUND = {
    "from": "Pat Client <pat@client.test>",
    "to": "inbox@shop.test",
    "subject": "Urgent: update the pricing page",
    "text": "Please update the pricing page before Friday.",
    "html": "<p>Please update the pricing page before Friday.</p>",
    "attachments": [],
}


async def test_gmail_trello_creates_a_card_with_the_trello_key_and_token(
    client: httpx.AsyncClient, fake_openai: FakeOpenAIServer, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    await store_credential(client, account, "trello", {"api_key": "tk-key", "token": "tk-token"})
    agent = await deploy(
        client,
        account,
        "gmail-trello-automation",
        {
            "list_id": "list-42",
            "subject_keywords": ["URGENT"],
            "label_ids": {"high": "label-red"},
            "trello_api_base": fake_vendor.url,
        },
    )
    fake_vendor.respond(
        "/1/cards", Reply(200, json={"id": "c1", "shortUrl": "https://trello.com/c/c1"})
    )
    fake_openai.reply(
        {
            "title": "Update the pricing page",
            "description": "Before Friday.",
            "priority": "high",
            "due_date": "2026-11-27",
        }
    )
    run = await deliver_webhook(client, account, agent, INBOUND)
    assert run["status"] == "succeeded", run
    [card] = fake_vendor.requests_to("/1/cards", "POST")
    assert card.query == {"idList": "list-42", "pos": "top", "key": "tk-key", "token": "tk-token"}
    assert card.json["name"] == "Update the pricing page"
    assert card.json["due"] == "2026-11-27"
    assert card.json["idLabels"] == ["label-red"]
    assert "From: Pat Client <pat@client.test>" in card.json["desc"]


async def test_gmail_trello_skips_emails_without_a_keyword(
    client: httpx.AsyncClient, fake_openai: FakeOpenAIServer, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    await store_credential(client, account, "trello", {"api_key": "k", "token": "t"})
    agent = await deploy(
        client,
        account,
        "gmail-trello-automation",
        {"list_id": "l", "subject_keywords": ["invoice"], "trello_api_base": fake_vendor.url},
    )
    run = await deliver_webhook(client, account, agent, INBOUND)
    assert run["status"] == "succeeded"
    assert run["stopped_reason"] == "The subject matches none of the configured keywords."
    assert fake_vendor.requests == [] and fake_openai.completions == []


async def test_email_assistant_drafts_to_the_reviewer_unless_auto_send_is_confident(
    client: httpx.AsyncClient, fake_openai: FakeOpenAIServer, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up_quietly(client, fake_smtp)
    config = {"reviewer_email": "owner@shop.test", "tone": "friendly", "signature": "— Shop"}
    agent = await deploy(client, account, "email-response-assistant", config)
    draft = {"subject": "Re: pricing", "body": "Done by Friday!", "confidence": 0.9}
    fake_openai.reply({**draft, "needs_human": False})
    run = await deliver_webhook(client, account, agent, INBOUND)
    assert run["status"] == "succeeded", run
    [message] = fake_smtp.wait_for_messages(1)
    assert message.recipients == ["owner@shop.test"]
    assert message.subject == "Draft reply: Urgent: update the pricing page"
    assert "Done by Friday!" in message.text and "— Shop" in message.text
    assert "friendly" in fake_openai.completions[0]["messages"][0]["content"]

    fake_smtp.reset()
    sender = await deploy(
        client, account, "email-response-assistant", {**config, "auto_send": True}
    )
    fake_openai.reply({**draft, "needs_human": False})
    sent = await deliver_webhook(client, account, sender, INBOUND)
    assert step_statuses(sent) == {
        "skip_automated": "succeeded",
        "draft": "succeeded",
        "decide": "succeeded",
        "send_reply": "succeeded",
        "send_draft": "skipped",
    }
    [reply] = fake_smtp.wait_for_messages(1)
    assert reply.recipients == ["pat@client.test"] and reply.subject == "Re: pricing"


async def test_email_assistant_ignores_no_reply_senders(
    client: httpx.AsyncClient, fake_openai: FakeOpenAIServer, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up_quietly(client, fake_smtp)
    agent = await deploy(
        client, account, "email-response-assistant", {"reviewer_email": "o@shop.test"}
    )
    run = await deliver_webhook(
        client, account, agent, {**INBOUND, "from": "No-Reply <noreply@service.test>"}
    )
    assert run["status"] == "succeeded" and run["stopped_reason"]
    assert fake_openai.completions == [] and fake_smtp.messages == []


async def test_invoice_processor_records_the_invoice_and_asks_for_approval_above_threshold(
    client: httpx.AsyncClient,
    fake_openai: FakeOpenAIServer,
    fake_vendor: FakeVendorServer,
    fake_smtp: FakeSmtpServer,
) -> None:
    account = await sign_up_quietly(client, fake_smtp)
    await store_credential(client, account, "http_bearer", {"token": "acct-token"})
    agent = await deploy(
        client,
        account,
        "invoice-email-processor",
        {
            "accounting_url": f"{fake_vendor.url}/bills",
            "approver_email": "cfo@shop.test",
            "approval_threshold": 500,
            "default_currency": "EUR",
        },
    )
    fake_openai.reply(
        {
            "is_invoice": True,
            "vendor": "Acme",
            "invoice_number": "INV-7",
            "total": 1200.5,
            "currency": None,
            "due_date": "2026-12-01",
        }
    )
    invoice_mail = {
        **INBOUND,
        "subject": "Invoice INV-7",
        "attachments": [{"filename": "inv-7.pdf", "text": "Total due 1200.50"}],
    }
    run = await deliver_webhook(client, account, agent, invoice_mail)
    assert run["status"] == "succeeded", run
    [recorded] = fake_vendor.requests_to("/bills", "POST")
    assert recorded.headers["authorization"] == "Bearer acct-token"
    assert recorded.json == {
        "vendor": "Acme",
        "invoice_number": "INV-7",
        "total": 1200.5,
        "currency": "EUR",
        "due_date": "2026-12-01",
        "source_email": "Pat Client <pat@client.test>",
        "needs_approval": True,
    }
    [approval] = fake_smtp.wait_for_messages(1)
    assert approval.recipients == ["cfo@shop.test"]
    assert "Total: 1200.5 EUR" in approval.text
    prompt = fake_openai.completions[0]["messages"][-1]["content"]
    assert "inv-7.pdf" in prompt and "Total due 1200.50" in prompt


async def test_invoice_processor_stops_on_emails_that_are_not_invoices(
    client: httpx.AsyncClient, fake_openai: FakeOpenAIServer, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    await store_credential(client, account, "http_bearer", {"token": "t"})
    agent = await deploy(
        client,
        account,
        "invoice-email-processor",
        {"accounting_url": f"{fake_vendor.url}/bills", "approver_email": "cfo@shop.test"},
    )
    fake_openai.reply(
        {
            "is_invoice": False,
            "vendor": "",
            "invoice_number": "",
            "total": 0,
            "currency": None,
            "due_date": None,
        }
    )
    run = await deliver_webhook(client, account, agent, INBOUND)
    assert run["status"] == "succeeded"
    assert run["stopped_reason"] == "The email does not contain an invoice."
    assert fake_vendor.requests == []
