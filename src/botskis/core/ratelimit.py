"""Rate limits on the `limits` async API: one fixed-window counter per (limit, key),
in memory by default and in Redis when REDIS_URL is set, so every process shares it.

If Redis is unreachable the limiter fails open (the API keeps serving), logs that
once per outage, retries Redis at most once a second and logs when it is back.

Any domain can enforce its own limit from a route or dependency:

    await enforce(request, "60/minute", "webhook", str(agent_id))

which raises `RateLimited` (429 with Retry-After and X-RateLimit-*) when spent.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from loguru import logger
from redis.asyncio import ConnectionPool
from starlette.datastructures import Headers
from starlette.types import Scope

from botskis.config import Settings
from botskis.core import metrics
from botskis.core.errors import AppError

REDIS_TIMEOUT_SECONDS = 2.0
REDIS_RETRY_SECONDS = 1.0

ClientAddress = Callable[[Scope], str]


@lru_cache(maxsize=256)
def parse_limit(text: str) -> RateLimitItem:
    return parse(text)


@dataclass(frozen=True, slots=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """X-RateLimit-* as ASGI header pairs, for a response that was let through."""
        return [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(math.ceil(self.reset_at)).encode()),
        ]

    def headers(self, *, rejected: bool = False) -> dict[str, str]:
        headers = {name.decode(): value.decode() for name, value in self.raw_headers()}
        if rejected:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateLimited(AppError):
    status = 429
    title = "Too Many Requests"

    def __init__(self, result: RateLimitResult) -> None:
        super().__init__(
            f"Rate limit exceeded; retry in {result.retry_after} s",
            headers=result.headers(rejected=True),
        )


def record_result(state: MutableMapping[str, Any], result: RateLimitResult) -> None:
    """Keep the tightest limit the request met; its X-RateLimit-* go on the response."""
    current: RateLimitResult | None = state.get("rate_limit")
    if current is None or result.remaining < current.remaining:
        state["rate_limit"] = result


class RateLimiter:
    """The process's counters and the client-IP rule (X-Forwarded-For is believed
    only from TRUSTED_PROXIES)."""

    def __init__(self, settings: Settings) -> None:
        self.prefix = settings.rate_limit_prefix
        self.storage: Storage
        # Our own pool, handed to limits, so that closing it is ours too.
        self.redis_pool: ConnectionPool | None = None
        if settings.redis_url:
            self.redis_pool = ConnectionPool.from_url(
                settings.redis_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            # limits documents `connection_pool`; its annotation covers scalars only.
            options: dict[str, Any] = {"connection_pool": self.redis_pool}
            self.storage = RedisStorage(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix=self.prefix,
                wrap_exceptions=True,
                **options,
            )
        else:
            self.storage = MemoryStorage()
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]
        self.down_since: float | None = None
        self.retry_at = 0.0

    def client_address(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        if not self.trusted or not self._is_trusted(peer):
            return peer
        forwarded = Headers(scope=scope).getlist("x-forwarded-for")
        hops = [h.strip() for h in ",".join(forwarded).split(",") if h.strip()]
        # Walk from the nearest hop: the first one we do not trust is the client.
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop
        return hops[0] if hops else peer

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    async def hit(self, limit: str | RateLimitItem, *key: str) -> RateLimitResult | None:
        """Count one hit; None when the storage is unreachable (fail open)."""
        now = time.monotonic()
        if self.down_since is not None and now < self.retry_at:
            return None
        item = parse_limit(limit) if isinstance(limit, str) else limit
        storage_key = item.key_for(self.prefix, *key)
        try:
            count = await self.storage.incr(storage_key, item.get_expiry())
            reset_at = await self.storage.get_expiry(storage_key)
        except Exception as exc:
            if self.down_since is None:
                self.down_since = now
                logger.bind(error=type(exc).__name__).error(
                    "rate limit storage unreachable; limits are off until it returns"
                )
            self.retry_at = now + REDIS_RETRY_SECONDS
            return None
        if self.down_since is not None:
            logger.bind(outage_seconds=round(now - self.down_since, 1)).warning(
                "rate limit storage reachable again; limits are back"
            )
            self.down_since = None
        amount = item.amount
        return RateLimitResult(count <= amount, amount, max(0, amount - count), reset_at)

    def rejected(self, name: str, key: str, result: RateLimitResult) -> None:
        metrics.RATE_LIMITED.labels(name).inc()
        logger.bind(security=True, limit=name, key=key, limit_value=result.limit).warning(
            "rate limited"
        )

    async def enforce(
        self, state: MutableMapping[str, Any], limit: str | RateLimitItem, name: str, *key: str
    ) -> None:
        result = await self.hit(limit, name, *key)
        if result is None:
            return
        record_result(state, result)
        if not result.allowed:
            self.rejected(name, ":".join(key), result)
            raise RateLimited(result)

    async def close(self) -> None:
        if self.redis_pool is not None:
            await self.redis_pool.aclose()


async def enforce(request: Request, limit: str | RateLimitItem, name: str, *key: str) -> None:
    """Count this request against `limit` for `key` (named `name` in logs and metrics);
    raises RateLimited when it is spent."""
    limiter: RateLimiter = request.app.state.rate_limiter
    await limiter.enforce(request.scope.setdefault("state", {}), limit, name, *key)


def client_ip(request: Request) -> str:
    state = request.scope.get("state", {})
    ip = state.get("client_ip")
    if isinstance(ip, str):
        return ip
    return request.client.host if request.client else "unknown"
