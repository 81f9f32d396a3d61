"""The dashboard numbers pushed as `metrics_update`, read from agents and runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from botskis.agents.models import Agent, AgentStatus
from botskis.database.connection import Database
from botskis.runs.models import Run, RunStatus


async def dashboard_metrics(database: Database, user_id: uuid.UUID) -> dict[str, Any]:
    """Agents by status; today's (UTC) runs by status and their success rate."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    async with database.transaction() as session:
        agent_rows = await session.execute(
            select(Agent.status, func.count())
            .where(Agent.owner_id == user_id)
            .group_by(Agent.status)
        )
        run_rows = await session.execute(
            select(Run.status, func.count())
            .where(Run.owner_id == user_id, Run.created_at >= midnight)
            .group_by(Run.status)
        )
    agents = dict.fromkeys(AgentStatus, 0)
    agents.update({status: count for status, count in agent_rows.tuples()})
    runs = dict.fromkeys(RunStatus, 0)
    runs.update({status: count for status, count in run_rows.tuples()})
    finished = runs[RunStatus.SUCCEEDED] + runs[RunStatus.FAILED]
    return {
        "agents": {"total": sum(agents.values()), "by_status": agents},
        "runs_today": {"total": sum(runs.values()), "by_status": runs},
        "success_rate": round(runs[RunStatus.SUCCEEDED] / finished, 4) if finished else None,
    }
