"""Schedules: fire each due time of an active agent exactly once.

Every worker ticks the scheduler; the due slot is claimed with a conditional
update (`SET next_run_at = <next> WHERE id = .. AND next_run_at = <old>`), so
however many processes tick, one of them queues the run.

Catch-up policy: the next due time is computed from *now*, not from the missed
slot. After downtime an agent gets at most one catch-up run (for the latest
missed slot, with `scheduled_for` in its input) and then continues on its
regular schedule; missed slots in between are not replayed.
"""

from __future__ import annotations

from loguru import logger
from sqlalchemy import select, update

from botskis.agents.models import Agent, AgentStatus
from botskis.agents.triggers import next_run_at
from botskis.billing.service import admit_run
from botskis.config import Settings
from botskis.core.errors import AppError
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.runs.service import enqueue_run

TICK_SECONDS = 1.0
BATCH = 200


async def fire_due_schedules(database: Database, settings: Settings) -> int:
    """Queue one run for each active agent whose schedule is due; return how many."""
    now = utcnow()
    async with database.transaction() as session:
        due = (
            await session.execute(
                select(Agent.id, Agent.next_run_at)
                .where(Agent.status == AgentStatus.ACTIVE, Agent.next_run_at <= now)
                .order_by(Agent.next_run_at)
                .limit(BATCH)
            )
        ).all()
    fired = 0
    for agent_id, slot in due:
        if slot is None:
            continue
        try:
            async with database.transaction() as session:
                agent = await session.get(Agent, agent_id)
                if agent is None:
                    continue
                following = next_run_at(agent.trigger, max(now, slot))
                claimed = await session.execute(
                    update(Agent)
                    .where(
                        Agent.id == agent_id,
                        Agent.next_run_at == slot,
                        Agent.status == AgentStatus.ACTIVE,
                    )
                    .values(next_run_at=following)
                    .execution_options(synchronize_session=False)
                )
                if getattr(claimed, "rowcount", 0) != 1 or agent.trigger.get("type") != "schedule":
                    continue
                await admit_run(session, agent.owner_id)
                await enqueue_run(
                    session, agent, trigger="schedule", input={"scheduled_for": slot.isoformat()}
                )
                fired += 1
        except AppError as refused:
            # Over quota or template gone: the slot is consumed without a run.
            logger.bind(agent_id=str(agent_id)).warning("scheduled run skipped: {}", refused.detail)
            async with database.transaction() as session:
                agent = await session.get(Agent, agent_id)
                if agent is not None and agent.next_run_at == slot:
                    agent.next_run_at = next_run_at(agent.trigger, max(now, slot))
    return fired
