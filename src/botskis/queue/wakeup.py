"""Waking workers the moment a run is committed, so nothing waits for a poll.

Inside the transaction that queues a run, `wake_workers_after_commit` does two
things: on PostgreSQL it sends `NOTIFY botskis_runs` (PostgreSQL delivers it
only if and when the transaction commits, to every listening worker process),
and it registers an after-commit hook that sets the wake event of every worker
running in this process (the embedded worker). A rolled-back transaction wakes
nobody. The workers' slow poll is the safety net for anything missed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

CHANNEL = "botskis_runs"
_WAKE_REGISTERED_KEY = "botskis.wake_registered"

local_wake_events: set[asyncio.Event] = set()


def wake_local_workers() -> None:
    for wake in list(local_wake_events):
        wake.set()


def _after_commit(session: Any) -> None:
    if session.info.pop(_WAKE_REGISTERED_KEY, None):
        wake_local_workers()


def _after_soft_rollback(session: Any, _previous_transaction: Any) -> None:
    session.info.pop(_WAKE_REGISTERED_KEY, None)


async def wake_workers_after_commit(session: AsyncSession) -> None:
    if session.info.get(_WAKE_REGISTERED_KEY):
        return
    session.info[_WAKE_REGISTERED_KEY] = True
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"NOTIFY {CHANNEL}"))
    sync_session = session.sync_session
    if not event.contains(sync_session, "after_commit", _after_commit):
        event.listen(sync_session, "after_commit", _after_commit)
        event.listen(sync_session, "after_soft_rollback", _after_soft_rollback)
