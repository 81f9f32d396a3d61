"""A fake OpenAI-compatible chat completions server.

Point the SDK (or `OPENAI_BASE_URL`) at `fake_openai.base_url`. With nothing
scripted it answers like a cooperative model: for `response_format` json_schema
it returns the smallest JSON document valid against that schema, for
json_object `{}`, otherwise a short text echoing the last user message.

Script it per test:

    fake_openai.reply({"priority": "high"})         # next completion (dict -> JSON text)
    fake_openai.reply("plain text", prompt_tokens=7, completion_tokens=3)
    fake_openai.fail(429, retry_after=2)             # next completion fails
    fake_openai.fail(500); fake_openai.fail(401)
    fake_openai.responder = lambda body: {...}       # computes every unscripted reply

Scripted replies are used once each, in order. `completions` lists the JSON
bodies of chat completion requests received; `api_key` (when set) makes any
other bearer token a 401.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.threaded_http import RecordedRequest, Reply, ThreadedHttpServer

ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_denied", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_exceeded", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}


@dataclass
class _Scripted:
    content: Any = None
    status: int = 200
    message: str | None = None
    retry_after: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    delay: float = 0.0


def example_for(schema: dict[str, Any]) -> Any:
    """The smallest value valid against a (simple) JSON Schema."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return example_for(schema[key][0])
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: example_for(properties.get(name, {})) for name in schema.get("required", [])}
    if kind == "array":
        return [example_for(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        value = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    formats = {
        "email": "user@example.com",
        "date-time": "2026-01-01T00:00:00Z",
        "uri": "https://example.com",
    }
    text = formats.get(schema.get("format", ""), "example")
    return text.ljust(schema.get("minLength", 0), "x")


def _words(text: str) -> int:
    return len(text.split())


class FakeOpenAIServer(ThreadedHttpServer):
    def __init__(self) -> None:
        super().__init__()
        self._script: deque[_Scripted] = deque()
        self.responder: Callable[[dict[str, Any]], Any] | None = None
        self.api_key: str | None = None

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def reply(
        self,
        content: Any,
        *,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        delay: float = 0.0,
    ) -> None:
        with self._lock:
            self._script.append(
                _Scripted(
                    content=content,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    delay=delay,
                )
            )

    def fail(
        self, status: int, message: str | None = None, *, retry_after: float | None = None
    ) -> None:
        with self._lock:
            self._script.append(_Scripted(status=status, message=message, retry_after=retry_after))

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self.responder = None
            self.api_key = None

    @property
    def completions(self) -> list[dict[str, Any]]:
        return [r.json for r in self.requests if r.path.endswith("/chat/completions")]

    def respond_to(self, request: RecordedRequest) -> Reply:
        if request.method == "GET" and request.path.rstrip("/").endswith("/models"):
            return Reply(
                200, json={"object": "list", "data": [{"id": "fake-model", "object": "model"}]}
            )
        if request.method != "POST" or not request.path.endswith("/chat/completions"):
            return self._error(404, f"unknown route {request.method} {request.path}")
        if (
            self.api_key is not None
            and request.headers.get("authorization") != f"Bearer {self.api_key}"
        ):
            return self._error(401, "Incorrect API key provided")
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self._error(400, "messages is required")
        if body.get("stream"):
            return self._error(400, "the fake does not stream")
        with self._lock:
            scripted = self._script.popleft() if self._script else None
        if scripted is not None and scripted.status != 200:
            headers = {}
            if scripted.retry_after is not None:
                headers["Retry-After"] = f"{scripted.retry_after:g}"
            return self._error(scripted.status, scripted.message, headers)
        content = scripted.content if scripted is not None else self._default_content(body)
        text = content if isinstance(content, str) else json.dumps(content)
        prompt = " ".join(str(m.get("content", "")) for m in body["messages"])
        prompt_tokens = (
            _words(prompt)
            if scripted is None or scripted.prompt_tokens is None
            else scripted.prompt_tokens
        )
        completion_tokens = (
            max(_words(text), 1)
            if scripted is None or scripted.completion_tokens is None
            else scripted.completion_tokens
        )
        completion = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return Reply(200, json=completion, delay=scripted.delay if scripted else 0.0)

    def _default_content(self, body: dict[str, Any]) -> Any:
        if self.responder is not None:
            return self.responder(body)
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            return example_for(response_format.get("json_schema", {}).get("schema", {}))
        if response_format.get("type") == "json_object":
            return {}
        users = [m for m in body["messages"] if m.get("role") == "user"]
        last = str(users[-1].get("content", "")) if users else ""
        return f"fake reply to: {last[:200]}"

    def _error(
        self, status: int, message: str | None, headers: dict[str, str] | None = None
    ) -> Reply:
        kind, code = ERROR_TYPES.get(status, ("server_error", None))
        error = {
            "message": message or f"fake error {status}",
            "type": kind,
            "param": None,
            "code": code,
        }
        return Reply(status, json={"error": error}, headers=headers or {})
