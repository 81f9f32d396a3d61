"""Run retention: the worker deletes old finished runs and their step records.

A run is pruned when it finished more than `RUN_RETENTION_DAYS` ago by its
creation time, or when its agent has more than `RUN_RETENTION_PER_AGENT` newer
runs. Queued and running runs are never touched. Each batch is its own short
transaction that skips rows someone else has locked, so pruning never waits
behind, or holds up, a worker finishing runs. The rollups (`analytics/`) keep
the totals of what is pruned; the billing usage ledger is not touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import datetime, timedelta
from typing import Any

from loguru import logger
from sqlalchemy import delete, select

from botskis.agents.models import Agent
from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.runs.models import FINISHED_STATUSES, Run, RunStep

# Small enough that a batch's locks are held for milliseconds.
PRUNE_BATCH = 500
AGENT_PAGE = 500


async def prune_batch(database: Database, *conditions: Any) -> int:
    """Delete up to PRUNE_BATCH finished runs matching `conditions`, oldest first."""
    async with database.transaction() as session:
        ids = list(
            await session.scalars(
                select(Run.id)
                .where(*conditions, Run.status.in_(FINISHED_STATUSES))
                .order_by(Run.created_at)
                .limit(PRUNE_BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        if not ids:
            return 0
        await session.execute(delete(RunStep).where(RunStep.run_id.in_(ids)))
        await session.execute(
            delete(Run)
            .where(Run.id.in_(ids), Run.status.in_(FINISHED_STATUSES))
            .execution_options(synchronize_session=False)
        )
        return len(ids)


async def _prune_all(database: Database, *conditions: Any) -> int:
    pruned = 0
    while True:
        count = await prune_batch(database, *conditions)
        pruned += count
        if count < PRUNE_BATCH:
            return pruned


async def _oldest_kept(database: Database, agent_id: uuid.UUID, keep: int) -> datetime | None:
    """Creation time of the agent's `keep`-th newest run (None: it has fewer)."""
    async with database.transaction() as session:
        return await session.scalar(
            select(Run.created_at)
            .where(Run.agent_id == agent_id)
            .order_by(Run.created_at.desc())
            .offset(keep - 1)
            .limit(1)
        )


async def prune_runs(database: Database, settings: Settings, *, now: datetime | None = None) -> int:
    """One retention pass, agent by agent (every query walks the index on
    (agent_id, created_at)); returns how many runs it deleted."""
    age_cutoff = (now or utcnow()) - timedelta(days=settings.run_retention_days)
    pruned = 0
    after: uuid.UUID | None = None
    while True:
        async with database.transaction() as session:
            page = select(Agent.id).order_by(Agent.id).limit(AGENT_PAGE)
            if after is not None:
                page = page.where(Agent.id > after)
            agent_ids = list(await session.scalars(page))
        for agent_id in agent_ids:
            cutoff = age_cutoff
            oldest_kept = await _oldest_kept(database, agent_id, settings.run_retention_per_agent)
            if oldest_kept is not None:
                cutoff = max(cutoff, oldest_kept)
            pruned += await _prune_all(database, Run.agent_id == agent_id, Run.created_at < cutoff)
        if len(agent_ids) < AGENT_PAGE:
            return pruned
        after = agent_ids[-1]


async def retention_loop(database: Database, settings: Settings, stop: asyncio.Event) -> None:
    """Prune every RUN_RETENTION_INTERVAL_SECONDS until `stop` is set."""
    while not stop.is_set():
        try:
            pruned = await prune_runs(database, settings)
            if pruned:
                logger.bind(pruned=pruned).info("old runs pruned")
        except Exception:
            logger.exception("run retention pass failed")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(settings.run_retention_interval_seconds):
                await stop.wait()
