"""WS_MAX_PER_USER across every API process.

Without Redis there is one process to count in, and the hub's own count of its
sockets is the limit. With REDIS_URL set, each user has a Redis hash of socket
counts per API process; a Lua script admits a socket only while the sum is
under the limit, atomically across processes. Each process keeps a short-lived
liveness key alive, and the script drops the counts of processes whose key has
expired, so a killed process does not hold its sockets' places for ever.

If Redis is unreachable the quota fails open (each process still enforces the
limit for its own sockets) and logs that once per outage. Sockets opened or
closed meanwhile were not counted in Redis, so when it is back the process
re-registers under a new name with its own true counts; the old name's counts
are dropped like those of a dead process.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter

from loguru import logger
from redis.asyncio import Redis

from botskis.config import Settings

PROCESS_TTL_SECONDS = 30
PROCESS_REFRESH_SECONDS = 10
REDIS_TIMEOUT_SECONDS = 2.0

# KEYS[1]: the user's hash; ARGV: this process, the limit, the liveness key prefix.
# Liveness keys are read by name, which a Redis Cluster would refuse; botskis
# uses a single Redis for its bus as well.
ACQUIRE = """
local counts = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #counts, 2 do
  local process = counts[i]
  if process ~= ARGV[1] and redis.call('EXISTS', ARGV[3] .. process) == 0 then
    redis.call('HDEL', KEYS[1], process)
  else
    total = total + tonumber(counts[i + 1])
  end
end
if total >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], 86400)
return 1
"""
RELEASE = """
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
"""


class SocketQuota:
    def __init__(self, settings: Settings) -> None:
        self.limit = settings.ws_max_per_user
        self.redis_url = settings.redis_url
        self.prefix = f"{settings.rate_limit_prefix}:ws"
        self.process = uuid.uuid4().hex
        self.redis: Redis | None = None
        self.refresher: asyncio.Task[None] | None = None
        self.down = False
        # This process's sockets per user: the truth to re-register after an outage.
        self.local: Counter[uuid.UUID] = Counter()

    def _user_key(self, user_id: uuid.UUID) -> str:
        return f"{self.prefix}:user:{user_id}"

    @property
    def _liveness_prefix(self) -> str:
        return f"{self.prefix}:process:"

    async def start(self) -> None:
        if not self.redis_url:
            return
        self.redis = Redis.from_url(
            self.redis_url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        await self._mark_alive()
        self.refresher = asyncio.create_task(self._keep_alive(), name="socket-quota-alive")

    async def stop(self) -> None:
        if self.refresher is not None:
            self.refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.refresher
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.delete(self._liveness_prefix + self.process)
            await self.redis.aclose()

    async def acquire(self, user_id: uuid.UUID) -> bool:
        """A place for one more socket of this user; False when all are taken."""
        if self.redis is None:
            return True
        try:
            if self.down:
                await self._reregister()
            admitted = await self.redis.eval(  # type: ignore[misc]
                ACQUIRE,
                1,
                self._user_key(user_id),
                self.process,
                self.limit,
                self._liveness_prefix,
            )
        except Exception as exc:
            self._lost(exc)
            admitted = 1
        if admitted:
            self.local[user_id] += 1
        return bool(admitted)

    async def release(self, user_id: uuid.UUID) -> None:
        if self.redis is None:
            return
        self.local[user_id] -= 1
        if self.local[user_id] <= 0:
            del self.local[user_id]
        if self.down:
            return  # counted again from `local` when Redis is back
        try:
            await self.redis.eval(  # type: ignore[misc]
                RELEASE, 1, self._user_key(user_id), self.process
            )
        except Exception as exc:
            self._lost(exc)

    async def _mark_alive(self) -> None:
        assert self.redis is not None
        try:
            if self.down:
                await self._reregister()
            await self.redis.set(self._liveness_prefix + self.process, 1, ex=PROCESS_TTL_SECONDS)
        except Exception as exc:
            self._lost(exc)

    async def _reregister(self) -> None:
        """After an outage: a new name carrying this process's true counts."""
        assert self.redis is not None
        fresh = uuid.uuid4().hex
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._liveness_prefix + fresh, 1, ex=PROCESS_TTL_SECONDS)
            for user_id, count in self.local.items():
                pipe.hset(self._user_key(user_id), fresh, count)
            pipe.delete(self._liveness_prefix + self.process)
            await pipe.execute()
        self.process = fresh
        self.down = False
        logger.warning("socket quota storage reachable again; this process's sockets re-counted")

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(PROCESS_REFRESH_SECONDS)
            await self._mark_alive()

    def _lost(self, exc: Exception) -> None:
        if not self.down:
            self.down = True
            logger.bind(error=type(exc).__name__).error(
                "socket quota storage unreachable; each process limits only its own sockets"
            )
