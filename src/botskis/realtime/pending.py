"""The events a unit of work emitted and has not committed yet.

They live in the session's `info`, so they share its fate: committed with it,
or dropped with it on a rollback (a unit of work's session is closed after it).
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


def add_pending(session: AsyncSession, event: Event) -> bool:
    """Queue the event; True when it is the unit of work's first."""
    pending: list[Event] | None = session.info.get(PENDING_EVENTS_KEY)
    if pending is None:
        session.info[PENDING_EVENTS_KEY] = [event]
        return True
    pending.append(event)
    return False


def peek_pending(session: AsyncSession) -> list[Event]:
    events: list[Event] = session.info.get(PENDING_EVENTS_KEY, [])
    return events


def replace_pending(session: AsyncSession, events: list[Event]) -> None:
    session.info[PENDING_EVENTS_KEY] = events
