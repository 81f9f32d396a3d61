"""The event bus: how committed events reach the hubs of every API process.

Two backends behind one small protocol, picked by `create_bus(settings)`:
in memory (one process: the embedded default) and Redis pub/sub (any number of
API and worker processes). The bus is only the fast path: the replay log in the
database is the record, so a message lost while Redis restarts is recovered
from the log when the subscriber reconnects (`on_resubscribe`) or at the next
event of that user (the hub fills gaps in seq).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import RedisError

from botskis.config import Settings
from botskis.realtime.events import Event

EventHandler = Callable[[Sequence[Event]], Awaitable[None]]
ResubscribeHandler = Callable[[], Awaitable[None]]

PUBLISH_QUEUE_MAX = 10_000
RECONNECT_MAX_DELAY = 5.0


class EventBus(Protocol):
    async def start(self) -> None: ...

    async def publish(self, events: Sequence[Event]) -> None:
        """Hand events over for delivery; never raises and never blocks on the network."""

    def listen(self, handler: EventHandler, on_resubscribe: ResubscribeHandler) -> None:
        """Receive every published event; `on_resubscribe` runs after each (re)connection."""

    async def stop(self) -> None: ...


class MemoryBus:
    """In-process delivery: publishing awaits the listeners directly."""

    def __init__(self) -> None:
        self._handlers: list[EventHandler] = []

    async def start(self) -> None:
        return None

    async def publish(self, events: Sequence[Event]) -> None:
        for handler in self._handlers:
            try:
                await handler(events)
            except Exception:
                logger.exception("event handler failed")

    def listen(self, handler: EventHandler, on_resubscribe: ResubscribeHandler) -> None:
        self._handlers.append(handler)

    async def stop(self) -> None:
        self._handlers.clear()


def encode(events: Sequence[Event]) -> str:
    return json.dumps(
        [
            {
                "user_id": str(event.user_id),
                "seq": event.seq,
                "type": event.type,
                "agent_id": str(event.agent_id) if event.agent_id else None,
                "fields": event.fields,
                "created_at": event.created_at.isoformat(),
            }
            for event in events
        ],
        separators=(",", ":"),
    )


def decode(payload: str | bytes) -> list[Event]:
    items: list[dict[str, Any]] = json.loads(payload)
    return [
        Event(
            user_id=uuid.UUID(item["user_id"]),
            type=item["type"],
            fields=item["fields"],
            agent_id=uuid.UUID(item["agent_id"]) if item["agent_id"] else None,
            created_at=datetime.fromisoformat(item["created_at"]),
            seq=int(item["seq"]),
        )
        for item in items
    ]


class RedisBus:
    """Redis pub/sub on one channel. Publishing goes through a bounded queue and
    a background task, so a request never waits on (or fails because of) Redis;
    the subscriber reconnects with backoff when Redis goes away."""

    def __init__(self, url: str, channel: str) -> None:
        self.channel = channel
        self._url = url
        self._redis: Redis | None = None
        self._outbox: asyncio.Queue[str] = asyncio.Queue(PUBLISH_QUEUE_MAX)
        self._handlers: list[tuple[EventHandler, ResubscribeHandler]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.connected = asyncio.Event()

    def _client(self) -> Redis:
        return Redis.from_url(
            self._url, socket_connect_timeout=2, health_check_interval=10, retry_on_timeout=False
        )

    async def start(self) -> None:
        self._redis = self._client()
        self._tasks.append(asyncio.create_task(self._publish_loop(), name="bus-publish"))
        if self._handlers:
            self._tasks.append(asyncio.create_task(self._subscribe_loop(), name="bus-subscribe"))

    async def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        try:
            self._outbox.put_nowait(encode(events))
        except asyncio.QueueFull:
            # The replay log still has them; subscribers fill the gap on the next event.
            logger.warning("event bus publish queue full; events left to the replay log")

    def listen(self, handler: EventHandler, on_resubscribe: ResubscribeHandler) -> None:
        self._handlers.append((handler, on_resubscribe))

    async def _publish_loop(self) -> None:
        assert self._redis is not None
        delay = 0.1
        while True:
            payload = await self._outbox.get()
            while True:
                try:
                    await self._redis.publish(self.channel, payload)
                    delay = 0.1
                    break
                except (RedisError, OSError) as exc:
                    logger.bind(error=str(exc)[:200]).warning("event bus publish failed; retrying")
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RECONNECT_MAX_DELAY)

    async def _subscribe_loop(self) -> None:
        delay = 0.1
        while True:
            client = self._client()
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.connected.set()
                logger.bind(channel=self.channel).info("event bus subscribed")
                for _handler, on_resubscribe in self._handlers:
                    await on_resubscribe()
                delay = 0.1
                while True:
                    message = await pubsub.get_message(timeout=30.0)
                    if message is None or message.get("type") != "message":
                        continue
                    events = decode(message["data"])
                    for handler, _ in self._handlers:
                        try:
                            await handler(events)
                        except Exception:
                            logger.exception("event handler failed")
            except (RedisError, OSError) as exc:
                self.connected.clear()
                logger.bind(error=str(exc)[:200]).warning("event bus disconnected; reconnecting")
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_DELAY)
            finally:
                try:
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                    await client.aclose()
                except (RedisError, OSError):
                    pass

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self._drain_outbox()
        if self._redis is not None:
            await self._redis.aclose()

    async def _drain_outbox(self) -> None:
        """Best effort at shutdown: a worker exiting right after a commit still publishes."""
        if self._redis is None:
            return
        try:
            while not self._outbox.empty():
                await asyncio.wait_for(
                    self._redis.publish(self.channel, self._outbox.get_nowait()), timeout=1
                )
        except (RedisError, OSError, TimeoutError):
            pass


BUS_BACKENDS: dict[str, Callable[[Settings], EventBus]] = {
    "memory": lambda settings: MemoryBus(),
    "redis": lambda settings: RedisBus(str(settings.redis_url), settings.events_channel),
}


def create_bus(settings: Settings) -> EventBus:
    """Redis when REDIS_URL is set (events cross processes), memory otherwise."""
    return BUS_BACKENDS["redis" if settings.redis_url else "memory"](settings)
