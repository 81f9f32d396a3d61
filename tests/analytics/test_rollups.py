"""The rollups equal what the raw rows add up to, for random run histories that
finish through every path (the run writer's batches, a batch that fails and is
retried run by run, a finish written twice, cancellation, reclaim past the
timeout), and they keep those totals after retention prunes the rows."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.analytics.models import (
    DURATION_BOUNDS_MS,
    HISTOGRAM_COLUMNS,
    AccountRollup,
    AgentRollup,
    ErrorRollup,
)
from botskis.billing.models import MonthlyUsage
from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.execution.engine import ClaimedRun
from botskis.monitoring.fingerprints import error_fingerprint
from botskis.queue.worker import claim_runs, reclaim_expired
from botskis.queue.writer import LeaseLost, RunEnding, RunFinal, RunWrite, RunWriter
from botskis.runs import service as runs_service
from botskis.runs.errors import RunNotCancellable
from botskis.runs.models import Run, RunStep
from botskis.runs.retention import prune_runs
from tests.conftest import make_settings
from tests.runs.factories import THREE_STEPS, create_agent, queue_run
from tests.users.factories import sign_up

WORKER_ID = "rollup-test-worker"
PRICE = 0.6
MESSAGES = [
    ("http_error", "vendor answered 500 for order 12", "call"),
    ("http_error", "vendor answered 500 for order 9931", "call"),
    ("auth", "token 'abc' was refused", "login"),
    ("timeout", "step timed out after 30 s", "call"),
]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        tmp_path / "logs",
        worker_embedded=False,
        user_max_concurrent_runs=1000,
        llm_price_per_million_tokens=PRICE,
    )


def _bucket(moment: datetime, granularity: str) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment if granularity == "hour" else moment.replace(hour=0)


def _histogram_index(duration: int) -> int:
    for index, bound in enumerate(DURATION_BOUNDS_MS):
        if duration <= bound:
            return index
    return len(DURATION_BOUNDS_MS)


async def recomputed(database: Database) -> dict[str, dict[Any, dict[str, Any]]]:
    """The rollups' rows, computed from scratch from runs and run_steps."""
    async with database.transaction() as session:
        runs = list(
            await session.scalars(
                sa.select(Run).where(Run.status.in_(("succeeded", "failed", "cancelled")))
            )
        )
        tokens: dict[uuid.UUID, int] = defaultdict(int)
        for run_id, count in await session.execute(sa.select(RunStep.run_id, RunStep.tokens)):
            tokens[run_id] += count or 0
    agents: dict[Any, dict[str, Any]] = {}
    accounts: dict[Any, dict[str, Any]] = {}
    errors: dict[Any, dict[str, Any]] = {}
    for run in runs:
        assert run.finished_at is not None
        for granularity in ("hour", "day"):
            bucket = _bucket(run.finished_at, granularity)
            for table, key in (
                (agents, (run.agent_id, granularity, bucket)),
                (accounts, (run.owner_id, granularity, bucket)),
            ):
                row = table.setdefault(key, defaultdict(int))
                row[run.status] += 1
                row["auto_healed"] += int(run.auto_healed)
                row["tokens"] += tokens[run.id]
                row["cost_micros"] += round(tokens[run.id] * PRICE)
                if run.status != "cancelled" and run.duration_ms is not None:
                    row["duration_count"] += 1
                    row["duration_sum_ms"] += run.duration_ms
                    row["duration_max_ms"] = max(row["duration_max_ms"], run.duration_ms)
                    row[HISTOGRAM_COLUMNS[_histogram_index(run.duration_ms)]] += 1
            if run.status == "failed":
                assert run.error_fingerprint is not None
                key = (run.agent_id, granularity, bucket, run.error_fingerprint)
                group = errors.setdefault(key, {"count": 0, "runs": []})
                group["count"] += 1
                group["runs"].append((run.finished_at, run.id))
    return {
        "agents": {k: {c: n for c, n in v.items() if n} for k, v in agents.items()},
        "accounts": {k: {c: n for c, n in v.items() if n} for k, v in accounts.items()},
        "errors": {
            key: {
                "count": group["count"],
                "first_seen": min(group["runs"])[0],
                "last_seen": max(group["runs"])[0],
                # Failures at the same instant (a reclaim) may each be the sample.
                "sample_run_id": {i for t, i in group["runs"] if t == max(group["runs"])[0]},
            }
            for key, group in errors.items()
        },
    }


async def stored(database: Database) -> dict[str, dict[Any, dict[str, Any]]]:
    """The rollups as stored, without the zero counters."""
    out: dict[str, dict[Any, dict[str, Any]]] = {"agents": {}, "accounts": {}, "errors": {}}
    async with database.transaction() as session:
        for name, model, keys in (
            ("agents", AgentRollup, ("agent_id", "granularity", "bucket")),
            ("accounts", AccountRollup, ("owner_id", "granularity", "bucket")),
        ):
            for row in await session.scalars(sa.select(model)):
                values = {
                    column: getattr(row, column)
                    for column in model.__table__.columns.keys()  # noqa: SIM118
                    if column not in (*keys, "owner_id") and getattr(row, column)
                }
                out[name][tuple(getattr(row, k) for k in keys)] = values
        for error in await session.scalars(sa.select(ErrorRollup)):
            key = (error.agent_id, error.granularity, error.bucket, error.fingerprint)
            out["errors"][key] = {
                "count": error.count,
                "first_seen": error.first_seen,
                "last_seen": error.last_seen,
                "sample_run_id": error.sample_run_id,
            }
    return out


def assert_same(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for name in expected:
        assert set(actual[name]) == set(expected[name]), name
        for key, want in expected[name].items():
            got = dict(actual[name][key])
            if name == "errors":
                assert got.pop("sample_run_id") in want["sample_run_id"]
                want = {k: v for k, v in want.items() if k != "sample_run_id"}
            assert got == want, (name, key)


def _records(rng: random.Random, run: Run, first: int, count: int) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "id": uuid.uuid4(),
            "run_id": run.id,
            "step_id": f"s{position}",
            "position": position,
            "kind": "llm",
            "status": "succeeded",
            "attempts": 1,
            "output": None,
            "error_kind": None,
            "error_message": None,
            "tokens": rng.choice([None, rng.randint(0, 5000)]),
            "started_at": now,
            "finished_at": now,
            "duration_ms": 1,
        }
        for position in range(first, first + count)
    ]


def _final(rng: random.Random, run: Run, now: datetime) -> RunFinal:
    # Finishes spread over three days, so hours and days both have several buckets.
    finished = now - timedelta(minutes=rng.randint(0, 3 * 24 * 60))
    if rng.random() < 0.4:
        kind, message, step = rng.choice(MESSAGES)
        ending = RunEnding("failed", error_kind=kind, error_message=message, error_step=step)
        fingerprint = error_fingerprint(kind, message, step, run.template_slug)
    else:
        ending, fingerprint = RunEnding("succeeded"), None
    duration = rng.choice([0, 1, 3, rng.randint(0, 2_000), rng.randint(0, 3_000_000)])
    return RunFinal(ending, finished, duration, fingerprint, rng.random() < 0.2)


async def _history(
    rng: random.Random, database: Database, settings: Settings, claimed: list[ClaimedRun]
) -> None:
    """Finish the claimed runs along random paths, concurrently through one writer."""
    now = utcnow()
    writer = RunWriter(database, settings, WORKER_ID)
    writer.start()

    async def finish(claim: ClaimedRun) -> None:
        run = claim.run
        fate = rng.choice(["plain", "checkpointed", "twice", "refused", "cancelled", "timeout"])
        if fate == "cancelled":
            async with database.transaction() as session:
                await runs_service.cancel_run(session, settings, run.owner_id, run.id)
            with pytest.raises(RunNotCancellable):
                async with database.transaction() as session:
                    await runs_service.cancel_run(session, settings, run.owner_id, run.id)
            with pytest.raises(LeaseLost):
                await writer.write(RunWrite(run, _records(rng, run, 0, 1), _final(rng, run, now)))
            return
        if fate == "timeout":
            return  # reclaimed below, once its lease is made to expire
        first = 0
        if fate == "checkpointed":
            await writer.write(RunWrite(run, _records(rng, run, 0, 2)))
            first = 2
        final = _final(rng, run, now)
        if fate == "refused":
            # A record of the same step already exists: the batch holding this
            # write fails and each of its writes is retried alone; this one fails
            # again, and is written once more without the duplicate.
            async with database.transaction() as session:
                session.add(
                    RunStep(run_id=run.id, step_id="s0", position=0, kind="llm", status="failed")
                )
            with pytest.raises(sa.exc.IntegrityError):
                await writer.write(RunWrite(run, _records(rng, run, 0, 2), final))
            first = 1
        await writer.write(RunWrite(run, _records(rng, run, first, rng.randint(0, 3)), final))
        if fate == "twice":
            # The finish written again (a retry after an unknown outcome) is refused.
            with pytest.raises(LeaseLost):
                await writer.write(RunWrite(run, _records(rng, run, 9, 1), final))

    try:
        await asyncio.gather(*(finish(claim) for claim in claimed))
    finally:
        await writer.stop(grace=5)
    async with database.transaction() as session:
        await session.execute(
            sa.update(Run)
            .where(Run.status == "running")
            .values(
                lease_expires_at=now - timedelta(seconds=1), started_at=now - timedelta(hours=2)
            )
        )
    await reclaim_expired(database, settings)


async def _ledger(database: Database) -> list[tuple[Any, ...]]:
    async with database.transaction() as session:
        rows = await session.execute(sa.select(MonthlyUsage).order_by(MonthlyUsage.user_id))
        return [(u.user_id, u.month, u.runs, u.tokens, u.cost_micros) for (u,) in rows]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_rollups_equal_the_raw_rows_through_every_finish_and_after_pruning(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, seed: int
) -> None:
    rng = random.Random(seed)
    database: Database = app.state.database
    owners = [await sign_up(client), await sign_up(client)]
    agents = [
        await create_agent(database, owners[n % 2].id, max_concurrent_runs=100) for n in range(3)
    ]
    for _ in range(36):
        await queue_run(database, rng.choice(agents), THREE_STEPS)
    claimed = await claim_runs(database, settings, WORKER_ID, 30)
    assert len(claimed) == 30
    await _history(rng, database, settings, claimed)

    expected = await recomputed(database)
    assert sum(row.get("failed", 0) for row in expected["accounts"].values()) > 0
    assert_same(await stored(database), expected)

    # Retention: half the finished runs are made old, and each agent keeps 4.
    async with database.transaction() as session:
        finished = list(
            await session.scalars(
                sa.select(Run.id).where(Run.status.in_(("succeeded", "failed", "cancelled")))
            )
        )
        await session.execute(
            sa.update(Run)
            .where(Run.id.in_(finished[::2]))
            .values(created_at=utcnow() - timedelta(days=settings.run_retention_days + 1))
        )
    ledger = await _ledger(database)
    pruned = await prune_runs(database, settings.model_copy(update={"run_retention_per_agent": 4}))
    assert await _ledger(database) == ledger
    assert pruned > 0
    async with database.transaction() as session:
        left = list(await session.scalars(sa.select(Run)))
        orphans = await session.scalar(
            sa.select(sa.func.count())
            .select_from(RunStep)
            .where(RunStep.run_id.not_in(sa.select(Run.id)))
        )
    assert orphans == 0
    assert sum(r.status == "queued" for r in left) == 6  # never pruned, however many
    per_agent: dict[uuid.UUID, int] = defaultdict(int)
    for run in left:
        per_agent[run.agent_id] += 1
        if run.status != "queued":
            assert run.created_at > utcnow() - timedelta(days=settings.run_retention_days)
    assert all(count <= 4 + 6 for count in per_agent.values())
    assert_same(await stored(database), expected)
