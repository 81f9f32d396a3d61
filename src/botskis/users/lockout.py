"""Per-account lockout of second-factor codes, shared by every process.

An account whose lock is running is refused without looking at the code.
From the MFA_LOCKOUT_THRESHOLD-th consecutive failed attempt on, each one
locks the account for MFA_LOCKOUT_BASE_SECONDS, doubling per further attempt,
up to MFA_LOCKOUT_MAX_SECONDS. A correct code clears the count.

* With REDIS_URL the counters live in Redis and every attempt is counted
  before its code is checked, in one Lua script, so processes never race and a
  burst of parallel guesses is no better than a sequence.
* Without Redis, or while it is unreachable, they live in the account's
  `two_factor` row: the lock is read with the row, and a wrong code is
  counted after the check in its own short transaction (the request's rolls
  back). Every process shares the count, but guesses already in flight when
  the lock starts are still checked (the per-IP login limit bounds them).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from loguru import logger

from botskis.config import Settings
from botskis.core.errors import AppError
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.users.models import TwoFactor

REDIS_TIMEOUT_SECONDS = 2.0

# KEYS: count, lock. ARGV: threshold, base ms, max ms, count ttl s.
# Returns -remaining lock ms when refused, else the attempt's number.
ATTEMPT_SCRIPT = """
local locked = redis.call('PTTL', KEYS[2])
if locked > 0 then return -locked end
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
local threshold = tonumber(ARGV[1])
if n >= threshold then
  local ms = math.min(tonumber(ARGV[2]) * 2 ^ (n - threshold), tonumber(ARGV[3]))
  redis.call('SET', KEYS[2], '1', 'PX', math.max(1, math.floor(ms)))
end
return n
"""


@dataclass(frozen=True, slots=True)
class Attempt:
    user_id: uuid.UUID
    # Redis counted it before the code was checked; the database counts failures after.
    counted: bool


class CodesLocked(AppError):
    status = 429
    title = "Too Many Requests"

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            f"Too many wrong codes for this account; try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
            reason="mfa_locked",
        )


def lock_seconds(settings: Settings, attempt: int) -> float:
    """How long the `attempt`-th consecutive attempt locks the account for."""
    if attempt < settings.mfa_lockout_threshold:
        return 0.0
    exponent = attempt - settings.mfa_lockout_threshold
    return float(
        min(settings.mfa_lockout_base_seconds * 2.0**exponent, settings.mfa_lockout_max_seconds)
    )


class CodeLockout:
    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self.prefix = f"{settings.rate_limit_prefix}:mfa"
        self.redis: Any = None
        if settings.redis_url:
            from redis.asyncio import Redis

            self.redis = Redis.from_url(
                settings.redis_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )

    @property
    def backend(self) -> str:
        return "redis" if self.redis is not None else "database"

    async def attempt(self, row: TwoFactor) -> Attempt:
        """Take one code attempt for the account of `row` (its two_factor row, as
        the request read it), or raise CodesLocked."""
        if self.redis is not None:
            try:
                await self._redis_attempt(row.user_id)
                return Attempt(row.user_id, counted=True)
            except CodesLocked:
                raise
            except Exception as exc:
                logger.bind(error=type(exc).__name__).warning(
                    "code lockout: Redis unreachable, counting in the database"
                )
        now = utcnow()
        if row.locked_until is not None and row.locked_until > now:
            raise CodesLocked((row.locked_until - now).total_seconds())
        return Attempt(row.user_id, counted=False)

    async def failed(self, attempt: Attempt) -> None:
        """Count a wrong code the database way: in its own transaction, because the
        request's rolls back. The request must not hold a write lock yet (SQLite)."""
        if attempt.counted:
            return
        async with self.database.transaction() as session:
            row = await session.get(TwoFactor, attempt.user_id, with_for_update=True)
            if row is None:
                return
            row.failed_codes += 1
            seconds = lock_seconds(self.settings, row.failed_codes)
            if seconds:
                row.locked_until = utcnow() + timedelta(seconds=seconds)

    async def succeeded(self, row: TwoFactor) -> None:
        """Clear the count; the database's in the request's own transaction."""
        if self.redis is not None:
            try:
                await self.redis.delete(*self._keys(row.user_id))
            except Exception as exc:
                logger.bind(error=type(exc).__name__).warning("code lockout: Redis unreachable")
        if row.failed_codes or row.locked_until is not None:
            row.failed_codes = 0
            row.locked_until = None

    def _keys(self, user_id: uuid.UUID) -> tuple[str, str]:
        return f"{self.prefix}:count:{user_id}", f"{self.prefix}:lock:{user_id}"

    async def _redis_attempt(self, user_id: uuid.UUID) -> None:
        settings = self.settings
        result = await self.redis.eval(
            ATTEMPT_SCRIPT,
            2,
            *self._keys(user_id),
            settings.mfa_lockout_threshold,
            int(settings.mfa_lockout_base_seconds * 1000),
            int(settings.mfa_lockout_max_seconds * 1000),
            int(settings.mfa_lockout_max_seconds * 2) + 1,
        )
        if int(result) < 0:
            raise CodesLocked(-int(result) / 1000)

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
