"""Emitting events from services without knowing who listens.

Services call `emit(session, user_id, type, **fields)` inside their unit of
work. Nothing leaves the process until that transaction commits: `Database`
hands the session's pending events to its `event_sink` after the commit (see
`database.connection`), so a client never sees an event for a rolled-back
change. Just before the commit, `realtime.replay_log.record_pending` writes them to
the replay log in the same transaction (so the log never misses a committed
change and never holds a rolled-back one) and gives each its per-user `seq`.
The realtime package decides what the sink does with them (bus, sockets).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

PENDING_EVENTS_KEY = "botskis.pending_events"


@dataclass(frozen=True, slots=True)
class Event:
    user_id: uuid.UUID
    type: str
    fields: dict[str, Any]
    # Set when an event concerns one agent: only sockets subscribed to it get it.
    agent_id: uuid.UUID | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Per-user position in the replay log; assigned in the emitting transaction.
    seq: int = 0


def emit(
    session: AsyncSession,
    user_id: uuid.UUID,
    type: str,
    *,
    agent_id: uuid.UUID | None = None,
    **fields: Any,
) -> None:
    event = Event(user_id=user_id, type=type, fields=fields, agent_id=agent_id)
    session.info.setdefault(PENDING_EVENTS_KEY, []).append(event)


def peek_pending(session: AsyncSession) -> list[Event]:
    events: list[Event] = session.info.get(PENDING_EVENTS_KEY, [])
    return events


def replace_pending(session: AsyncSession, events: list[Event]) -> None:
    session.info[PENDING_EVENTS_KEY] = events


def take_pending(session: AsyncSession) -> list[Event]:
    events: list[Event] = session.info.pop(PENDING_EVENTS_KEY, [])
    return events
