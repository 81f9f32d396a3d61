"""Marketing templates, end to end against a fake Buffer API and SMTP server."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.smtp_server import FakeSmtpServer
from tests.fakes.vendor_server import FakeVendorServer
from tests.templates.agent_runs import (
    deploy,
    fire_schedule,
    run_manually,
    sign_up_quietly,
    store_credential,
)
from tests.users.factories import sign_up


async def test_social_scheduler_queues_the_written_post_in_buffer_for_each_profile(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake_openai: FakeOpenAIServer,
    fake_vendor: FakeVendorServer,
) -> None:
    account = await sign_up(client)
    await store_credential(client, account, "http_bearer", {"token": "buffer-token"})
    agent = await deploy(
        client,
        account,
        "social-media-scheduler",
        {
            "topics": ["automation tips"],
            "profile_ids": ["prof-x", "prof-li"],
            "brand_voice": "cheerful",
            "max_length": 60,
            "buffer_api_base": fake_vendor.url,
        },
    )
    fake_openai.reply({"text": "Automate the boring parts. " * 5})
    run = await fire_schedule(app, client, account, agent)
    assert run["status"] == "succeeded", run
    posts = fake_vendor.requests_to("/1/updates/create.json", "POST")
    assert [p.form["profile_ids[]"] for p in posts] == ["prof-x", "prof-li"]
    assert all(p.headers["authorization"] == "Bearer buffer-token" for p in posts)
    assert posts[0].form["text"] == ("Automate the boring parts. " * 5)[:60].strip()
    request = fake_openai.completions[0]["messages"]
    assert "cheerful" in request[0]["content"] and "automation tips" in request[-1]["content"]


async def test_content_repurposer_queues_linkedin_and_emails_the_pack(
    client: httpx.AsyncClient,
    fake_openai: FakeOpenAIServer,
    fake_vendor: FakeVendorServer,
    fake_smtp: FakeSmtpServer,
) -> None:
    account = await sign_up_quietly(client, fake_smtp)
    await store_credential(client, account, "http_bearer", {"token": "buffer-token"})
    agent = await deploy(
        client,
        account,
        "content-repurposer",
        {
            "editor_email": "editor@shop.test",
            "buffer_profile_ids": ["li-1"],
            "buffer_api_base": fake_vendor.url,
        },
    )
    fake_openai.reply(
        {
            "thread": ["One: agents help.", "Two: start small."],
            "linkedin_post": "Why small teams automate first.",
            "newsletter_blurb": "This week: automation.",
        }
    )
    run = await run_manually(
        client,
        account,
        agent,
        {"title": "Automate first", "content": "Long article body.", "url": "https://b.test/a"},
    )
    assert run["status"] == "succeeded", run
    [post] = fake_vendor.requests_to("/1/updates/create.json", "POST")
    assert post.form == {
        "text": "Why small teams automate first. https://b.test/a",
        "profile_ids[]": "li-1",
    }
    [pack] = fake_smtp.wait_for_messages(1)
    assert pack.recipients == ["editor@shop.test"]
    assert pack.subject == "Content pack: Automate first"
    assert "1. One: agents help." in pack.text and "2. Two: start small." in pack.text
    assert "This week: automation." in pack.text


async def test_content_repurposer_without_content_stops_with_a_reason(
    client: httpx.AsyncClient, fake_openai: FakeOpenAIServer
) -> None:
    account = await sign_up(client)
    await store_credential(client, account, "http_bearer", {"token": "t"})
    agent = await deploy(client, account, "content-repurposer", {"editor_email": "e@shop.test"})
    run = await run_manually(client, account, agent, {"title": "Empty"})
    assert run["status"] == "succeeded"
    assert run["stopped_reason"].startswith("The run input has no content")
    assert fake_openai.completions == []
