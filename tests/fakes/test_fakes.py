"""The fakes behave like the services they stand in for, over real sockets."""

from __future__ import annotations

import subprocess
import sys

import aiosmtplib
import httpx
import openai
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, example_for
from tests.fakes.smtp_server import FakeSmtpServer
from tests.fakes.threaded_http import Reply
from tests.fakes.vendor_server import FakeVendorServer


def test_vendor_records_method_path_query_headers_and_json(fake_vendor: FakeVendorServer) -> None:
    response = httpx.post(
        f"{fake_vendor.url}/hooks/abc?x=1&x=2",
        json={"text": "hi"},
        headers={"X-Token": "t"},
    )
    assert response.json() == {"ok": True}
    (request,) = fake_vendor.requests_to("/hooks/abc", "POST")
    assert request.query == {"x": "1"} and request.query_lists == {"x": ["1", "2"]}
    assert request.headers["x-token"] == "t"
    assert request.json == {"text": "hi"}


def test_vendor_records_form_bodies(fake_vendor: FakeVendorServer) -> None:
    httpx.post(f"{fake_vendor.url}/form", data={"a": "1", "b": "two"})
    assert fake_vendor.requests_to("/form")[0].form == {"a": "1", "b": "two"}


def test_vendor_plays_a_sequence_then_repeats_the_last_reply(
    fake_vendor: FakeVendorServer,
) -> None:
    fake_vendor.respond("/flaky", Reply(503), Reply(200, json={"done": True}))
    statuses = [httpx.get(f"{fake_vendor.url}/flaky").status_code for _ in range(3)]
    assert statuses == [503, 200, 200]


def test_vendor_routes_by_method_and_prefix(fake_vendor: FakeVendorServer) -> None:
    fake_vendor.respond("/api/*", Reply(404, body="nope"))
    fake_vendor.respond("/api/cards", Reply(201, json={"id": "c1"}), method="POST")
    assert httpx.post(f"{fake_vendor.url}/api/cards").status_code == 201
    assert httpx.get(f"{fake_vendor.url}/api/cards").status_code == 404
    assert httpx.get(f"{fake_vendor.url}/other").status_code == 200


def test_vendor_is_reachable_from_a_subprocess(fake_vendor: FakeVendorServer) -> None:
    code = f"import httpx; httpx.post('{fake_vendor.url}/from-child', json={{'n': 1}})"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    (request,) = fake_vendor.wait_for_requests(1, where=lambda r: r.path == "/from-child")
    assert request.json == {"n": 1}


async def test_vendor_serves_async_clients(fake_vendor: FakeVendorServer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.put(f"{fake_vendor.url}/thing", content=b"raw")
    assert response.status_code == 200
    assert fake_vendor.requests_to("/thing", "PUT")[0].body == b"raw"


def test_wait_for_requests_times_out_with_what_it_saw(fake_vendor: FakeVendorServer) -> None:
    with pytest.raises(TimeoutError, match="expected 1"):
        fake_vendor.wait_for_requests(1, timeout=0.05)


def _sdk(fake_openai: FakeOpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake_openai.base_url, api_key="k", max_retries=0)


def test_openai_default_reply_satisfies_the_json_schema(fake_openai: FakeOpenAIServer) -> None:
    schema = {
        "type": "object",
        "properties": {
            "priority": {"enum": ["high", "low"]},
            "score": {"type": "integer", "minimum": 3},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        },
        "required": ["priority", "score", "tags"],
    }
    completion = _sdk(fake_openai).chat.completions.create(  # type: ignore[call-overload]
        model="m",
        messages=[{"role": "user", "content": "classify this"}],
        response_format={"type": "json_schema", "json_schema": {"name": "out", "schema": schema}},
    )
    assert (
        completion.choices[0].message.content
        == '{"priority": "high", "score": 3, "tags": ["example"]}'
    )
    assert completion.usage is not None and completion.usage.prompt_tokens == 2
    assert fake_openai.completions[0]["model"] == "m"


def test_openai_scripted_reply_and_usage(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply({"a": 1}, prompt_tokens=11, completion_tokens=4)
    completion = _sdk(fake_openai).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}]
    )
    assert completion.choices[0].message.content == '{"a": 1}'
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.total_tokens) == (11, 15)


def test_openai_scripted_failures(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.fail(429, retry_after=2)
    fake_openai.fail(500)
    client = _sdk(fake_openai)
    messages = [{"role": "user", "content": "x"}]
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    assert limited.value.response.headers["retry-after"] == "2"
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    assert client.chat.completions.create(model="m", messages=messages).choices  # type: ignore[arg-type]


def test_openai_rejects_a_wrong_api_key(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.api_key = "right"
    with pytest.raises(openai.AuthenticationError):
        _sdk(fake_openai).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )


def test_example_for_covers_common_schema_shapes() -> None:
    assert example_for({"type": ["null", "string"], "minLength": 9}) == "examplexx"
    assert example_for({"anyOf": [{"type": "boolean"}]}) is False
    assert example_for({"type": "number", "exclusiveMinimum": 0}) == 1.0
    assert example_for({"type": "string", "format": "email"}) == "user@example.com"


async def test_smtp_receives_and_parses_messages(fake_smtp: FakeSmtpServer) -> None:
    fake_smtp.password = "pw"
    await aiosmtplib.send(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: Hello\r\n\r\nBody text\r\n",
        sender="a@example.com",
        recipients=["b@example.com"],
        hostname=fake_smtp.host,
        port=fake_smtp.port,
        username="user",
        password="pw",
        start_tls=False,
    )
    (message,) = fake_smtp.wait_for_messages(1)
    assert message.subject == "Hello"
    assert message.text.strip() == "Body text"
    assert message.recipients == ["b@example.com"]
    assert fake_smtp.logins == [("user", "pw")]


async def test_smtp_refuses_a_wrong_password(fake_smtp: FakeSmtpServer) -> None:
    fake_smtp.password = "pw"
    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        await aiosmtplib.send(
            "Subject: x\r\n\r\ny",
            sender="a@example.com",
            recipients=["b@example.com"],
            hostname=fake_smtp.host,
            port=fake_smtp.port,
            username="user",
            password="wrong",
            start_tls=False,
        )
    assert fake_smtp.messages == []
