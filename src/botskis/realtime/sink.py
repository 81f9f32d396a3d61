"""Connecting a `Database` to the bus: what happens to events after a commit.

Every process that commits events attaches its database once at start:

    bus = create_bus(settings)
    await bus.start()
    attach(database, bus)
    ...
    await bus.stop()

The API does this in its lifespan; `botskis worker` must do the same, or its
events only reach sockets through the replay log (on a client's `resume`).
"""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.database.connection import Database
from botskis.realtime.bus import EventBus
from botskis.realtime.pending import peek_pending
from botskis.realtime.replay_log import numbered


def attach(database: Database, bus: EventBus) -> Callable[[], None]:
    """Publish each committed unit of work's events on `bus`; returns the detach."""

    async def publish_committed(session: AsyncSession) -> None:
        events = peek_pending(session)
        if not events:
            return
        # The transaction has committed: a failure here must not turn it into an error.
        try:
            await bus.publish(numbered(events))
        except Exception:
            logger.exception("publishing events failed; they remain in the replay log")

    return database.after_commit(publish_committed)
