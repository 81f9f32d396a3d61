"""The sockets of this process, grouped per user, and what each one receives.

Delivery rule: `agent_update`, `notification`, `metrics_update` and
`system_update` reach every socket of the user; any other event that names an
agent (`run_update`, ...) reaches only the sockets subscribed to that agent.

Per user the hub remembers the last seq it delivered. Events arrive from the
bus in any order and possibly twice; the hub drops what it already delivered
and fetches what it skipped from the replay log, so every socket sees the
user's events in seq order with no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from loguru import logger

from botskis.core.logging import start_detached_task
from botskis.database.connection import Database
from botskis.realtime import replay_log
from botskis.realtime.events import Event
from botskis.realtime.frames import text_frame

ACCOUNT_WIDE_EVENTS = frozenset({"agent_update", "notification", "metrics_update", "system_update"})
# Events after which the dashboard numbers may have changed.
METRICS_SOURCES = frozenset({"agent_update", "run_update"})
METRICS_MIN_INTERVAL = 1.0

MetricsReader = Callable[[Database, uuid.UUID], Awaitable[dict[str, Any]]]


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), default=str)


def control_message(type: str, seq: int, **fields: Any) -> str:
    """A message that is not an event: it carries the current seq without using one."""
    return dumps(
        {
            "type": type,
            "seq": seq,
            "timestamp": replay_log.iso_timestamp(datetime.now(UTC)),
            **fields,
        }
    )


class TooManyConnections(Exception):
    pass


FrameWriter = Callable[[bytes], bool]


@dataclass(eq=False)
class Connection:
    """One socket's state. The endpoint drains `queue`; the hub only enqueues,
    so a slow socket never holds up the others.

    When the server lets the endpoint write whole frames synchronously
    (`write_now`), a live message goes straight to the socket while nothing is
    queued or being sent before it: no task wake-up per socket per event, which
    at 1,000 sockets was most of the fan-out's cost. Once the socket pushes back
    (its transport buffer is full: `write_now` says no), messages queue as before
    and the queue's bound still closes a socket that does not keep up (1013)."""

    user_id: uuid.UUID
    queue_limit: int
    queue: asyncio.Queue[tuple[str, bool]] = field(default_factory=asyncio.Queue)
    subscriptions: set[uuid.UUID] = field(default_factory=set)
    connect_seq: int = 0
    # Replayed messages may exceed the live limit (they are bounded by retention).
    replay_pending: int = 0
    close_code: int | None = None
    close_reason: str = ""
    on_close: Callable[[], object] | None = None
    write_now: FrameWriter | None = None
    # True while the endpoint's send loop is inside a send that may have suspended.
    busy: bool = False

    def wants(self, event: Event) -> bool:
        return (
            event.agent_id is None
            or event.type in ACCOUNT_WIDE_EVENTS
            or event.agent_id in self.subscriptions
        )

    def offer(self, text: str, *, replay: bool = False, frame: bytes | None = None) -> None:
        """Queue `text` for this socket, or write it at once (see the class);
        `frame` is `text` already framed, when the caller shares it between sockets."""
        if self.close_code is not None:
            return
        if (
            not replay
            and self.write_now is not None
            and not self.busy
            and self.queue.empty()
            and self.write_now(frame if frame is not None else text_frame(text))
        ):
            return
        if replay:
            self.replay_pending += 1
        elif self.queue.qsize() - self.replay_pending >= self.queue_limit:
            self.shut(1013, "too slow: reconnect and resume")
            return
        self.queue.put_nowait((text, replay))

    def sent(self, replay: bool) -> None:
        if replay:
            self.replay_pending -= 1

    def shut(self, code: int, reason: str) -> None:
        """Ask the endpoint to close this socket (and drop what is queued)."""
        if self.close_code is not None:
            return
        self.close_code = code
        self.close_reason = reason
        while not self.queue.empty():
            self.queue.get_nowait()
        self.replay_pending = 0
        if self.on_close is not None:
            self.on_close()


@dataclass(eq=False)
class UserChannel:
    connections: set[Connection] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_seq: int = 0
    ready: bool = False
    metrics: dict[str, Any] | None = None
    metrics_at: float = float("-inf")
    metrics_dirty: bool = False
    metrics_task: asyncio.Task[None] | None = None


class Hub:
    def __init__(
        self,
        database: Database,
        *,
        max_per_user: int,
        queue_limit: int,
        metrics_reader: MetricsReader | None = None,
    ) -> None:
        self.database = database
        self.max_per_user = max_per_user
        self.queue_limit = queue_limit
        self.metrics_reader = metrics_reader
        self.channels: dict[uuid.UUID, UserChannel] = {}
        self.closing = False

    def connection_count(self) -> int:
        return sum(len(channel.connections) for channel in self.channels.values())

    def new_connection(self, user_id: uuid.UUID) -> Connection:
        return Connection(user_id=user_id, queue_limit=self.queue_limit)

    async def connect(self, conn: Connection, *, since_seq: int | None = None) -> None:
        """Register a socket and queue its `connected` message (and a replay, if asked)."""
        while True:
            channel = self.channels.setdefault(conn.user_id, UserChannel())
            async with channel.lock:
                if self.channels.get(conn.user_id) is not channel:
                    continue
                if len(channel.connections) >= self.max_per_user:
                    self._forget_if_idle(conn.user_id, channel)
                    raise TooManyConnections()
                if not channel.ready:
                    async with self.database.transaction() as session:
                        channel.last_seq = await replay_log.current_seq(session, conn.user_id)
                    channel.ready = True
                channel.connections.add(conn)
                conn.connect_seq = channel.last_seq
                conn.offer(
                    control_message("connected", channel.last_seq, user_id=str(conn.user_id))
                )
                if since_seq is not None:
                    await self._replay(channel, conn, since_seq)
                return

    def disconnect(self, conn: Connection) -> None:
        channel = self.channels.get(conn.user_id)
        if channel is None:
            return
        channel.connections.discard(conn)
        self._forget_if_idle(conn.user_id, channel)

    def _forget_if_idle(self, user_id: uuid.UUID, channel: UserChannel) -> None:
        if channel.connections or channel.lock.locked():
            return
        if self.channels.get(user_id) is channel:
            del self.channels[user_id]
        if channel.metrics_task is not None:
            channel.metrics_task.cancel()

    def current_seq(self, user_id: uuid.UUID) -> int:
        channel = self.channels.get(user_id)
        return channel.last_seq if channel else 0

    async def deliver(self, events: Sequence[Event]) -> None:
        """Bus handler: fan committed events out to this process's sockets."""
        by_user: dict[uuid.UUID, list[Event]] = defaultdict(list)
        for event in events:
            if event.user_id in self.channels:
                by_user[event.user_id].append(event)
        for user_id, user_events in by_user.items():
            channel = self.channels.get(user_id)
            if channel is None:
                continue
            async with channel.lock:
                if channel.ready:
                    await self._deliver_locked(user_id, channel, user_events)
            self._forget_if_idle(user_id, channel)

    async def _deliver_locked(
        self, user_id: uuid.UUID, channel: UserChannel, events: Sequence[Event]
    ) -> None:
        for event in sorted(events, key=lambda e: e.seq):
            if event.seq <= channel.last_seq:
                continue
            if event.seq > channel.last_seq + 1:
                await self._fill_gap(user_id, channel, event.seq - 1)
            self._fan_out(channel, event)

    async def _fill_gap(self, user_id: uuid.UUID, channel: UserChannel, up_to_seq: int) -> None:
        async with self.database.transaction() as session:
            missing = await replay_log.events_between(session, user_id, channel.last_seq, up_to_seq)
        if missing is None:
            logger.bind(user_id=str(user_id)).warning("events beyond retention; resync required")
            for conn in channel.connections:
                conn.offer(control_message("resync_required", up_to_seq, detail=RESYNC_DETAIL))
            channel.last_seq = up_to_seq
            return
        for event in missing:
            self._fan_out(channel, event)

    def _fan_out(self, channel: UserChannel, event: Event) -> None:
        text = dumps(replay_log.wire_message(event))
        frame: bytes | None = None
        for conn in channel.connections:
            if conn.wants(event):
                if frame is None and conn.write_now is not None:
                    frame = text_frame(text)
                conn.offer(text, frame=frame)
        channel.last_seq = event.seq
        if event.type in METRICS_SOURCES:
            self._metrics_changed(event.user_id, channel)

    async def catch_up(self) -> None:
        """After the bus (re)connects: deliver whatever was committed meanwhile."""
        for user_id, channel in list(self.channels.items()):
            async with channel.lock:
                if not channel.ready:
                    continue
                async with self.database.transaction() as session:
                    latest = await replay_log.current_seq(session, user_id)
                if latest > channel.last_seq:
                    await self._fill_gap(user_id, channel, latest)

    async def resume(self, conn: Connection, since_seq: int) -> None:
        channel = self.channels.get(conn.user_id)
        if channel is None:
            return
        async with channel.lock:
            await self._replay(channel, conn, since_seq)

    async def _replay(self, channel: UserChannel, conn: Connection, since_seq: int) -> None:
        """Events in (since_seq, connect_seq]: later ones reached the socket live."""
        if since_seq > channel.last_seq:
            conn.offer(
                control_message(
                    "resync_required",
                    channel.last_seq,
                    detail="since_seq is ahead of this account's events; " + RESYNC_DETAIL,
                )
            )
            return
        async with self.database.transaction() as session:
            events = await replay_log.events_between(
                session, conn.user_id, since_seq, conn.connect_seq
            )
        if events is None:
            conn.offer(control_message("resync_required", channel.last_seq, detail=RESYNC_DETAIL))
            return
        for event in events:
            if conn.wants(event):
                conn.offer(dumps(replay_log.wire_message(event)), replay=True)

    def _metrics_changed(self, user_id: uuid.UUID, channel: UserChannel) -> None:
        if self.metrics_reader is None:
            return
        channel.metrics_dirty = True
        if channel.metrics_task is None or channel.metrics_task.done():
            # Shared by every later event of this user, whoever triggers it first.
            channel.metrics_task = start_detached_task(
                self._push_metrics(user_id, channel), name=f"metrics-{user_id}"
            )

    async def _push_metrics(self, user_id: uuid.UUID, channel: UserChannel) -> None:
        """Coalesces: at most one computation per METRICS_MIN_INTERVAL per user,
        and a push only when the numbers differ from the last push."""
        assert self.metrics_reader is not None
        while channel.metrics_dirty and channel.connections:
            wait = channel.metrics_at + METRICS_MIN_INTERVAL - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            channel.metrics_dirty = False
            channel.metrics_at = time.monotonic()
            try:
                data = await self.metrics_reader(self.database, user_id)
            except Exception:
                logger.bind(user_id=str(user_id)).exception("computing metrics failed")
                continue
            if data != channel.metrics:
                channel.metrics = data
                text = control_message("metrics_update", channel.last_seq, data=data)
                frame = text_frame(text)
                for conn in channel.connections:
                    conn.offer(text, frame=frame)

    async def metrics_for(self, conn: Connection) -> str | None:
        """`request_metrics`: fresh numbers for one socket, now."""
        if self.metrics_reader is None:
            return None
        data = await self.metrics_reader(self.database, conn.user_id)
        channel = self.channels.get(conn.user_id)
        if channel is not None:
            channel.metrics = data
            channel.metrics_at = time.monotonic()
        return control_message("metrics_update", self.current_seq(conn.user_id), data=data)

    def close_all(self, code: int, reason: str) -> None:
        self.closing = True
        for channel in list(self.channels.values()):
            for conn in list(channel.connections):
                conn.shut(code, reason)


RESYNC_DETAIL = "some events are no longer retained: reload state over HTTP, then continue"
