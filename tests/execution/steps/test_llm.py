"""The llm step against the fake OpenAI-compatible server: text and JSON output,
schema validation, token usage, which server is used, and failure classes."""

from __future__ import annotations

from typing import Any

import pytest

from botskis.execution.steps import StepFailure, StepResult, execute_step
from botskis.execution.workflow import Step
from tests.execution.steps.conftest import ContextFactory, Harness, step_settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.live_server import free_port

SCHEMA = {
    "type": "object",
    "properties": {
        "priority": {"enum": ["high", "low"]},
        "summary": {"type": "string"},
    },
    "required": ["priority", "summary"],
}


async def call(harness: Harness, **params: Any) -> StepResult:
    return await execute_step(Step(id="ask", kind="llm", params=params), harness.ctx)


async def fail(harness: Harness, **params: Any) -> StepFailure:
    with pytest.raises(StepFailure) as failure:
        await call(harness, **params)
    return failure.value


async def test_text_reply_with_server_defaults_and_token_usage(
    make_context: ContextFactory, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.reply("Thanks for writing!", prompt_tokens=12, completion_tokens=4)
    harness = make_context(variables={"input": {"body": "my order is late"}})
    result = await call(
        harness, system="You answer support mail.", prompt="Reply to: {{ input.body }}"
    )
    assert result.output == "Thanks for writing!"
    assert result.tokens == 16
    assert result.usage == {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}
    (sent,) = fake_openai.completions
    assert sent["model"] == "server-model"
    assert sent["messages"] == [
        {"role": "system", "content": "You answer support mail."},
        {"role": "user", "content": "Reply to: my order is late"},
    ]
    assert "response_format" not in sent
    assert fake_openai.requests[0].headers["authorization"] == "Bearer server-key"


async def test_json_output_valid_against_the_schema(
    make_context: ContextFactory, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.reply({"priority": "high", "summary": "late order"})
    result = await call(make_context(), prompt="classify", schema=SCHEMA)
    assert result.output == {"priority": "high", "summary": "late order"}
    response_format = fake_openai.completions[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["schema"] == SCHEMA


async def test_json_output_failing_the_schema_is_permanent(
    make_context: ContextFactory, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.reply({"priority": "urgent", "summary": "x"})
    failure = await fail(make_context(), prompt="classify", schema=SCHEMA)
    assert failure.kind == "schema" and not failure.transient
    assert "priority" in failure.message and "urgent" in failure.message


async def test_output_that_is_not_json_is_permanent(
    make_context: ContextFactory, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.reply("Sure! Here it is: priority high")
    failure = await fail(make_context(), prompt="classify", output="json")
    assert failure.kind == "schema" and "not valid JSON" in failure.message


async def test_json_mode_without_schema_uses_json_object(
    make_context: ContextFactory, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.reply('```json\n{"a": 1}\n```')
    result = await call(make_context(), prompt="give json", output="json")
    assert result.output == {"a": 1}
    sent = fake_openai.completions[0]
    assert sent["response_format"] == {"type": "json_object"}
    assert any("JSON" in m["content"] for m in sent["messages"] if m["role"] == "system")


async def test_messages_model_and_sampling_params_are_passed(
    make_context: ContextFactory, fake_openai: FakeOpenAIServer
) -> None:
    await call(
        make_context(),
        messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": {"data": [1]}},
        ],
        model="other-model",
        temperature=0.2,
        max_tokens=50,
    )
    sent = fake_openai.completions[0]
    assert sent["model"] == "other-model"
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 50
    assert sent["messages"][2] == {"role": "user", "content": '{"data": [1]}'}


async def test_500_is_transient(
    make_context: ContextFactory, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.fail(500, "boom")
    failure = await fail(make_context(), prompt="x")
    assert failure.transient and failure.kind == "upstream_error" and "500" in failure.message


async def test_429_is_transient_with_retry_after(
    make_context: ContextFactory, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.fail(429, "slow down", retry_after=3)
    failure = await fail(make_context(), prompt="x")
    assert failure.transient and failure.kind == "rate_limited" and failure.retry_after == 3.0
    assert len(fake_openai.completions) == 1  # the SDK itself does not retry


async def test_401_is_permanent(
    make_context: ContextFactory, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.fail(401, "Incorrect API key provided")
    failure = await fail(make_context(), prompt="x")
    assert not failure.transient and failure.kind == "auth"
    assert "Incorrect API key" in failure.message


async def test_unreachable_llm_server_is_transient(make_context: ContextFactory) -> None:
    harness = make_context(
        settings=step_settings(openai_base_url=f"http://127.0.0.1:{free_port()}/v1")
    )
    failure = await fail(harness, prompt="x")
    assert failure.transient and failure.kind == "connection"


async def test_the_users_openai_credential_wins_over_server_defaults(
    make_context: ContextFactory, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.api_key = "user-key"
    harness = make_context(
        credentials={
            "openai": {"api_key": "user-key", "base_url": fake_openai.base_url, "model": "mine"}
        }
    )
    result = await call(harness, prompt="x")
    assert isinstance(result.output, str)
    assert fake_openai.completions[0]["model"] == "mine"
    assert fake_openai.requests[0].headers["authorization"] == "Bearer user-key"


async def test_a_credential_base_url_on_a_private_network_is_refused(
    make_context: ContextFactory, fake_openai: FakeOpenAIServer
) -> None:
    harness = make_context(
        settings=step_settings(http_allowlist="", openai_base_url=fake_openai.base_url),
        credentials={"openai": {"api_key": "k", "base_url": fake_openai.base_url}},
    )
    failure = await fail(harness, prompt="x")
    assert failure.kind == "blocked_address" and not failure.transient
    assert fake_openai.requests == []


async def test_no_llm_configured_is_a_missing_credential(
    make_context: ContextFactory,
) -> None:
    failure = await fail(make_context(settings=step_settings()), prompt="x")
    assert failure.kind == "missing_credential" and not failure.transient
    assert "openai" in failure.message and "OPENAI_API_KEY" in failure.message


async def test_foreach_sums_token_usage(
    make_context: ContextFactory, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.reply("a", prompt_tokens=10, completion_tokens=1)
    fake_openai.reply("b", prompt_tokens=20, completion_tokens=2)
    harness = make_context(variables={"input": {"mails": ["m1", "m2"]}})
    result = await execute_step(
        Step(id="ask", kind="llm", params={"prompt": "{{ item }}"}, foreach="input.mails"),
        harness.ctx,
    )
    assert result.output == ["a", "b"]
    assert result.tokens == 33
    assert result.usage == {"prompt_tokens": 30, "completion_tokens": 3, "total_tokens": 33}
    assert [c["messages"][-1]["content"] for c in fake_openai.completions] == ["m1", "m2"]


async def test_a_rendered_bad_role_is_a_config_error(make_context: ContextFactory) -> None:
    failure = await fail(make_context(), messages=[{"role": "robot", "content": "x"}])
    assert failure.kind == "invalid_config"
