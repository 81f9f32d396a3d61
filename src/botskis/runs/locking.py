"""The lock order between deleting runs and workers finishing them.

A worker finishing a run locks the run row, then updates its agent's counters and
writes events under its owner (a key-share lock on the user). Deleting an agent or
a user cascades the other way round: the parent row first, then its runs. So a
deletion first locks the running runs it is about to remove, in id order, waiting
for any worker that holds one to commit.

Starting a run takes the owner's quota lock (FOR NO KEY UPDATE on the user row),
then the owner's `monthly_usage` row, then inserts the run: the same parent-first
order as a deletion, and the key-share locks workers take on the user do not
conflict with it.

A claim (`queue.claims`) waits on nothing but other claims' advisory locks, each
per agent or owner and taken in one sorted order, and skips rows others have
locked, so it closes no cycle with either side.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.runs.models import Run, RunStatus


async def lock_running_runs(session: AsyncSession, scope: ColumnElement[bool]) -> None:
    """Lock the running runs matching `scope` (say `Run.agent_id == agent.id`)."""
    await session.execute(
        select(Run.id)
        .where(scope, Run.status == RunStatus.RUNNING)
        .order_by(Run.id)
        .with_for_update()
    )
