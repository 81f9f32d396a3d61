"""`http`: call any REST integration (Slack, Trello, HubSpot, Shopify, ...).

Params: `url`, `method` (GET), `headers`, `query`, one of `json` / `form` /
`body` (raw text), `credential` (a credential kind whose `http_auth` adds
headers, query params or the URL itself, e.g. a Slack webhook), `timeout`
(seconds, default 30), `expect_status` (a status or a list; default any
2xx/3xx) and `fail_on_unreachable` (default true; false turns a connection error
or timeout into an output with status 0 and `error`, for health checks that
must report a host that is down rather than fail).

Output: ``{status, headers, json, text, elapsed_ms}`` — `json` when the response
says it is JSON, `text` capped, `elapsed_ms` from sending to the last body byte
(what a health check measures). Requests go through the shared SSRF-safe client
(`runtime.outbound`). Classification: 5xx, 429 (with Retry-After), timeouts and
connection errors are transient; 401/403 and other 4xx are permanent and carry
the status and a snippet of the body.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from botskis.credentials.kinds import CREDENTIAL_KINDS
from botskis.execution.errors import failure_for_status, failure_for_transport
from botskis.execution.outbound import (
    MAX_REDIRECTS,
    BlockedAddress,
    ResponseTooLarge,
    too_large_message,
)
from botskis.execution.steps.base import (
    StepContext,
    StepFailure,
    StepResult,
    is_template,
    missing_credential,
    unknown_params,
)

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
BODY_KEYS = ("json", "form", "body")
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 300.0

PARAMS = frozenset(
    {
        "url",
        "method",
        "headers",
        "query",
        "json",
        "form",
        "body",
        "credential",
        "timeout",
        "expect_status",
        "fail_on_unreachable",
    }
)


def _invalid(message: str) -> StepFailure:
    return StepFailure(message, kind="invalid_config")


def _string_map(value: Any, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _invalid(f"params.{name} must be a mapping")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _expected(value: Any) -> set[int] | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    try:
        return {int(v) for v in values}
    except (TypeError, ValueError):
        raise _invalid("params.expect_status must be a status code or a list of them") from None


class HttpStep:
    name = "http"

    def validate_params(self, params: Mapping[str, Any]) -> list[str]:
        problems = []
        if not params.get("url") and not params.get("credential"):
            problems.append("params.url is required (or a credential that provides it)")
        method = params.get("method", "GET")
        if not is_template(method) and str(method).upper() not in METHODS:
            problems.append(f"params.method must be one of {', '.join(sorted(METHODS))}")
        bodies = [key for key in BODY_KEYS if key in params]
        if len(bodies) > 1:
            problems.append(f"give only one of params.{', params.'.join(bodies)}")
        credential = params.get("credential")
        if credential and not is_template(credential) and credential not in CREDENTIAL_KINDS:
            problems.append(f"params.credential: unknown credential kind {credential!r}")
        for key in ("headers", "query", "form"):
            if key in params and not isinstance(params[key], Mapping | str):
                problems.append(f"params.{key} must be a mapping")
        return problems + unknown_params(params, PARAMS)

    async def run(self, params: dict[str, Any], ctx: StepContext) -> StepResult:
        method = str(params.get("method") or "GET").upper()
        if method not in METHODS:
            raise _invalid(f"unsupported HTTP method {method!r}")
        headers = _string_map(params.get("headers"), "headers")
        query = _string_map(params.get("query"), "query")
        url = params.get("url")
        kind = params.get("credential")
        secret_headers: set[str] = set()
        if kind:
            before = set(headers)
            url = await self._apply_credential(str(kind), ctx, headers, query, url)
            secret_headers = {name.lower() for name in set(headers) - before} | {"authorization"}
        if not url or not isinstance(url, str):
            raise _invalid("params.url rendered empty")
        try:
            timeout = min(float(params.get("timeout") or DEFAULT_TIMEOUT), MAX_TIMEOUT)
        except (TypeError, ValueError):
            raise _invalid("params.timeout must be a number of seconds") from None
        expected = _expected(params.get("expect_status"))
        request_args: dict[str, Any] = {"headers": headers, "params": query or None}
        if "json" in params:
            request_args["json"] = params["json"]
        elif "form" in params:
            request_args["data"] = _string_map(params["form"], "form")
        elif "body" in params:
            request_args["content"] = str(params["body"]).encode()

        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise _invalid(f"invalid URL: {exc}") from None
        service = target.host or url
        limit = ctx.settings.http_max_response_bytes
        started = time.monotonic()
        try:
            request = ctx.http.build_request(method, target, timeout=timeout, **request_args)
            response = await _send_following_redirects(ctx.http, request, secret_headers)
            try:
                content = await _read_capped(response, limit)
            finally:
                await response.aclose()
        except BlockedAddress as exc:
            raise StepFailure(str(exc), kind="blocked_address") from None
        except ResponseTooLarge as exc:
            raise StepFailure(str(exc), kind="response_too_large") from None
        except httpx.TooManyRedirects:
            raise StepFailure(f"{service} redirected too many times", kind="http_error") from None
        except httpx.TransportError as exc:
            failure = failure_for_transport(service, exc)
            if params.get("fail_on_unreachable", True) is False and failure.transient:
                return StepResult(output=_unreachable(failure, started))
            raise failure from None
        except httpx.InvalidURL as exc:
            raise _invalid(f"invalid URL: {exc}") from None

        elapsed_ms = round((time.monotonic() - started) * 1000)
        text = content.decode(response.encoding or "utf-8", errors="replace")
        status = response.status_code
        ok = status in expected if expected is not None else status < 400
        if not ok:
            if expected is not None and status < 400:
                raise StepFailure(
                    f"{service} answered {status}, expected {sorted(expected)}", kind="http_error"
                )
            raise failure_for_status(
                service, status, body=text, retry_after=response.headers.get("retry-after")
            )
        body_json = None
        if "json" in response.headers.get("content-type", "") and content:
            try:
                body_json = json.loads(text)
            except ValueError:
                body_json = None
        text_cap = max(1024, ctx.settings.step_output_max_bytes // 2)
        return StepResult(
            output={
                "status": status,
                "headers": dict(response.headers.items()),
                "json": body_json,
                "text": text[:text_cap],
                "elapsed_ms": elapsed_ms,
            }
        )

    async def _apply_credential(
        self,
        kind: str,
        ctx: StepContext,
        headers: dict[str, str],
        query: dict[str, str],
        url: Any,
    ) -> Any:
        credential_kind = CREDENTIAL_KINDS.get(kind)
        if credential_kind is None:
            raise _invalid(f"unknown credential kind {kind!r}")
        secret = await ctx.credential(kind)
        if secret is None:
            raise missing_credential(kind)
        try:
            auth = credential_kind.http_auth(secret)
        except KeyError as exc:
            raise _invalid(f"the {kind!r} credential lacks the field {exc.args[0]!r}") from None
        headers.update(auth.headers)
        query.update(auth.params)
        return url or auth.url


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


async def _send_following_redirects(
    client: httpx.AsyncClient, request: httpx.Request, secret_headers: set[str]
) -> httpx.Response:
    """Follow redirects by hand so a credential's headers never reach another
    origin (httpx itself only drops Authorization). Each hop still passes the
    outbound address checks in the transport."""
    origin = _origin(request.url)
    for _ in range(MAX_REDIRECTS + 1):
        response = await client.send(request, stream=True, follow_redirects=False)
        next_request = response.next_request
        if next_request is None:
            return response
        await response.aclose()
        if _origin(next_request.url) != origin:
            for name in secret_headers:
                next_request.headers.pop(name, None)
        request = next_request
    raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", request=request)


def _unreachable(failure: StepFailure, started: float) -> dict[str, Any]:
    return {
        "status": 0,
        "headers": {},
        "json": None,
        "text": "",
        "elapsed_ms": round((time.monotonic() - started) * 1000),
        "error": failure.message,
    }


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """The decoded body, refusing more than `limit` bytes (also after decompression)."""
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.aiter_bytes():
        received += len(chunk)
        if received > limit:
            raise ResponseTooLarge(too_large_message(response.request.url.host, limit))
        chunks.append(chunk)
    return b"".join(chunks)
