"""Analytics read from the rollups: totals, time series, failing agents, error
groups and time saved. Every query is bounded by the range asked (see
`ranges.Span`), never by how many runs exist."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.agents.models import Agent
from botskis.analytics import schemas
from botskis.analytics.errors import InvalidRange
from botskis.analytics.models import (
    COUNTER_COLUMNS,
    HISTOGRAM_COLUMNS,
    AccountRollup,
    AgentRollup,
    ErrorFingerprint,
    ErrorRollup,
    Granularity,
)
from botskis.analytics.ranges import STEP, Span, floor_to, histogram_percentile

AGENT_ROLLUPS: Table = AgentRollup.__table__  # type: ignore[assignment]
ACCOUNT_ROLLUPS: Table = AccountRollup.__table__  # type: ignore[assignment]
ERROR_ROLLUPS: Table = ErrorRollup.__table__  # type: ignore[assignment]
MAX_SPAN = {Granularity.HOUR: timedelta(days=31), Granularity.DAY: timedelta(days=400)}
DEFAULT_SPAN = timedelta(days=7)
TOP_AGENTS = 10
TOP_ERRORS = 10


@dataclass(frozen=True)
class Range:
    """A validated analytics range."""

    start: datetime
    end: datetime
    granularity: Granularity

    @property
    def span(self) -> Span:
        return Span.covering(self.start, self.end)

    @property
    def previous(self) -> Span:
        """The equally long span just before this one (for trends)."""
        span = self.span
        return Span(span.start - (span.end - span.start), span.start)


def checked_range(
    start: datetime | None, end: datetime | None, granularity: Granularity, now: datetime
) -> Range:
    end = end or now
    start = start or end - DEFAULT_SPAN
    if start >= end:
        raise InvalidRange("from", "must be before 'to'")
    if end - start > MAX_SPAN[granularity]:
        days = MAX_SPAN[granularity].days
        raise InvalidRange(
            "to", f"a range at {granularity.value} granularity spans at most {days} days"
        )
    return Range(start, end, granularity)


def _sums(table: Table) -> list[Any]:
    return [
        *(func.coalesce(func.sum(table.c[name]), 0).label(name) for name in COUNTER_COLUMNS),
        func.coalesce(func.max(table.c.duration_max_ms), 0).label("duration_max_ms"),
    ]


def figures(row: Any) -> schemas.RunFigures:
    values = {
        name: int(getattr(row, name, 0) or 0) for name in (*COUNTER_COLUMNS, "duration_max_ms")
    }
    decided = values["succeeded"] + values["failed"]
    histogram = [values[name] for name in HISTOGRAM_COLUMNS]
    count, longest = values["duration_count"], values["duration_max_ms"]
    return schemas.RunFigures(
        runs=decided + values["cancelled"],
        succeeded=values["succeeded"],
        failed=values["failed"],
        cancelled=values["cancelled"],
        auto_healed=values["auto_healed"],
        success_rate=round(values["succeeded"] / decided, 4) if decided else None,
        avg_duration_ms=round(values["duration_sum_ms"] / count) if count else None,
        p50_duration_ms=histogram_percentile(histogram, 0.50, longest),
        p95_duration_ms=histogram_percentile(histogram, 0.95, longest),
        p99_duration_ms=histogram_percentile(histogram, 0.99, longest),
        tokens=values["tokens"],
        cost_usd=values["cost_micros"] / 1_000_000,
    )


async def totals(
    session: AsyncSession, table: Table, scope: ColumnElement[bool], span: Span
) -> schemas.RunFigures:
    row = (await session.execute(select(*_sums(table)).where(scope, span.buckets(table)))).one()
    return figures(row)


async def series(
    session: AsyncSession, table: Table, scope: ColumnElement[bool], window: Range
) -> list[schemas.SeriesPoint]:
    """One point per bucket of the range's granularity, empty buckets included."""
    span = window.span
    first = floor_to(span.start, window.granularity)
    rows = await session.execute(
        select(table.c.bucket, *_sums(table))
        .where(
            scope,
            table.c.granularity == window.granularity.value,
            table.c.bucket >= first,
            table.c.bucket < span.end,
        )
        .group_by(table.c.bucket)
    )
    found = {row.bucket: figures(row) for row in rows}
    empty = figures(None)
    points = []
    bucket = first
    while bucket < span.end:
        point = found.get(bucket, empty)
        points.append(schemas.SeriesPoint(bucket=bucket, **point.model_dump()))
        bucket += STEP[window.granularity]
    return points


def _error_scope(owner_id: uuid.UUID, agent_id: uuid.UUID | None) -> ColumnElement[bool]:
    scope = ERROR_ROLLUPS.c.owner_id == owner_id
    if agent_id is not None:
        scope = and_(scope, ERROR_ROLLUPS.c.agent_id == agent_id)
    return scope


async def error_counts(
    session: AsyncSession,
    owner_id: uuid.UUID,
    span: Span,
    *,
    agent_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    fingerprints: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Any]:
    """Per fingerprint: failures, first and last seen, most frequent first.
    `since`/`until` also drop bucket rows whose failures all lie outside them."""
    table = ERROR_ROLLUPS
    conditions = [_error_scope(owner_id, agent_id), span.buckets(table)]
    if since is not None:
        conditions.append(table.c.last_seen >= since)
    if until is not None:
        conditions.append(table.c.first_seen <= until)
    if fingerprints is not None:
        conditions.append(table.c.fingerprint.in_(list(fingerprints)))
    total = func.sum(table.c["count"])
    query = (
        select(
            table.c.fingerprint,
            total.label("count"),
            func.min(table.c.first_seen).label("first_seen"),
            func.max(table.c.last_seen).label("last_seen"),
        )
        .where(*conditions)
        .group_by(table.c.fingerprint)
        .order_by(total.desc(), func.max(table.c.last_seen).desc(), table.c.fingerprint)
    )
    if limit is not None:
        query = query.limit(limit)
    return list((await session.execute(query)).all())


async def latest_failures(
    session: AsyncSession,
    owner_id: uuid.UUID,
    span: Span,
    fingerprints: Sequence[str],
    *,
    agent_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Per fingerprint: its latest failure in the span (agent, run, message)
    and what the fingerprint stands for, in one statement."""
    if not fingerprints:
        return {}
    table = ERROR_ROLLUPS
    latest = (
        select(
            table.c.fingerprint,
            table.c.agent_id,
            table.c.sample_run_id,
            table.c.sample_message,
            func.row_number()
            .over(partition_by=table.c.fingerprint, order_by=table.c.last_seen.desc())
            .label("rank"),
        )
        .where(
            _error_scope(owner_id, agent_id),
            span.buckets(table),
            table.c.fingerprint.in_(list(fingerprints)),
        )
        .subquery()
    )
    described = ErrorFingerprint.__table__
    rows = await session.execute(
        select(
            latest.c.fingerprint,
            latest.c.agent_id,
            latest.c.sample_run_id,
            latest.c.sample_message,
            described.c.error_kind,
            described.c.message,
            described.c.step,
            described.c.template_slug,
        )
        .join(described, described.c.fingerprint == latest.c.fingerprint)
        .where(latest.c.rank == 1)
    )
    return {row.fingerprint: row for row in rows}


def _trend(count: int, previous: int) -> str:
    if previous == 0:
        return "new"
    if count > previous * 1.1:
        return "rising"
    if count < previous * 0.9:
        return "falling"
    return "steady"


async def top_errors(
    session: AsyncSession, owner_id: uuid.UUID, window: Range, agent_id: uuid.UUID | None = None
) -> list[schemas.TopError]:
    """The most frequent fingerprints of the range, each with its count over the
    equally long span before (one statement), then their latest failures."""
    table = ERROR_ROLLUPS
    span, before = window.span, window.previous
    in_span = span.buckets(table)
    count = func.coalesce(func.sum(table.c["count"]).filter(in_span), 0)
    last_seen = func.max(table.c.last_seen).filter(in_span)
    current = (
        await session.execute(
            select(
                table.c.fingerprint,
                count.label("failures"),
                func.coalesce(func.sum(table.c["count"]).filter(before.buckets(table)), 0).label(
                    "previous"
                ),
                last_seen.label("last_seen"),
            )
            .where(_error_scope(owner_id, agent_id), or_(in_span, before.buckets(table)))
            .group_by(table.c.fingerprint)
            .having(count > 0)
            .order_by(count.desc(), last_seen.desc(), table.c.fingerprint)
            .limit(TOP_ERRORS)
        )
    ).all()
    latest = await latest_failures(
        session, owner_id, span, [row.fingerprint for row in current], agent_id=agent_id
    )
    items = []
    for row in current:
        sample = latest.get(row.fingerprint)
        items.append(
            schemas.TopError(
                fingerprint=row.fingerprint,
                error_kind=sample.error_kind if sample else None,
                message=sample.message if sample else "",
                step=sample.step if sample else None,
                template_slug=sample.template_slug if sample else "",
                count=int(row.failures),
                previous_count=int(row.previous),
                trend=_trend(int(row.failures), int(row.previous)),  # type: ignore[arg-type]
                last_seen=row.last_seen,
                sample_run_id=sample.sample_run_id if sample else None,
                sample_agent_id=sample.agent_id if sample else None,
            )
        )
    return items


async def agent_figures(session: AsyncSession, scope: ColumnElement[bool], span: Span) -> list[Any]:
    """Per agent in scope: failed, succeeded and cancelled runs, and the minutes
    its successes saved. Time saved and the top failing agents both come from
    these rows, so a page reads the agents' rollups once."""
    table = AGENT_ROLLUPS
    rows = await session.execute(
        select(
            table.c.agent_id,
            Agent.name,
            func.sum(table.c.failed).label("failed"),
            func.sum(table.c.succeeded).label("succeeded"),
            func.sum(table.c.cancelled).label("cancelled"),
            func.sum(table.c.succeeded * Agent.minutes_saved_per_run).label("minutes"),
        )
        .select_from(table)
        .join(Agent, Agent.id == table.c.agent_id)
        .where(scope, span.buckets(table))
        .group_by(table.c.agent_id, Agent.name)
    )
    return list(rows.all())


def top_failing_agents(rows: list[Any]) -> list[schemas.FailingAgent]:
    failing = sorted(
        (row for row in rows if int(row.failed) > 0),
        key=lambda row: (-int(row.failed), row.agent_id),
    )
    agents = []
    for row in failing[:TOP_AGENTS]:
        decided = int(row.succeeded) + int(row.failed)
        agents.append(
            schemas.FailingAgent(
                agent_id=row.agent_id,
                name=row.name,
                failed=int(row.failed),
                runs=decided + int(row.cancelled),
                success_rate=round(int(row.succeeded) / decided, 4) if decided else None,
            )
        )
    return agents


def time_saved(rows: list[Any]) -> schemas.TimeSaved:
    return _minutes(float(sum(row.minutes or 0 for row in rows)))


def time_saved_by(succeeded: int, minutes_per_run: float) -> schemas.TimeSaved:
    """One agent's time saved: its successes times its current minutes per run."""
    return _minutes(succeeded * minutes_per_run)


def _minutes(value: float) -> schemas.TimeSaved:
    return schemas.TimeSaved(minutes=round(value, 2), hours=round(value / 60, 2))


async def overview(session: AsyncSession, owner_id: uuid.UUID, window: Range) -> schemas.Overview:
    account = ACCOUNT_ROLLUPS.c.owner_id == owner_id
    span = window.span
    agents = await agent_figures(session, AGENT_ROLLUPS.c.owner_id == owner_id, span)
    return schemas.Overview(
        start=window.start,
        end=window.end,
        granularity=window.granularity,
        totals=await totals(session, ACCOUNT_ROLLUPS, account, span),
        series=await series(session, ACCOUNT_ROLLUPS, account, window),
        top_errors=await top_errors(session, owner_id, window),
        time_saved=time_saved(agents),
        top_failing_agents=top_failing_agents(agents),
    )


async def agent_analytics(
    session: AsyncSession, agent: Agent, window: Range
) -> schemas.AgentAnalytics:
    scope = AGENT_ROLLUPS.c.agent_id == agent.id
    span = window.span
    whole = await totals(session, AGENT_ROLLUPS, scope, span)
    return schemas.AgentAnalytics(
        start=window.start,
        end=window.end,
        granularity=window.granularity,
        agent_id=agent.id,
        minutes_saved_per_run=agent.minutes_saved_per_run,
        totals=whole,
        series=await series(session, AGENT_ROLLUPS, scope, window),
        top_errors=await top_errors(session, agent.owner_id, window, agent.id),
        time_saved=time_saved_by(whole.succeeded, agent.minutes_saved_per_run),
    )
