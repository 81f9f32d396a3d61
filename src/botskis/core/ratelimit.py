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
from typing import Any, NamedTuple

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from loguru import logger
from starlette.types import Scope

from botskis.config import Settings
from botskis.core import metrics
from botskis.core.errors import AppError

REDIS_TIMEOUT_SECONDS = 2.0
REDIS_RETRY_SECONDS = 1.0
MAX_REMEMBERED_WINDOWS = 100_000

ClientAddress = Callable[[Scope], str]


@lru_cache(maxsize=256)
def parse_limit(text: str) -> RateLimitItem:
    return parse(text)


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which
# makes every request's two results several times dearer to build.
@dataclass(slots=True)
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


class _Counter(NamedTuple):
    storage_key: str
    amount: int
    expiry: int


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
        if settings.redis_url:
            self.storage = RedisStorage(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix=self.prefix,
                wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
        else:
            self.storage = MemoryStorage()
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]
        self.down_since: float | None = None
        self.retry_at = 0.0
        # When each counter's window ends, so a hit costs one storage call, not two.
        self.window_ends: dict[str, float] = {}
        # Storage key, amount and window length per (limit, key), worked out once.
        self.counters: dict[tuple[str | RateLimitItem, tuple[str, ...]], _Counter] = {}

    def client_address(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        if not self.trusted or not self._is_trusted(peer):
            return peer
        forwarded = [
            value.decode("latin-1")
            for name, value in scope["headers"]
            if name == b"x-forwarded-for"
        ]
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
        # Keyed by the limit as given (usually its text, which hashes in C; a parsed
        # item hashes and compares in Python).
        counter = self.counters.get((limit, key))
        if counter is None:
            item = parse_limit(limit) if isinstance(limit, str) else limit
            counter = _Counter(item.key_for(self.prefix, *key), item.amount, item.get_expiry())
            if len(self.counters) >= MAX_REMEMBERED_WINDOWS:
                self.counters.clear()
            self.counters[(limit, key)] = counter
        storage_key, amount, expiry = counter
        try:
            count = await self.storage.incr(storage_key, expiry)
            reset_at = self._known_window_end(storage_key, count, expiry)
            if reset_at is None:
                reset_at = await self.storage.get_expiry(storage_key)
                self._remember_window_end(storage_key, reset_at)
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
        return RateLimitResult(count <= amount, amount, max(0, amount - count), reset_at)

    def _known_window_end(self, storage_key: str, count: int, expiry: int) -> float | None:
        """A fixed window's end never moves, and a new window for the key starts only
        after it: the end read once stays right until it has passed (also when
        another process started the window). None: ask the storage."""
        now = time.time()
        if count == 1:
            reset_at = now + expiry
            self._remember_window_end(storage_key, reset_at)
            return reset_at
        cached = self.window_ends.get(storage_key)
        if cached is not None and cached > now:
            return cached
        return None

    def _remember_window_end(self, storage_key: str, reset_at: float) -> None:
        if len(self.window_ends) >= MAX_REMEMBERED_WINDOWS:
            now = time.time()
            self.window_ends = {k: end for k, end in self.window_ends.items() if end > now}
            if len(self.window_ends) >= MAX_REMEMBERED_WINDOWS:
                self.window_ends.clear()
        self.window_ends[storage_key] = reset_at

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
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        if client is not None:
            await client.aclose()


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
