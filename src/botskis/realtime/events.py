"""Emitting events from services without knowing who listens.

Services call `emit(session, user_id, type, **fields)` inside their unit of
work. Nothing leaves the process until that transaction commits. The first
event of a unit of work registers `realtime.replay_log.record_pending` as one of
its before-commit hooks (`database.connection.before_commit`): it writes the
events to the replay log in the same transaction (so the log never misses a
committed change and never holds a rolled-back one) and gives each its per-user
`seq`. After the commit, the hook `realtime.sink.attach` registered on the
`Database` publishes them on the bus, so a client never sees an event for a
rolled-back change.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from botskis.database.connection import before_commit
from botskis.realtime.pending import Event, add_pending
from botskis.realtime.replay_log import record_pending

__all__ = ["Event", "emit"]


def emit(
    session: AsyncSession,
    user_id: uuid.UUID,
    type: str,
    *,
    agent_id: uuid.UUID | None = None,
    **fields: Any,
) -> None:
    event = Event(user_id=user_id, type=type, fields=fields, agent_id=agent_id)
    if add_pending(session, event):
        before_commit(session, record_pending)
