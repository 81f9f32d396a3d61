"""The edge every request passes through, as pure ASGI middleware (no per-request
task or body copy, unlike BaseHTTPMiddleware).

Order, outermost first (`install_middleware` adds them in this order):

0. ServerSendMiddleware      only with WS_FAST_PATH (api/websocket_fast_path.py)
1. RequestIdMiddleware       request id and client IP in scope state; X-Request-ID on
                             every response; every log line of the request carries the id
2. AccessLogMiddleware       one log line and the Prometheus metrics per request
3. SecurityHeadersMiddleware nosniff, frame DENY, CSP, HSTS, ... on every response
4. RateLimitMiddleware       RATE_LIMIT_DEFAULT per client IP for anonymous traffic;
                             X-RateLimit-* headers
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
from fastapi.security.utils import get_authorization_scheme_param
from loguru import logger
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from botskis.api.docs import DOCS_PAGES
from botskis.api.websocket_fast_path import ServerSendMiddleware, fast_path_available
from botskis.config import Settings
from botskis.core import metrics
from botskis.core.auth import authenticate_request
from botskis.core.browser_session import session_token
from botskis.core.errors import PROBLEM_JSON, AppError, unexpected_error_response
from botskis.core.logging import request_id_var
from botskis.core.ratelimit import ClientAddress, RateLimiter, RateLimitResult, record_result
from botskis.database.availability import unavailability
from botskis.users.token_cache import TokenCache

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Query parameters whose values never reach a log line.
REDACTED_PARAMS = frozenset(
    {"token", "access_token", "refresh_token", "api_key", "apikey", "key", "password", "secret"}
)
METRIC_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "WS"}
)
# Paths outside the per-IP limit: probes and scrapers must never be throttled.
UNLIMITED_PATHS = frozenset({"/health", "/ready", "/metrics"})
# Webhook deliveries have their own per-agent limit (runs/router.py).
WEBHOOK_PREFIX = "/api/v1/hooks/"


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
        offered = Headers(scope=scope).get("x-request-id", "")
        request_id = offered if _SAFE_REQUEST_ID.match(offered) else os.urandom(16).hex()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_ip"] = self.client_address(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                MutableHeaders(scope=message).append("x-request-id", request_id)
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
        # cannot mint new metric series at will.
        label = method if method in METRIC_METHODS else "OTHER"
        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_and_record)
        finally:
            metrics.IN_FLIGHT.dec()
            duration = time.perf_counter() - start
            template = self.templates.of(scope)
            metrics.REQUESTS.labels(label, template, str(status)).inc()
            metrics.LATENCY.labels(label, template).observe(duration)
            logger.bind(
                access=True,
                method=method,
                path=loggable_url(scope),
                status=status,
                duration_ms=round(duration * 1000, 2),
                client_ip=scope.get("state", {}).get("client_ip"),
            ).info("request")


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
        request_headers = Headers(scope=scope)
        authenticated = "authorization" in request_headers or "cookie" in request_headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                if authenticated and "cache-control" not in headers:
                    headers.append("cache-control", "no-store")
                extra = self.headers
                # The dashboard's pages bring their own policy (api/dashboard.py).
                if "content-security-policy" not in headers:
                    extra = [*extra, self.api_csp]
                message["headers"] = [*message["headers"], *extra]
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
    """RATE_LIMIT_DEFAULT per client IP for anonymous traffic; X-RateLimit-* of the
    tightest limit that the request met (this one or one a route enforced) on the
    response. A valid token's caller (bearer or session cookie) counts against
    RATE_LIMIT_USER instead (core/auth.py), and webhook deliveries against their
    agent's own limit, so neither is throttled by the address it shares with others."""

    def __init__(
        self, app: ASGIApp, limiter: RateLimiter, default_limit: str, token_cache: TokenCache
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.default_limit = default_limit
        self.token_cache = token_cache

    async def _exempt(self, scope: Scope) -> bool:
        path: str = scope["path"]
        if path in UNLIMITED_PATHS:
            return True
        if scope["type"] != "http":
            return False
        if path.startswith(WEBHOOK_PREFIX):
            return True
        scheme, token = get_authorization_scheme_param(Headers(scope=scope).get("authorization"))
        if scheme.lower() != "bearer" or not token:
            # The dashboard's session cookie: the other source of the same token.
            token = session_token(HTTPConnection(scope)) or ""
        if not token:
            return False
        try:
            await authenticate_request(scope["state"], self.token_cache, token)
        except AppError:
            return False
        except Exception as exc:
            # The database is down: the route's own token check meets it again,
            # inside the exception handlers, and answers 503.
            if unavailability(exc) is None:
                raise
            return False
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope["state"]
        result = None
        if not await self._exempt(scope):
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
                    message.setdefault("headers", [])
                    headers = MutableHeaders(scope=message)
                    if "x-ratelimit-limit" not in headers:
                        for name, value in tightest.headers().items():
                            headers.append(name, value)
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


class BodyTooLarge(HTTPException):
    """Raised while the body streams in; the error handlers make it a 413 problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"The request body exceeds {limit} bytes")


def _nul_check(content_type: str) -> Callable[[bytes], bool] | None:
    """How NUL shows in a body of this type, where we can see it while streaming."""
    if "json" in content_type:
        return _has_json_nul
    if content_type.startswith("application/x-www-form-urlencoded"):
        return lambda data: _FORM_NUL in data
    return None


def problem_for_plain_413(scope: Scope, send: Send) -> Send:
    """A route's own `max_body_size=` is enforced by Starlette's body limiter inside
    the route, which answers a Content-Length over it in text/plain; this sends
    the problem+json every other error gets instead."""
    replaced = False

    async def send_problem_instead(message: Message) -> None:
        nonlocal replaced
        if message["type"] == "http.response.start" and message["status"] == 413:
            content_type = MutableHeaders(scope={"headers": message.get("headers", [])})
            if content_type.get("content-type", "").startswith("text/plain"):
                replaced = True
                limit = scope.get(MAX_BODY_SIZE_SCOPE_KEY)
                detail = f"The request body exceeds {limit} bytes" if limit else "Content Too Large"
                await send_problem(scope, send, 413, detail)
                return
        if replaced and message["type"] == "http.response.body":
            return
        await send(message)

    return send_problem_instead


class BodyGuardMiddleware:
    """MAX_BODY_BYTES for every HTTP request, counted as the body streams in (chunked
    uploads included); a Content-Length over it is refused before any read. A route
    may declare a smaller `max_body_size=` (FastAPI applies it inside the route).
    NUL characters in the path, query, or a JSON or form body are refused too."""

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
        headers = Headers(scope=scope)
        if "content-length" not in headers and "transfer-encoding" not in headers:
            # HTTP/1.1 frames a body only with one of them (RFC 9112 section 6.3).
            await self.app(scope, receive, send)
            return
        send = problem_for_plain_413(scope, send)
        limit = self.max_body_bytes
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await send_problem(scope, send, 413, f"The request body exceeds {limit} bytes")
            return
        nul_check = _nul_check(headers.get("content-type", "").lower())
        received = 0
        tail = b""

        async def guarded_receive() -> Message:
            nonlocal received, tail
            message = await receive()
            if message["type"] == "http.request":
                body: bytes = message.get("body", b"")
                received += len(body)
                if received > limit:
                    raise BodyTooLarge(limit)
                if nul_check is not None:
                    window = tail + body
                    if nul_check(window):
                        raise NulCharacters()
                    tail = window[-64:]
            return message

        await self.app(scope, guarded_receive, send)


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
        except Exception as exc:
            if started:
                raise
            response = unexpected_error_response(scope, exc)
            await response(scope, receive, send)


def install_middleware(
    app: FastAPI, settings: Settings, limiter: RateLimiter, token_cache: TokenCache
) -> None:
    """Add the edge in the order of this module's docstring (add_middleware prepends,
    so the list is walked innermost first)."""
    stack: list[tuple[Any, dict[str, Any]]] = []
    if fast_path_available(settings.ws_fast_path):
        stack.append((ServerSendMiddleware, {}))
    stack += [
        (RequestIdMiddleware, {"client_address": limiter.client_address}),
        (AccessLogMiddleware, {"templates": RouteTemplates(app)}),
        (SecurityHeadersMiddleware, {"settings": settings, "docs_paths": DOCS_PAGES}),
        (
            RateLimitMiddleware,
            {
                "limiter": limiter,
                "default_limit": settings.rate_limit_default,
                "token_cache": token_cache,
            },
        ),
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
