"""Writing and reading the per-user replay log.

`record_pending` runs inside the emitting transaction, right before its commit:
it bumps the user's cursor (an upsert whose row lock serialises concurrent
emitters for that user), numbers the events and stores them. The log is
therefore exactly the set of committed events, in commit order, in whichever
process they were emitted, and it survives restarts of the bus.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.realtime.models import EventCursor, LoggedEvent
from botskis.realtime.pending import Event, peek_pending, replace_pending

REPLAY_MAX_EVENTS = 1000
REPLAY_MAX_AGE = timedelta(hours=24)
# Old events are deleted when a user's seq crosses a multiple of this, not on every
# write (a delete per emitting transaction was a large part of a run's cost). Reads
# enforce both retention bounds exactly, so the few extra rows are never served.
PRUNE_EVERY = 100


async def _advance_cursors(
    session: AsyncSession, counts: dict[uuid.UUID, int]
) -> dict[uuid.UUID, int]:
    """Reserve `counts[user]` seqs for each user in one upsert; returns each
    user's last seq. Rows are locked in a fixed order (by id as text), so two
    transactions touching the same users cannot deadlock."""
    dialect = session.get_bind().dialect.name
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    users = sorted(counts, key=str)
    values = upsert(EventCursor).values(
        [{"user_id": user_id, "last_seq": counts[user_id]} for user_id in users]
    )
    statement = values.on_conflict_do_update(
        index_elements=[EventCursor.user_id],
        set_={"last_seq": EventCursor.last_seq + values.excluded.last_seq},
    ).returning(EventCursor.user_id, EventCursor.last_seq)
    return {user_id: last for user_id, last in await session.execute(statement)}


async def record_pending(session: AsyncSession) -> None:
    """Number and store the events this unit of work emitted (before commit)."""
    pending = peek_pending(session)
    if not pending:
        return
    by_user: dict[uuid.UUID, list[int]] = defaultdict(list)
    for index, event in enumerate(pending):
        by_user[event.user_id].append(index)
    result = list(pending)
    lasts = await _advance_cursors(
        session, {user_id: len(indexes) for user_id, indexes in by_user.items()}
    )
    rows: list[dict[str, Any]] = []
    for user_id, indexes in by_user.items():
        last = lasts[user_id]
        first = last - len(indexes) + 1
        for offset, index in enumerate(indexes):
            fields = to_jsonable_python(pending[index].fields)
            event = dataclasses.replace(pending[index], seq=first + offset, fields=fields)
            result[index] = event
            rows.append(
                {
                    "user_id": user_id,
                    "seq": event.seq,
                    "type": event.type,
                    "agent_id": event.agent_id,
                    "fields": fields,
                    "created_at": event.created_at,
                }
            )
    await session.execute(insert(LoggedEvent), rows)
    for user_id, indexes in by_user.items():
        last = lasts[user_id]
        if last // PRUNE_EVERY == (last - len(indexes)) // PRUNE_EVERY:
            continue
        await session.execute(
            delete(LoggedEvent).where(
                LoggedEvent.user_id == user_id,
                or_(
                    LoggedEvent.seq <= last - REPLAY_MAX_EVENTS,
                    LoggedEvent.created_at < datetime.now(UTC) - REPLAY_MAX_AGE,
                ),
            )
        )
    replace_pending(session, result)


async def current_seq(session: AsyncSession, user_id: uuid.UUID) -> int:
    seq = await session.scalar(select(EventCursor.last_seq).where(EventCursor.user_id == user_id))
    return seq or 0


def _as_event(row: LoggedEvent) -> Event:
    return Event(
        user_id=row.user_id,
        type=row.type,
        fields=row.fields,
        agent_id=row.agent_id,
        created_at=row.created_at,
        seq=row.seq,
    )


async def events_between(
    session: AsyncSession, user_id: uuid.UUID, after_seq: int, up_to_seq: int
) -> list[Event] | None:
    """Events with after_seq < seq <= up_to_seq in order, or None when some of
    them are no longer retained (the client must resync)."""
    if up_to_seq <= after_seq:
        return []
    if up_to_seq - after_seq > REPLAY_MAX_EVENTS:
        return None
    cutoff = datetime.now(UTC) - REPLAY_MAX_AGE
    rows = (
        await session.scalars(
            select(LoggedEvent)
            .where(
                LoggedEvent.user_id == user_id,
                LoggedEvent.seq > after_seq,
                LoggedEvent.seq <= up_to_seq,
                LoggedEvent.created_at >= cutoff,
            )
            .order_by(LoggedEvent.seq)
        )
    ).all()
    if len(rows) != up_to_seq - after_seq:
        return None
    return [_as_event(row) for row in rows]


async def retained_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).select_from(LoggedEvent).where(LoggedEvent.user_id == user_id)
    )
    return count or 0


def wire_message(event: Event) -> dict[str, Any]:
    """The JSON object a socket receives for an event."""
    message: dict[str, Any] = {
        "type": event.type,
        "seq": event.seq,
        "timestamp": iso_timestamp(event.created_at),
    }
    message.update(event.fields)
    if event.agent_id is not None:
        message["agent_id"] = str(event.agent_id)
    return message


def iso_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def numbered(events: Sequence[Event]) -> list[Event]:
    """Events that went through the log (seq assigned); others cannot be delivered."""
    return [event for event in events if event.seq > 0]
