"""Migration 0011 adds the runs that finished before the rollups existed, and
only those: afterwards the rollups add up to the raw rows, and a second pass
adds nothing."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from botskis.agents.models import Agent
from botskis.analytics.backfill import backfill_rollups
from botskis.analytics.models import COUNTER_COLUMNS
from botskis.analytics.rollups import (
    ACCOUNT_ROLLUPS,
    AGENT_ROLLUPS,
    ERROR_FINGERPRINTS,
    ERROR_ROLLUPS,
    FinishedRun,
    rollup_deltas,
    upserts,
)
from botskis.config import get_settings
from botskis.database import migrate
from botskis.monitoring.fingerprints import error_fingerprint
from botskis.runs.models import Run, RunStatus, RunStep, StepStatus
from botskis.users.models import User
from tests.databases import sync_url, throwaway_database

PRICE = get_settings().llm_price_per_million_tokens
# When the rollups started counting: in the middle of an hour.
T0 = datetime(2026, 11, 20, 10, 25, tzinfo=UTC)
MESSAGES = ["answered 500 for 1", "answered 500 for 2", "refused 'x'", "timed out after 3 s"]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    with throwaway_database(tmp_path, "backfill") as url:
        migrate.upgrade(url, "0010_accounts")
        made = sa.create_engine(sync_url(url))
        try:
            yield made
        finally:
            made.dispose()


def _owner_and_agents(session: Session, count: int) -> tuple[User, list[Agent]]:
    owner = User(email=f"{uuid.uuid4().hex[:8]}@example.com", hashed_password="x", full_name="O")
    session.add(owner)
    session.flush()
    agents = [
        Agent(owner_id=owner.id, template_slug=f"template-{i}", name=f"agent {i}")
        for i in range(count)
    ]
    session.add_all(agents)
    session.flush()
    return owner, agents


def _run(session: Session, agent: Agent, finished_at: datetime, rng: random.Random) -> FinishedRun:
    status = rng.choice(
        [RunStatus.SUCCEEDED, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED]
    )
    message = rng.choice(MESSAGES) if status is RunStatus.FAILED else None
    fingerprint = (
        error_fingerprint("http_error", message, "fetch", agent.template_slug) if message else None
    )
    duration = None if status is RunStatus.CANCELLED else rng.randint(1, 90_000)
    run = Run(
        agent_id=agent.id,
        owner_id=agent.owner_id,
        template_slug=agent.template_slug,
        trigger="manual",
        status=status,
        workflow={},
        error_kind="http_error" if message else None,
        error_message=message,
        error_step="fetch" if message else None,
        error_fingerprint=fingerprint,
        auto_healed=rng.random() < 0.2,
        queued_at=finished_at - timedelta(seconds=5),
        finished_at=finished_at,
        duration_ms=duration,
    )
    session.add(run)
    session.flush()
    tokens = 0
    for position in range(rng.randint(0, 2)):
        used = rng.choice([None, rng.randint(1, 500)])
        tokens += used or 0
        session.add(
            RunStep(
                run_id=run.id,
                step_id=f"s{position}",
                position=position,
                kind="llm",
                status=StepStatus.SUCCEEDED,
                tokens=used,
                started_at=finished_at - timedelta(seconds=1),
                finished_at=finished_at,
                duration_ms=1,
            )
        )
    return FinishedRun(
        run_id=run.id,
        agent_id=agent.id,
        owner_id=agent.owner_id,
        template_slug=agent.template_slug,
        status=status,
        finished_at=finished_at,
        duration_ms=duration,
        auto_healed=run.auto_healed,
        error_fingerprint=fingerprint,
        error_kind=run.error_kind,
        error_message=message,
        error_step=run.error_step,
        tokens=tokens,
    )


def _count_live(connection: sa.Connection, runs: list[FinishedRun]) -> None:
    """What the run writer did for the runs that finished after T0."""
    for statement, rows in upserts(connection.dialect.name, rollup_deltas(runs, PRICE)):
        connection.execute(statement, rows)


def _stored(connection: sa.Connection) -> dict[str, dict[Any, Any]]:
    counters = [*COUNTER_COLUMNS, "duration_max_ms"]

    def rows(table: sa.Table, keys: tuple[str, ...], values: list[str]) -> dict[Any, Any]:
        return {
            tuple(row[k] for k in keys): {v: row[v] for v in values}
            for row in connection.execute(sa.select(table)).mappings()
        }

    return {
        "agents": rows(AGENT_ROLLUPS, ("agent_id", "granularity", "bucket"), counters),
        "accounts": rows(ACCOUNT_ROLLUPS, ("owner_id", "granularity", "bucket"), counters),
        "errors": rows(
            ERROR_ROLLUPS,
            ("agent_id", "granularity", "bucket", "fingerprint"),
            ["count", "first_seen", "last_seen", "sample_run_id"],
        ),
        "fingerprints": rows(ERROR_FINGERPRINTS, ("fingerprint",), ["message", "step"]),
    }


def _expected(runs: list[FinishedRun]) -> dict[str, dict[Any, Any]]:
    """The rollups of every run, summed straight from the raw rows."""
    deltas = rollup_deltas(runs, PRICE)
    counters = [*COUNTER_COLUMNS, "duration_max_ms"]
    return {
        "agents": {k: {c: v[c] for c in counters} for k, v in deltas.agents.items()},
        "accounts": {k: {c: v[c] for c in counters} for k, v in deltas.accounts.items()},
        "errors": {
            k: {c: v[c] for c in ("count", "first_seen", "last_seen", "sample_run_id")}
            for k, v in deltas.errors.items()
        },
        "fingerprints": {
            (fp,): {"message": meta["message"], "step": meta["step"]}
            for fp, meta in deltas.fingerprints.items()
        },
    }


def _history(engine: sa.Engine, seed: int) -> tuple[list[FinishedRun], list[FinishedRun]]:
    """Random runs over 12 days around T0, with a crowd in T0's own hour; those
    after T0 are counted as the writer would have. Returns (all, counted)."""
    rng = random.Random(seed)
    with Session(engine) as session, session.begin():
        _, agents = _owner_and_agents(session, 4)
        _, other_agents = _owner_and_agents(session, 1)
        # The first run the rollups counted, in T0's hour.
        runs = [_run(session, agents[0], T0 + timedelta(minutes=1), rng)]
        for agent in [*agents, *other_agents]:
            for _ in range(rng.randint(5, 25)):
                at = T0 + timedelta(minutes=rng.randint(-8 * 24 * 60, 4 * 24 * 60))
                runs.append(_run(session, agent, at, rng))
            # T0's hour, on both sides of it; the last agent only before it.
            for _ in range(rng.randint(1, 4)):
                at = T0.replace(minute=0) + timedelta(seconds=rng.randint(0, 3599))
                if agent is agents[-1]:
                    at = min(at, T0 - timedelta(seconds=1))
                runs.append(_run(session, agent, at, rng))
    counted = [run for run in runs if run.finished_at >= T0]
    with engine.begin() as connection:
        _count_live(connection, counted)
    return runs, counted


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_backfill_adds_exactly_the_runs_finished_before_the_rollups(
    engine: sa.Engine, seed: int
) -> None:
    runs, counted = _history(engine, seed)
    with engine.begin() as connection:
        added = backfill_rollups(connection, price_per_million_tokens=PRICE)
    assert added == len(runs) - len(counted)
    with engine.connect() as connection:
        assert _stored(connection) == _expected(runs)


def test_a_second_pass_adds_nothing(engine: sa.Engine) -> None:
    runs, _ = _history(engine, 4)
    with engine.begin() as connection:
        backfill_rollups(connection, price_per_million_tokens=PRICE)
    with engine.begin() as connection:
        assert backfill_rollups(connection, price_per_million_tokens=PRICE) == 0
    with engine.connect() as connection:
        assert _stored(connection) == _expected(runs)


def test_without_rollups_every_finished_run_is_added(engine: sa.Engine) -> None:
    rng = random.Random(5)
    with Session(engine) as session, session.begin():
        _, agents = _owner_and_agents(session, 2)
        runs = [
            _run(session, a, T0 - timedelta(hours=rng.randint(0, 500)), rng) for a in agents * 6
        ]
        # Unfinished runs are not counted.
        for status in (RunStatus.QUEUED, RunStatus.RUNNING):
            session.add(
                Run(
                    agent_id=agents[0].id,
                    owner_id=agents[0].owner_id,
                    template_slug=agents[0].template_slug,
                    trigger="manual",
                    status=status,
                    workflow={},
                )
            )
    with engine.begin() as connection:
        assert backfill_rollups(connection, price_per_million_tokens=PRICE) == len(runs)
    with engine.connect() as connection:
        assert _stored(connection) == _expected(runs)


def test_pruned_runs_of_the_first_hour_are_not_added_twice(engine: sa.Engine) -> None:
    """Retention deletes the oldest runs first: of an agent's runs in the first
    counted hour, the uncounted (older) ones go before the counted ones."""
    rng = random.Random(6)
    with Session(engine) as session, session.begin():
        _, (agent,) = _owner_and_agents(session, 1)
        hour = T0.replace(minute=0)
        before = [_run(session, agent, hour + timedelta(minutes=m), rng) for m in (1, 5, 9)]
        after = [_run(session, agent, T0 + timedelta(minutes=m), rng) for m in (1, 2)]
    with engine.begin() as connection:
        _count_live(connection, after)
        # Pruned: the two oldest runs.
        pruned = [run.run_id for run in before[:2]]
        connection.execute(sa.delete(RunStep.__table__).where(RunStep.run_id.in_(pruned)))
        connection.execute(sa.delete(Run.__table__).where(Run.id.in_(pruned)))
    with engine.begin() as connection:
        assert backfill_rollups(connection, price_per_million_tokens=PRICE) == 1
    with engine.connect() as connection:
        assert _stored(connection) == _expected([before[2], *after])


def test_the_migration_runs_the_backfill(tmp_path: Path) -> None:
    with throwaway_database(tmp_path, "backfill-mig") as url:
        migrate.upgrade(url, "0010_accounts")
        engine = sa.create_engine(sync_url(url))
        try:
            rng = random.Random(7)
            with Session(engine) as session, session.begin():
                _, agents = _owner_and_agents(session, 2)
                runs = [
                    _run(session, a, T0 - timedelta(hours=i), rng) for i, a in enumerate(agents * 3)
                ]
            migrate.upgrade(url)
            with engine.connect() as connection:
                assert migrate.current_revisions(connection) == migrate.head_revisions()
                assert _stored(connection) == _expected(runs)
        finally:
            engine.dispose()
