"""The dashboard numbers pushed as `metrics_update`: agents by status, and the
runs of today (UTC) by status, finished ones read from the account's rollup of
the day and the ones still queued or running counted live."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from botskis.agents.models import Agent, AgentStatus
from botskis.analytics import service as analytics
from botskis.analytics.ranges import Span
from botskis.database.connection import Database
from botskis.runs.models import QUEUED, RUNNING, Run, RunStatus


async def dashboard_metrics(database: Database, user_id: uuid.UUID) -> dict[str, Any]:
    """Agents by status; today's (UTC) runs by status and their success rate."""
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    async with database.transaction() as session:
        agent_rows = await session.execute(
            select(Agent.status, func.count())
            .where(Agent.owner_id == user_id)
            .group_by(Agent.status)
        )
        unfinished = await session.execute(
            select(Run.status, func.count())
            .where(Run.owner_id == user_id, Run.status.in_((QUEUED, RUNNING)))
            .group_by(Run.status)
        )
        today = await analytics.totals(
            session,
            analytics.ACCOUNT_ROLLUPS,
            analytics.ACCOUNT_ROLLUPS.c.owner_id == user_id,
            Span.covering(midnight, now),
        )
    agents = dict.fromkeys(AgentStatus, 0)
    agents.update({status: count for status, count in agent_rows.tuples()})
    runs = dict.fromkeys(RunStatus, 0)
    runs.update({status: count for status, count in unfinished.tuples()})
    runs[RunStatus.SUCCEEDED] = today.succeeded
    runs[RunStatus.FAILED] = today.failed
    runs[RunStatus.CANCELLED] = today.cancelled
    return {
        "agents": {"total": sum(agents.values()), "by_status": agents},
        "runs_today": {"total": sum(runs.values()), "by_status": runs},
        "success_rate": today.success_rate,
    }
