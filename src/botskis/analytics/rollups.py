"""Adding finished runs to the rollups, in the transaction that finishes them.

Every place that writes a run's final state (the run writer's batches, the
reclaim of runs past their timeout, cancellation) calls `add_finished_runs`
once, with the runs that transaction proved it finished: a run's status moves
out of `queued`/`running` exactly once, so it is counted exactly once, and a
retried write that finds the run already finished adds nothing. The deltas of
a whole batch are summed per rollup row first and written with one
`INSERT ... ON CONFLICT DO UPDATE SET x = x + excluded.x` per table, in key
order, so two transactions touching the same rows lock them in the same order.
"""

from __future__ import annotations

import bisect
import dataclasses
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.analytics.models import (
    COUNTER_COLUMNS,
    DURATION_BOUNDS_MS,
    HISTOGRAM_COLUMNS,
    AccountRollup,
    AgentRollup,
    ErrorFingerprint,
    ErrorRollup,
    Granularity,
)
from botskis.monitoring.fingerprints import normalise_message
from botskis.runs.models import FINISHED_STATUSES, Run, RunStatus, RunStep

AGENT_ROLLUPS: Table = AgentRollup.__table__  # type: ignore[assignment]
ACCOUNT_ROLLUPS: Table = AccountRollup.__table__  # type: ignore[assignment]
ERROR_ROLLUPS: Table = ErrorRollup.__table__  # type: ignore[assignment]
ERROR_FINGERPRINTS: Table = ErrorFingerprint.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class FinishedRun:
    """What the rollups need of a run whose final state is being written."""

    run_id: uuid.UUID
    agent_id: uuid.UUID
    owner_id: uuid.UUID
    template_slug: str
    status: RunStatus
    finished_at: datetime
    duration_ms: int | None
    auto_healed: bool
    error_fingerprint: str | None = None
    error_kind: str | None = None
    error_message: str | None = None
    error_step: str | None = None
    tokens: int = 0


def finished_run(run: Run, columns: Mapping[str, Any] | None = None) -> FinishedRun:
    """The run with its final values: from `columns` (what an UPDATE binds) where
    given, else from the run object itself."""
    values = columns or {}

    def value(name: str) -> Any:
        return values[name] if name in values else getattr(run, name)

    return FinishedRun(
        run_id=run.id,
        agent_id=run.agent_id,
        owner_id=run.owner_id,
        template_slug=run.template_slug,
        status=RunStatus(value("status")),
        finished_at=value("finished_at"),
        duration_ms=value("duration_ms"),
        auto_healed=bool(value("auto_healed")),
        error_fingerprint=value("error_fingerprint"),
        error_kind=value("error_kind"),
        error_message=value("error_message"),
        error_step=value("error_step"),
    )


def bucket_start(moment: datetime, granularity: Granularity) -> datetime:
    hour = moment.replace(minute=0, second=0, microsecond=0)
    return hour if granularity is Granularity.HOUR else hour.replace(hour=0)


def histogram_column(duration_ms: int) -> str:
    return HISTOGRAM_COLUMNS[bisect.bisect_left(DURATION_BOUNDS_MS, duration_ms)]


@dataclass
class Deltas:
    """A batch's additions, summed per rollup row."""

    agents: dict[tuple[uuid.UUID, str, datetime], dict[str, Any]] = field(default_factory=dict)
    accounts: dict[tuple[uuid.UUID, str, datetime], dict[str, Any]] = field(default_factory=dict)
    errors: dict[tuple[uuid.UUID, str, datetime, str], dict[str, Any]] = field(default_factory=dict)
    fingerprints: dict[str, dict[str, Any]] = field(default_factory=dict)


def _blank_counters() -> dict[str, Any]:
    return {**dict.fromkeys(COUNTER_COLUMNS, 0), "duration_max_ms": 0}


def _count(counters: dict[str, Any], run: FinishedRun, cost_micros: int) -> None:
    if run.status in FINISHED_STATUSES:
        counters[run.status.value] += 1
    counters["auto_healed"] += int(run.auto_healed)
    counters["tokens"] += run.tokens
    counters["cost_micros"] += cost_micros
    if run.status is not RunStatus.CANCELLED and run.duration_ms is not None:
        counters["duration_count"] += 1
        counters["duration_sum_ms"] += run.duration_ms
        counters["duration_max_ms"] = max(counters["duration_max_ms"], run.duration_ms)
        counters[histogram_column(run.duration_ms)] += 1


def _count_error(errors: dict[str, Any] | None, run: FinishedRun) -> dict[str, Any]:
    if errors is None:
        errors = {
            "count": 0,
            "first_seen": run.finished_at,
            "last_seen": run.finished_at,
            "sample_run_id": run.run_id,
            "sample_message": run.error_message,
        }
    errors["count"] += 1
    errors["first_seen"] = min(errors["first_seen"], run.finished_at)
    if run.finished_at >= errors["last_seen"]:
        errors["last_seen"] = run.finished_at
        errors["sample_run_id"] = run.run_id
        errors["sample_message"] = run.error_message
    return errors


def rollup_deltas(runs: Iterable[FinishedRun], price_per_million_tokens: float) -> Deltas:
    """Sum the runs into per-row additions (a pure function: the bench seeds
    its rollups with it too)."""
    deltas = Deltas()
    for run in runs:
        cost = round(run.tokens * price_per_million_tokens)
        for granularity in Granularity:
            bucket = bucket_start(run.finished_at, granularity)
            agent_key = (run.agent_id, granularity.value, bucket)
            account_key = (run.owner_id, granularity.value, bucket)
            agent = deltas.agents.setdefault(agent_key, {"owner_id": run.owner_id})
            for counters in (agent, deltas.accounts.setdefault(account_key, {})):
                if "succeeded" not in counters:
                    counters.update(_blank_counters())
                _count(counters, run, cost)
            if run.status is RunStatus.FAILED and run.error_fingerprint is not None:
                key = (run.agent_id, granularity.value, bucket, run.error_fingerprint)
                errors = _count_error(deltas.errors.get(key), run)
                errors["owner_id"] = run.owner_id
                deltas.errors[key] = errors
        if run.status is RunStatus.FAILED and run.error_fingerprint is not None:
            deltas.fingerprints.setdefault(
                run.error_fingerprint,
                {
                    "error_kind": run.error_kind,
                    "message": normalise_message(run.error_message),
                    "step": run.error_step,
                    "template_slug": run.template_slug,
                },
            )
    return deltas


def _insert(dialect: str, table: Table) -> Any:
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _later(table: Table, excluded: Any, column: str) -> Any:
    """The newer of the stored and the excluded value (portable, unlike GREATEST)."""
    return case((excluded[column] > table.c[column], excluded[column]), else_=table.c[column])


def upserts(dialect: str, deltas: Deltas) -> list[tuple[Any, list[dict[str, Any]]]]:
    """The statements and their rows, each table's rows in key order."""
    statements: list[tuple[Any, list[dict[str, Any]]]] = []
    for table, keys, rows in (
        (AGENT_ROLLUPS, ("agent_id", "granularity", "bucket"), deltas.agents),
        (ACCOUNT_ROLLUPS, ("owner_id", "granularity", "bucket"), deltas.accounts),
    ):
        if not rows:
            continue
        insert = _insert(dialect, table)
        excluded = insert.excluded
        sets: dict[str, Any] = {name: table.c[name] + excluded[name] for name in COUNTER_COLUMNS}
        sets["duration_max_ms"] = _later(table, excluded, "duration_max_ms")
        statements.append(
            (
                insert.on_conflict_do_update(index_elements=list(keys), set_=sets),
                [
                    dict(zip(keys, key, strict=True), **values)
                    for key, values in sorted(rows.items())
                ],
            )
        )
    if deltas.fingerprints:
        insert = _insert(dialect, ERROR_FINGERPRINTS)
        statements.append(
            (
                insert.on_conflict_do_nothing(index_elements=["fingerprint"]),
                [{"fingerprint": fp, **meta} for fp, meta in sorted(deltas.fingerprints.items())],
            )
        )
    if deltas.errors:
        table = ERROR_ROLLUPS
        insert = _insert(dialect, table)
        excluded = insert.excluded
        newer = excluded.last_seen >= table.c.last_seen
        error_keys = ("agent_id", "granularity", "bucket", "fingerprint")
        statements.append(
            (
                insert.on_conflict_do_update(
                    index_elements=list(error_keys),
                    set_={
                        "count": table.c["count"] + excluded["count"],
                        "first_seen": case(
                            (excluded.first_seen < table.c.first_seen, excluded.first_seen),
                            else_=table.c.first_seen,
                        ),
                        "last_seen": _later(table, excluded, "last_seen"),
                        "sample_run_id": case(
                            (newer, excluded.sample_run_id), else_=table.c.sample_run_id
                        ),
                        "sample_message": case(
                            (newer, excluded.sample_message), else_=table.c.sample_message
                        ),
                    },
                ),
                [
                    dict(zip(error_keys, key, strict=True), **values)
                    for key, values in sorted(deltas.errors.items())
                ],
            )
        )
    return statements


async def _tokens(session: AsyncSession, run_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Tokens of every step record of the runs, this transaction's included."""
    rows = await session.execute(
        select(RunStep.run_id, func.coalesce(func.sum(RunStep.tokens), 0))
        .where(RunStep.run_id.in_(run_ids), RunStep.tokens.is_not(None))
        .group_by(RunStep.run_id)
    )
    return {run_id: int(tokens or 0) for run_id, tokens in rows.tuples()}


async def add_finished_runs(
    session: AsyncSession, runs: list[FinishedRun], *, price_per_million_tokens: float
) -> None:
    """Add runs whose final state this transaction writes to every rollup.

    Called after the step records of the same transaction are inserted, so a
    run's tokens are all of its steps'."""
    if not runs:
        return
    tokens = await _tokens(session, [run.run_id for run in runs])
    priced = [dataclasses.replace(run, tokens=tokens.get(run.run_id, 0)) for run in runs]
    deltas = rollup_deltas(priced, price_per_million_tokens)
    dialect = session.get_bind().dialect.name
    for statement, rows in upserts(dialect, deltas):
        await session.execute(statement, rows)
