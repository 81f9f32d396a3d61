"""Error analytics, agent health and system health, measured from the runs table."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.agents.models import Agent, AgentStatus
from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.monitoring import schemas
from botskis.monitoring.fingerprints import normalise_message
from botskis.runs.models import QUEUED, RUNNING, AgentHealing, Run, RunStatus, Worker

MAX_GROUPS = 100
# Percentiles are taken over at most this many recent finished runs.
DURATION_SAMPLE = 5000


async def error_groups(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    agent_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> schemas.ErrorGroups:
    conditions = [
        Run.owner_id == owner_id,
        Run.status == RunStatus.FAILED,
        Run.error_fingerprint.is_not(None),
    ]
    if agent_id is not None:
        conditions.append(Run.agent_id == agent_id)
    if since is not None:
        conditions.append(Run.finished_at >= since)
    if until is not None:
        conditions.append(Run.finished_at <= until)
    rows = (
        await session.execute(
            select(
                Run.error_fingerprint,
                func.count(),
                func.min(Run.finished_at),
                func.max(Run.finished_at),
            )
            .where(*conditions)
            .group_by(Run.error_fingerprint)
            .order_by(func.count().desc(), func.max(Run.finished_at).desc())
            .limit(MAX_GROUPS)
        )
    ).all()
    total = sum(count for _fp, count, _first, _last in rows)
    items = []
    for fingerprint, count, first, last in rows:
        sample = await session.scalar(
            select(Run)
            .where(*conditions, Run.error_fingerprint == fingerprint)
            .order_by(Run.finished_at.desc())
            .limit(1)
        )
        if sample is None:
            continue
        items.append(
            schemas.ErrorGroup(
                fingerprint=fingerprint,
                error_kind=sample.error_kind,
                message=normalise_message(sample.error_message),
                step=sample.error_step,
                template_slug=sample.template_slug,
                count=count,
                first_seen=first,
                last_seen=last,
                sample_run_id=sample.id,
                sample_agent_id=sample.agent_id,
                sample_message=sample.error_message,
            )
        )
    return schemas.ErrorGroups(items=items, total_failed_runs=total)


def percentile(sorted_values: list[int], fraction: float) -> int | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


async def agent_health(session: AsyncSession, agent: Agent) -> schemas.AgentHealth:
    now = utcnow()
    day, week = now - timedelta(hours=24), now - timedelta(days=7)
    counts = {
        status: count
        for status, count in await session.execute(
            select(Run.status, func.count())
            .where(Run.agent_id == agent.id, Run.created_at >= week)
            .group_by(Run.status)
        )
    }
    runs_24h = await session.scalar(
        select(func.count()).select_from(Run).where(Run.agent_id == agent.id, Run.created_at >= day)
    )
    durations = sorted(
        duration
        for duration in await session.scalars(
            select(Run.duration_ms)
            .where(
                Run.agent_id == agent.id,
                Run.created_at >= week,
                Run.status.in_((RunStatus.SUCCEEDED, RunStatus.FAILED)),
                Run.duration_ms.is_not(None),
            )
            .order_by(Run.created_at.desc())
            .limit(DURATION_SAMPLE)
        )
        if duration is not None
    )
    succeeded, failed = counts.get(RunStatus.SUCCEEDED, 0), counts.get(RunStatus.FAILED, 0)
    healing = await session.get(AgentHealing, agent.id)
    return schemas.AgentHealth(
        agent_id=agent.id,
        status=agent.status,
        status_reason=agent.status_reason,
        success_rate=(succeeded / (succeeded + failed)) if succeeded + failed else None,
        runs_24h=runs_24h or 0,
        runs_7d=sum(counts.values()),
        succeeded_7d=succeeded,
        failed_7d=failed,
        p50_duration_ms=percentile(durations, 0.5),
        p95_duration_ms=percentile(durations, 0.95),
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
