"""`llm`: one chat completion through the official `openai` SDK.

Params: `prompt` (or `messages`, a list of {role, content}), `system`, `model`,
`temperature`, `max_tokens`, and for structured output either `schema` (a JSON
Schema; sent as response_format json_schema and validated here) or
`output: json` (json_object mode). Without them the output is the reply text.

Which server: the owner's `openai` credential (api_key, base_url?, model?) when
they have one — its base_url is user-controlled, so those requests go through
the SSRF-safe client — otherwise the operator's OPENAI_BASE_URL / OPENAI_API_KEY
/ OPENAI_MODEL. The SDK never retries (max_retries=0): the run engine does.

Failures: 429 (with Retry-After), 5xx, timeouts and connection errors are
transient; 401/403, other 4xx, no configured LLM and output that is not valid
JSON or fails the schema are permanent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jsonschema
import openai
from openai import AsyncOpenAI

from botskis.execution.errors import failure_for_status
from botskis.execution.outbound import BlockedAddress, ResponseTooLarge, create_llm_http_client
from botskis.execution.steps.base import (
    StepContext,
    StepFailure,
    StepResult,
    is_template,
    missing_credential,
    require,
    unknown_params,
)

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT = 120.0
ROLES = frozenset({"system", "developer", "user", "assistant"})
JSON_HINT = "Answer with a single JSON object and nothing else."
SERVICE = "the LLM server"

PARAMS = frozenset(
    {"prompt", "messages", "system", "model", "temperature", "max_tokens", "schema", "output"}
)


def _invalid(message: str) -> StepFailure:
    return StepFailure(message, kind="invalid_config")


def _messages(params: Mapping[str, Any], wants_json: bool) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    system = params.get("system")
    if system:
        messages.append({"role": "system", "content": str(system)})
    if wants_json:
        messages.append({"role": "system", "content": JSON_HINT})
    given = params.get("messages")
    if given is not None:
        if not isinstance(given, list):
            raise _invalid("params.messages must be a list of {role, content}")
        for message in given:
            if not isinstance(message, Mapping) or message.get("role") not in ROLES:
                raise _invalid("each of params.messages needs a role of " + ", ".join(ROLES))
            content = message.get("content")
            text = content if isinstance(content, str) else json.dumps(content, default=str)
            messages.append({"role": str(message["role"]), "content": text})
    prompt = params.get("prompt")
    if prompt is not None:
        text = prompt if isinstance(prompt, str) else json.dumps(prompt, default=str)
        messages.append({"role": "user", "content": text})
    if not any(m["role"] == "user" for m in messages):
        raise _invalid("the llm step has no prompt")
    return messages


def _failure_for_sdk_error(exc: openai.OpenAIError) -> StepFailure:
    if isinstance(exc, openai.APIStatusError):
        return failure_for_status(
            SERVICE,
            exc.status_code,
            body=str(exc.message),
            retry_after=exc.response.headers.get("retry-after"),
        )
    if isinstance(exc, openai.APITimeoutError):
        return StepFailure(f"{SERVICE} did not answer in time", kind="timeout", transient=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        if isinstance(cause, BlockedAddress):
            return StepFailure(str(cause), kind="blocked_address")
        if isinstance(cause, ResponseTooLarge):
            return StepFailure(str(cause), kind="response_too_large")
        detail = f": {cause}" if cause is not None and str(cause) else ""
        return StepFailure(f"cannot reach {SERVICE}{detail}", kind="connection", transient=True)
    return StepFailure(f"{SERVICE} failed: {exc}", kind="llm_error")


class LlmStep:
    name = "llm"

    def validate_params(self, params: Mapping[str, Any]) -> list[str]:
        problems = []
        if params.get("prompt") in (None, "") and not params.get("messages"):
            problems.extend(require(params, "prompt"))
        schema = params.get("schema")
        if schema is not None and not is_template(schema):
            if not isinstance(schema, Mapping):
                problems.append("params.schema must be a JSON Schema object")
            else:
                try:
                    jsonschema.Draft202012Validator.check_schema(schema)
                except jsonschema.SchemaError as exc:
                    problems.append(f"params.schema is not a valid JSON Schema: {exc.message}")
        output = params.get("output", "text")
        if not is_template(output) and output not in ("text", "json"):
            problems.append("params.output must be text or json")
        return problems + unknown_params(params, PARAMS)

    async def run(self, params: dict[str, Any], ctx: StepContext) -> StepResult:
        schema = params.get("schema")
        if schema is not None and not isinstance(schema, Mapping):
            raise _invalid("params.schema must be a JSON Schema object")
        wants_json = schema is not None or params.get("output") == "json"
        messages = _messages(params, wants_json)

        request: dict[str, Any] = {"messages": messages}
        if schema is not None:
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "step_output", "schema": dict(schema), "strict": False},
            }
        elif wants_json:
            request["response_format"] = {"type": "json_object"}
        for key in ("temperature", "max_tokens"):
            if params.get(key) is not None:
                request[key] = params[key]

        secret = await ctx.credential("openai")
        settings = ctx.settings
        if secret is not None:
            if not secret.get("api_key"):
                raise _invalid("the 'openai' credential has no api_key")
            client = AsyncOpenAI(
                api_key=str(secret["api_key"]),
                base_url=str(secret.get("base_url") or OPENAI_DEFAULT_BASE_URL),
                max_retries=0,
                timeout=DEFAULT_TIMEOUT,
                http_client=create_llm_http_client(settings),
            )
            model = params.get("model") or secret.get("model") or settings.openai_model
        elif settings.default_llm_configured:
            client = AsyncOpenAI(
                api_key=settings.openai_api_key or "not-needed",
                base_url=settings.openai_base_url or OPENAI_DEFAULT_BASE_URL,
                max_retries=0,
                timeout=DEFAULT_TIMEOUT,
            )
            model = params.get("model") or settings.openai_model
        else:
            raise missing_credential(
                "openai", "(or the operator sets OPENAI_API_KEY / OPENAI_BASE_URL)"
            )

        try:
            completion = await client.chat.completions.create(model=str(model), **request)
        except openai.OpenAIError as exc:
            raise _failure_for_sdk_error(exc) from None
        finally:
            await client.close()

        usage = None
        if completion.usage is not None:
            usage = {
                "prompt_tokens": completion.usage.prompt_tokens,
                "completion_tokens": completion.usage.completion_tokens,
                "total_tokens": completion.usage.total_tokens,
            }
        tokens = usage["total_tokens"] if usage else None
        if not completion.choices or completion.choices[0].message.content is None:
            refusal = completion.choices[0].message.refusal if completion.choices else None
            raise StepFailure(
                f"{SERVICE} returned no content" + (f": {refusal}" if refusal else ""),
                kind="llm_error",
            )
        text = completion.choices[0].message.content
        if not wants_json:
            return StepResult(output=text, tokens=tokens, usage=usage)
        output = _parse_json(text)
        if schema is not None:
            validator = jsonschema.Draft202012Validator(dict(schema))
            error = jsonschema.exceptions.best_match(validator.iter_errors(output))
            if error is not None:
                where = "/".join(str(p) for p in error.absolute_path) or "(root)"
                raise StepFailure(
                    f"LLM output does not match the step's schema at {where}: {error.message}",
                    kind="schema",
                )
        return StepResult(output=output, tokens=tokens, usage=usage)


def _parse_json(text: str) -> Any:
    cleaned = text.strip()
    if cleaned.startswith("```"):
        cleaned = cleaned.strip("`").removeprefix("json").strip()
    try:
        return json.loads(cleaned)
    except ValueError:
        shown = text if len(text) <= 200 else text[:200] + "..."
        raise StepFailure(f"LLM output is not valid JSON: {shown!r}", kind="schema") from None
