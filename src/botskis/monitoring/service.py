"""Error groups and agent health, read from the rollups; system health, measured
from the runs and workers tables."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import overload

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.agents.models import Agent, AgentStatus
from botskis.analytics import service as analytics
from botskis.analytics.ranges import Span
from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.monitoring import schemas
from botskis.runs.models import QUEUED, RUNNING, AgentHealing, Run, Worker

MAX_GROUPS = 100


async def error_groups(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    agent_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> schemas.ErrorGroups:
    """Read from the error rollups, to the hour: a bucket counts when it holds
    a failure inside [since, until]."""
    span = Span.covering(since, until or utcnow())
    counts = await analytics.error_counts(
        session, owner_id, span, agent_id=agent_id, since=since, until=until
    )
    top = counts[:MAX_GROUPS]
    fingerprints = [row.fingerprint for row in top]
    latest = await analytics.latest_failures(
        session, owner_id, span, fingerprints, agent_id=agent_id
    )
    items = []
    for row in top:
        sample = latest.get(row.fingerprint)
        if sample is None:
            continue
        items.append(
            schemas.ErrorGroup(
                fingerprint=row.fingerprint,
                error_kind=sample.error_kind,
                message=sample.message,
                step=sample.step,
                template_slug=sample.template_slug,
                count=int(row.count),
                first_seen=_aware(row.first_seen),
                last_seen=_aware(row.last_seen),
                sample_run_id=sample.sample_run_id,
                sample_agent_id=sample.agent_id,
                sample_message=sample.sample_message,
            )
        )
    return schemas.ErrorGroups(items=items, total_failed_runs=sum(int(row.count) for row in counts))


async def agent_health(session: AsyncSession, agent: Agent) -> schemas.AgentHealth:
    """Finished runs from the agent's rollups (to the hour), plus its runs that
    are still queued or running."""
    now = utcnow()
    table = analytics.AGENT_ROLLUPS
    scope = table.c.agent_id == agent.id
    week = await analytics.totals(
        session, table, scope, Span.covering(now - timedelta(days=7), now)
    )
    day = await analytics.totals(
        session, table, scope, Span.covering(now - timedelta(hours=24), now)
    )
    unfinished = (
        await session.scalar(
            select(func.count())
            .select_from(Run)
            .where(Run.agent_id == agent.id, Run.status.in_((QUEUED, RUNNING)))
        )
        or 0
    )
    healing = await session.get(AgentHealing, agent.id)
    return schemas.AgentHealth(
        agent_id=agent.id,
        status=agent.status,
        status_reason=agent.status_reason,
        success_rate=week.success_rate,
        runs_24h=day.runs + unfinished,
        runs_7d=week.runs + unfinished,
        succeeded_7d=week.succeeded,
        failed_7d=week.failed,
        p50_duration_ms=week.p50_duration_ms,
        p95_duration_ms=week.p95_duration_ms,
        consecutive_failures=agent.consecutive_failures,
        last_error=agent.last_error,
        last_run_at=agent.last_run_at,
        next_run_at=agent.next_run_at,
        next_probe_at=healing.probe_at if healing and agent.status == AgentStatus.FAILING else None,
    )


async def system_health(session: AsyncSession, settings: Settings) -> schemas.SystemHealth:
    now = utcnow()
    queue_depth, oldest = (
        await session.execute(
            select(func.count(), func.min(Run.queued_at)).where(Run.status == QUEUED)
        )
    ).one()
    running = await session.scalar(
        select(func.count()).select_from(Run).where(Run.status == RUNNING)
    )
    stale_after = timedelta(seconds=settings.worker_lease_seconds)
    workers = [
        schemas.WorkerHealth(
            id=w.id,
            hostname=w.hostname,
            pid=w.pid,
            started_at=w.started_at,
            last_heartbeat=w.last_heartbeat,
            running=w.running,
            stale=now - w.last_heartbeat > stale_after,
        )
        for w in await session.scalars(select(Worker).order_by(Worker.started_at))
    ]
    overdue, most_overdue = (
        await session.execute(
            select(func.count(), func.min(Agent.next_run_at)).where(
                Agent.status == AgentStatus.ACTIVE, Agent.next_run_at <= now
            )
        )
    ).one()
    oldest_at = _aware(oldest)
    lag_from = _aware(most_overdue)
    return schemas.SystemHealth(
        queue_depth=queue_depth,
        running=running or 0,
        oldest_queued_at=oldest_at,
        oldest_queued_age_seconds=(now - oldest_at).total_seconds() if oldest_at else None,
        workers=workers,
        scheduler_lag_seconds=(now - lag_from).total_seconds() if lag_from else 0.0,
        overdue_schedules=overdue,
    )


@overload
def _aware(value: datetime | str) -> datetime: ...
@overload
def _aware(value: None) -> None: ...
def _aware(value: datetime | str | None) -> datetime | None:
    """Aggregates bypass the column type on SQLite; bring them back to aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value
