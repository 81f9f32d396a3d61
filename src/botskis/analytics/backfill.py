"""Adding to the rollups the finished runs they never counted: those that
finished before the rollups existed. Migration 0011 runs it once.

Every run that finished after the rollups were created was counted as it
finished, so the uncounted runs are exactly those that finished before the
earliest counted one. That run's hour is the earliest hourly bucket of any
rollup: runs that finished before it are all uncounted, runs after it all
counted, and in that hour an agent's counted runs are its latest ones, as many
as its rollup row for the hour holds. Retention prunes the oldest runs first,
so the rule still holds after pruning, and a second pass finds nothing to add.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, select

from botskis.analytics.models import Granularity
from botskis.analytics.rollups import (
    ACCOUNT_ROLLUPS,
    AGENT_ROLLUPS,
    FinishedRun,
    rollup_deltas,
    upserts,
)
from botskis.runs.models import FINISHED_STATUSES, Run, RunStatus, RunStep

RUNS = Run.__table__
STEPS = RunStep.__table__
BATCH = 2_000
HOUR = Granularity.HOUR.value
COLUMNS = (
    RUNS.c.id,
    RUNS.c.agent_id,
    RUNS.c.owner_id,
    RUNS.c.template_slug,
    RUNS.c.status,
    RUNS.c.finished_at,
    RUNS.c.duration_ms,
    RUNS.c.auto_healed,
    RUNS.c.error_fingerprint,
    RUNS.c.error_kind,
    RUNS.c.error_message,
    RUNS.c.error_step,
)


def _finished() -> ColumnElement[bool]:
    return and_(
        RUNS.c.status.in_(list(FINISHED_STATUSES)),
        RUNS.c.finished_at.is_not(None),
    )


def first_counted_hour(connection: Connection) -> datetime | None:
    """The earliest hourly bucket of any rollup (agents since deleted included)."""
    firsts = [
        connection.scalar(select(func.min(table.c.bucket)).where(table.c.granularity == HOUR))
        for table in (AGENT_ROLLUPS, ACCOUNT_ROLLUPS)
    ]
    found = [first for first in firsts if first is not None]
    return min(found) if found else None


def _tokens(connection: Connection, run_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    rows = connection.execute(
        select(STEPS.c.run_id, func.coalesce(func.sum(STEPS.c.tokens), 0))
        .where(STEPS.c.run_id.in_(run_ids), STEPS.c.tokens.is_not(None))
        .group_by(STEPS.c.run_id)
    )
    return {run_id: int(tokens or 0) for run_id, tokens in rows.tuples()}


def _finished_runs(connection: Connection, rows: list[Any]) -> list[FinishedRun]:
    tokens = _tokens(connection, [row.id for row in rows]) if rows else {}
    return [
        FinishedRun(
            run_id=row.id,
            agent_id=row.agent_id,
            owner_id=row.owner_id,
            template_slug=row.template_slug,
            status=RunStatus(row.status),
            finished_at=row.finished_at,
            duration_ms=row.duration_ms,
            auto_healed=bool(row.auto_healed),
            error_fingerprint=row.error_fingerprint,
            error_kind=row.error_kind,
            error_message=row.error_message,
            error_step=row.error_step,
            tokens=tokens.get(row.id, 0),
        )
        for row in rows
    ]


def _before(connection: Connection, first: datetime | None) -> Iterator[list[Any]]:
    """Finished runs before `first` (all of them without it), a batch at a time in
    primary-key order: the sums do not depend on the order runs are added in."""
    condition = _finished() if first is None else and_(_finished(), RUNS.c.finished_at < first)
    last: uuid.UUID | None = None
    while True:
        query = select(*COLUMNS).where(condition).order_by(RUNS.c.id).limit(BATCH)
        if last is not None:
            query = query.where(RUNS.c.id > last)
        rows = list(connection.execute(query))
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _uncounted_in_first_hour(connection: Connection, first: datetime) -> list[Any]:
    """Of each agent's runs in the first counted hour, all but its latest ones,
    as many as its rollup row for that hour counts."""
    counted = {
        row.agent_id: int(row.succeeded + row.failed + row.cancelled)
        for row in connection.execute(
            select(
                AGENT_ROLLUPS.c.agent_id,
                AGENT_ROLLUPS.c.succeeded,
                AGENT_ROLLUPS.c.failed,
                AGENT_ROLLUPS.c.cancelled,
            ).where(AGENT_ROLLUPS.c.granularity == HOUR, AGENT_ROLLUPS.c.bucket == first)
        )
    }
    by_agent: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in connection.execute(
        select(*COLUMNS)
        .where(
            _finished(),
            RUNS.c.finished_at >= first,
            RUNS.c.finished_at < first + timedelta(hours=1),
        )
        .order_by(RUNS.c.agent_id, RUNS.c.finished_at.desc(), RUNS.c.id.desc())
    ):
        by_agent[row.agent_id].append(row)
    return [row for agent_id, rows in by_agent.items() for row in rows[counted.get(agent_id, 0) :]]


def _add(connection: Connection, rows: list[Any], price_per_million_tokens: float) -> None:
    deltas = rollup_deltas(_finished_runs(connection, rows), price_per_million_tokens)
    for statement, values in upserts(connection.dialect.name, deltas):
        connection.execute(statement, values)


def backfill_rollups(connection: Connection, *, price_per_million_tokens: float) -> int:
    """Add every finished run the rollups have not counted; return how many."""
    first = first_counted_hour(connection)
    added = 0
    for rows in _before(connection, first):
        _add(connection, rows, price_per_million_tokens)
        added += len(rows)
    if first is not None:
        rows = _uncounted_in_first_hour(connection, first)
        if rows:
            _add(connection, rows, price_per_million_tokens)
        added += len(rows)
    return added
