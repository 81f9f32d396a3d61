"""The edge every request passes through, as pure ASGI middleware (no per-request
task or body copy, unlike BaseHTTPMiddleware).

Order, outermost first (`install_middleware` adds them in this order):

1. RequestIdMiddleware       request id and client IP in scope state; X-Request-ID on
                             every response; every log line of the request carries the id
2. AccessLogMiddleware       one log line and the Prometheus metrics per request
3. SecurityHeadersMiddleware nosniff, frame DENY, CSP, HSTS, ... on every response
4. RateLimitMiddleware       RATE_LIMIT_DEFAULT per client IP; X-RateLimit-* headers
5. CORSMiddleware            (Starlette) only when CORS_ORIGINS is set
6. BodyGuardMiddleware       MAX_BODY_BYTES (a route may declare `max_body_size=`),
                             NUL characters refused at the edge
then Starlette's ExceptionMiddleware, which turns errors into problem+json, and the
unexpected-error catch of UnexpectedErrorMiddleware right inside it.

WebSocket and lifespan scopes pass through every layer; only the request id, the
access log and the per-IP rate limit apply to a WebSocket handshake.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from loguru import logger
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import (
    _BODY_LIMIT_RESPONDER_SCOPE_KEY,
    MAX_BODY_SIZE_SCOPE_KEY,
    RequestBodyLimitResponder,
    _RequestBodyLimitResponseSent,
    _RequestBodyTooLarge,
)
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from botskis.api.docs import DOCS_PAGES
from botskis.config import Settings
from botskis.core import metrics
from botskis.core.errors import PROBLEM_JSON, unexpected_error_response
from botskis.core.logging import request_id_var
from botskis.core.ratelimit import ClientAddress, RateLimiter, RateLimitResult, record_result

REQUEST_ID_HEADER = b"x-request-id"
WEBSOCKET_SEND_KEY = "websocket_send"
_SAFE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
# Query parameters whose values never reach a log line.
REDACTED_PARAMS = frozenset(
    {"token", "access_token", "refresh_token", "api_key", "apikey", "key", "password", "secret"}
)
METRIC_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "WS"}
)
# Paths outside the per-IP limit: probes and scrapers must never be throttled.
UNLIMITED_PATHS = frozenset({"/health", "/ready", "/metrics"})


def problem_body(scope: Scope, status: int, detail: str, **extra: Any) -> bytes:
    """A problem+json body for responses sent by middleware, outside the handlers."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "request_id": scope.get("state", {}).get("request_id"),
        **extra,
    }
    return json.dumps(body, separators=(",", ":")).encode()


async def send_problem(
    scope: Scope,
    send: Send,
    status: int,
    detail: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    body = problem_body(scope, status, detail)
    raw = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _has_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bool:
    """`name` (lower case) among the headers; a loop, since `any` over a generator
    costs a frame per header and these run on every response."""
    for key, _ in headers:  # noqa: SIM110
        if key.lower() == name:
            return True
    return False


def loggable_url(scope: Scope) -> str:
    """The path with its query, secret-looking parameters redacted."""
    path: str = scope.get("path", "")
    query: bytes = scope.get("query_string", b"")
    if not query:
        return path
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    safe = [(k, "[redacted]" if k.lower() in REDACTED_PARAMS else v) for k, v in pairs]
    return f"{path}?{urlencode(safe)}"


class RequestIdMiddleware:
    """Accepts a sane incoming X-Request-ID or makes one; resolves the client IP once."""

    def __init__(self, app: ASGIApp, client_address: ClientAddress) -> None:
        self.app = app
        self.client_address = client_address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER:
                if _SAFE_REQUEST_ID.match(value):
                    request_id = value.decode()
                break
        if request_id is None:
            request_id = os.urandom(16).hex()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_ip"] = self.client_address(scope)
        if scope["type"] == "websocket":
            # The server's own send, for the socket's data frames after the
            # handshake (api/websocket.py): no layer below this one acts on them.
            state[WEBSOCKET_SEND_KEY] = send
        header = (REQUEST_ID_HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = request_id_var.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class RouteTemplates:
    """The full path template of the matched route (`/api/v1/agents/{agent_id}`):
    routers added with `include_router` (health, WebSocket) stay nested, so such a
    route's own `path` lacks their prefixes."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.paths: dict[int, str] = {}

    def of(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            # Static Starlette routes (/openapi.json, /docs) set only the endpoint;
            # anything else never matched, and its raw path must not become a label.
            return str(scope["path"]) if "endpoint" in scope else "<unmatched>"
        path = self.paths.get(id(route))
        if path is None:
            self.paths = {
                id(context.original_route): context.path
                for context in iter_route_contexts(self.app.routes)
                if context.path
            }
            path = self.paths.setdefault(id(route), getattr(route, "path", "<unmatched>"))
        return path


class AccessLogMiddleware:
    """One line per request (method, path, status, duration, client IP) and the
    request metrics, labelled by route template so ids do not explode cardinality."""

    def __init__(self, app: ASGIApp, templates: RouteTemplates) -> None:
        self.app = app
        self.templates = templates
        # Labelled metric children, looked up once per (method, route, status).
        self.series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500 if scope["type"] == "http" else 101

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "websocket.close" and status == 101:
                status = 403
            await send(message)

        method = scope.get("method", "WS")
        # Any token is a valid HTTP method: unknown ones share one label, so a client
        # cannot mint new metric series (or entries in `self.series`) at will.
        label = method if method in METRIC_METHODS else "OTHER"
        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_and_record)
        finally:
            metrics.IN_FLIGHT.dec()
            duration = time.perf_counter() - start
            template = self.templates.of(scope)
            series = self.series.get((label, template, status))
            if series is None:
                series = (
                    metrics.REQUESTS.labels(label, template, str(status)),
                    metrics.LATENCY.labels(label, template),
                )
                self.series[(label, template, status)] = series
            series[0].inc()
            series[1].observe(duration)
            _log_request(scope, method, status, duration)


# Bound once: `bind` builds a new logger object, and this line is written per request.
_access_logger = logger.bind(access=True)


def _log_request(scope: Scope, method: str, status: int, duration: float) -> None:
    # Its own small function: loguru records the caller's line number, and finding
    # it walks the calling function's line table, which for a long one costs more
    # than the rest of this call. Keyword arguments land in the record's `extra`
    # like bound ones (the message has no braces for them to fill).
    _access_logger.info(
        "request",
        method=method,
        path=loggable_url(scope),
        status=status,
        duration_ms=round(duration * 1000, 2),
        client_ip=scope.get("state", {}).get("client_ip"),
    )


NO_STORE = (b"cache-control", b"no-store")
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# /docs (Swagger UI) and /redoc load their bundles from this origin (api/docs.py);
# their inline scripts are allowed by hash, computed from the page itself. Both
# bundles set inline styles, and ReDoc starts its search index in a blob: worker.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:; img-src 'self' data:; connect-src 'self'; "
    "worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_csp(html: bytes) -> str:
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    ]
    return DOCS_CSP.format(scripts="".join(" " + h for h in hashes))


class SecurityHeadersMiddleware:
    """The same hardening headers on every HTTP response, errors included."""

    def __init__(self, app: ASGIApp, settings: Settings, docs_paths: Iterable[str]) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"x-xss-protection", settings.x_xss_protection.encode()),
            (b"referrer-policy", b"no-referrer"),
            (
                b"permissions-policy",
                b"accelerometer=(), camera=(), geolocation=(), gyroscope=(), "
                b"magnetometer=(), microphone=(), payment=(), usb=(), interest-cohort=()",
            ),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if settings.hsts:
            headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        self.headers = headers
        self.api_csp = (b"content-security-policy", API_CSP.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in self.docs_paths:
            await self._docs_page(scope, receive, send)
            return
        # A bearer token or a session cookie: the response may be private.
        authenticated = _has_header(scope["headers"], b"authorization") or _has_header(
            scope["headers"], b"cookie"
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = message.get("headers", ())
                headers = [*own, *self.headers]
                # The dashboard's pages bring their own policy (api/dashboard.py).
                if not _has_header(own, b"content-security-policy"):
                    headers.append(self.api_csp)
                # Only the response's own headers can carry a Cache-Control already.
                if authenticated and not _has_header(own, b"cache-control"):
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs_page(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hold the small docs page back to hash its inline scripts into the CSP."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                assert start is not None
                body = b"".join(chunks)
                headers = [
                    *(h for h in start.get("headers", ()) if h[0].lower() != b"content-length"),
                    *self.headers,
                    (b"content-security-policy", docs_csp(body).encode()),
                    (b"content-length", str(len(body)).encode()),
                ]
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, buffer)


class RateLimitMiddleware:
    """RATE_LIMIT_DEFAULT per client IP; X-RateLimit-* of the tightest limit that the
    request met (this one or one a route enforced) on the response."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, default_limit: str) -> None:
        self.app = app
        self.limiter = limiter
        self.default_limit = default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        state = scope["state"]
        result = await self.limiter.hit(self.default_limit, "ip", state["client_ip"])
        if result is not None:
            record_result(state, result)
            if not result.allowed:
                self.limiter.rejected("ip", state["client_ip"], result)
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await send_problem(
                    scope,
                    send,
                    429,
                    f"Rate limit exceeded; retry in {result.retry_after} s",
                    [(k.encode(), v.encode()) for k, v in result.headers(rejected=True).items()],
                )
                return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                tightest: RateLimitResult | None = state.get("rate_limit")
                if tightest is not None:
                    own = message.get("headers", ())
                    if not _has_header(own, b"x-ratelimit-limit"):
                        message["headers"] = [*own, *tightest.raw_headers()]
            await send(message)

        await self.app(scope, receive, send_with_limits)


_JSON_NUL = b"\\u0000"
_FORM_NUL = b"%00"


def _has_json_nul(data: bytes) -> bool:
    """A \\u0000 escape that is not itself an escaped backslash followed by text."""
    index = data.find(_JSON_NUL)
    while index != -1:
        start = index
        while start > 0 and data[start - 1] == 0x5C:
            start -= 1
        if (index - start) % 2 == 0:
            return True
        index = data.find(_JSON_NUL, index + 1)
    return False


class NulCharacters(HTTPException):
    """PostgreSQL cannot store NUL in text; refusing it here makes it a 4xx everywhere."""

    def __init__(self) -> None:
        super().__init__(status_code=422, detail="NUL characters are not allowed in text")


class _BodyGuard(RequestBodyLimitResponder):
    """Starlette's body limiter (a route's `max_body_size=` adjusts the same counter),
    answering in problem+json, plus a streaming NUL screen for JSON and form bodies."""

    def __init__(self, app: ASGIApp, max_body_size: int, scope: Scope) -> None:
        super().__init__(app, max_body_size)
        content_type = b""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.lower()
                break
        self.nul_check: Callable[[bytes], bool] | None
        if b"json" in content_type:
            self.nul_check = _has_json_nul
        elif content_type.startswith(b"application/x-www-form-urlencoded"):
            self.nul_check = lambda data: _FORM_NUL in data
        else:
            self.nul_check = None
        self.tail = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._scope, self._receive, self._send = scope, receive, send
        self.content_length = _content_length(scope)
        scope[MAX_BODY_SIZE_SCOPE_KEY] = self.max_body_size
        scope[_BODY_LIMIT_RESPONDER_SCOPE_KEY] = self
        try:
            await self.app(scope, self.receive_with_guard, self.send_with_limit)
        except _RequestBodyTooLarge:
            if self.response_started:
                raise
            await self._too_large(scope, send)
        except _RequestBodyLimitResponseSent:
            pass
        finally:
            scope.pop(_BODY_LIMIT_RESPONDER_SCOPE_KEY, None)
            scope.pop(MAX_BODY_SIZE_SCOPE_KEY, None)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        await send_problem(scope, send, 413, f"The request body exceeds {self.max_body_size} bytes")

    async def receive_with_guard(self) -> Message:
        message = await self.receive_with_limit()
        if self.nul_check is not None and message["type"] == "http.request":
            window = self.tail + message.get("body", b"")
            if self.nul_check(window):
                raise NulCharacters()
            self.tail = window[-64:]
        return message

    async def send_with_limit(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.response_started = True
            if self.content_length is not None and self.content_length > self.max_body_size:
                await self._too_large(self.scope, self.send)
                raise _RequestBodyLimitResponseSent
        await self.send(message)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyGuardMiddleware:
    """MAX_BODY_BYTES for every HTTP request, checked as the body streams in (chunked
    uploads included), and a Content-Length over it is refused before any read."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope["path"]:
            await send_problem(scope, send, 422, "NUL characters are not allowed in text")
            return
        if not _may_have_body(scope):
            await self.app(scope, receive, send)
            return
        await _BodyGuard(self.app, self.max_body_bytes, scope)(scope, receive, send)


def _may_have_body(scope: Scope) -> bool:
    """HTTP/1.1 frames a request body only with Content-Length or Transfer-Encoding
    (RFC 9112 section 6.3): without either, the server reads no body at all, and
    there is nothing to count or screen (most GETs take this path)."""
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


class UnexpectedErrorMiddleware:
    """Turns an unhandled exception into the generic 500 problem *inside* the edge
    stack, so the 500 still gets the request id and security headers (Starlette's
    own catch-all sits outside every user middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except (_RequestBodyTooLarge, _RequestBodyLimitResponseSent):
            raise
        except Exception as exc:
            if started:
                raise
            response = unexpected_error_response(scope, exc)
            await response(scope, receive, send)


def install_middleware(app: FastAPI, settings: Settings, limiter: RateLimiter) -> None:
    """Add the edge in the order of this module's docstring (add_middleware prepends,
    so the list is walked innermost first)."""
    stack: list[tuple[Any, dict[str, Any]]] = [
        (RequestIdMiddleware, {"client_address": limiter.client_address}),
        (AccessLogMiddleware, {"templates": RouteTemplates(app)}),
        (SecurityHeadersMiddleware, {"settings": settings, "docs_paths": DOCS_PAGES}),
        (RateLimitMiddleware, {"limiter": limiter, "default_limit": settings.rate_limit_default}),
    ]
    if settings.cors_origins:
        wildcard = "*" in settings.cors_origins
        stack.append(
            (
                CORSMiddleware,
                {
                    "allow_origins": settings.cors_origins,
                    # A wildcard origin never goes together with credentials.
                    "allow_credentials": not wildcard,
                    "allow_methods": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                    "allow_headers": ["Authorization", "Content-Type", "X-Request-ID"],
                    "expose_headers": [
                        "X-Request-ID",
                        "Retry-After",
                        "X-RateLimit-Limit",
                        "X-RateLimit-Remaining",
                        "X-RateLimit-Reset",
                    ],
                    "max_age": 600,
                },
            )
        )
    stack.append((BodyGuardMiddleware, {"max_body_bytes": settings.max_body_bytes}))
    stack.append((UnexpectedErrorMiddleware, {}))
    for middleware, options in reversed(stack):
        app.add_middleware(cast(Any, middleware), **options)
