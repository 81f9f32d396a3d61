"""Schedules fire each due slot once, however many processes tick, skip paused
and failing agents, and catch up at most once after downtime."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.agents.models import Agent
from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.execution.scheduler import fire_due_schedules
from botskis.runs.models import Run
from tests.billing.factories import runs_used, set_runs_used
from tests.conftest import make_settings
from tests.runs.factories import create_agent, load_agent
from tests.users.factories import sign_up

HOURLY = {"type": "schedule", "interval_seconds": 3600}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # No embedded worker: the test itself plays the processes that tick.
    return make_settings(database_url, tmp_path / "logs", worker_embedded=False)


async def _runs_of(database: Database, agent: Agent) -> list[Run]:
    async with database.transaction() as session:
        return list(await session.scalars(sa.select(Run).where(Run.agent_id == agent.id)))


async def test_due_schedule_fires_once_and_moves_to_the_next_slot(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await sign_up(client)
    database: Database = app.state.database
    slot = utcnow() - timedelta(seconds=5)
    agent = await create_agent(database, account.id, trigger=HOURLY, next_run_at=slot)
    assert await fire_due_schedules(database, settings) == 1
    assert await fire_due_schedules(database, settings) == 0
    (run,) = await _runs_of(database, agent)
    assert run.trigger == "schedule" and run.status == "queued"
    assert run.input == {"scheduled_for": slot.isoformat()}
    fresh = await load_agent(database, agent.id)
    assert fresh.next_run_at is not None
    assert utcnow() + timedelta(minutes=59) < fresh.next_run_at <= utcnow() + timedelta(hours=1)


async def test_many_processes_ticking_fire_each_slot_exactly_once(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await sign_up(client)
    database: Database = app.state.database
    agents = [
        await create_agent(
            database, account.id, trigger=HOURLY, next_run_at=utcnow() - timedelta(seconds=1)
        )
        for _ in range(5)
    ]
    # Separate engines, as separate worker processes would have.
    tickers = [Database(settings) for _ in range(4)]
    try:
        fired = await asyncio.gather(
            *(fire_due_schedules(ticker, settings) for ticker in tickers for _ in range(2))
        )
    finally:
        for ticker in tickers:
            await ticker.dispose()
    assert sum(fired) == 5
    for agent in agents:
        assert len(await _runs_of(database, agent)) == 1


async def test_paused_and_failing_agents_do_not_fire(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await sign_up(client)
    database: Database = app.state.database
    past = utcnow() - timedelta(minutes=1)
    paused = await create_agent(
        database, account.id, trigger=HOURLY, next_run_at=past, status="paused"
    )
    failing = await create_agent(
        database, account.id, trigger=HOURLY, next_run_at=past, status="failing"
    )
    assert await fire_due_schedules(database, settings) == 0
    assert await _runs_of(database, paused) == [] and await _runs_of(database, failing) == []


async def test_after_downtime_at_most_one_catch_up_run(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await sign_up(client)
    database: Database = app.state.database
    agent = await create_agent(
        database,
        account.id,
        trigger={"type": "schedule", "cron": "*/5 * * * *", "timezone": "Europe/Oslo"},
        next_run_at=utcnow() - timedelta(hours=10),
    )
    for _ in range(3):
        await fire_due_schedules(database, settings)
    assert len(await _runs_of(database, agent)) == 1
    fresh = await load_agent(database, agent.id)
    assert fresh.next_run_at is not None
    assert utcnow() < fresh.next_run_at <= utcnow() + timedelta(minutes=5)


async def test_schedule_over_the_run_quota_consumes_the_slot_without_a_run(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await sign_up(client)
    database: Database = app.state.database
    agent = await create_agent(
        database, account.id, trigger=HOURLY, next_run_at=utcnow() - timedelta(seconds=1)
    )
    await set_runs_used(database, account.id, 1000)
    assert await fire_due_schedules(database, settings) == 0
    assert await _runs_of(database, agent) == []
    assert await runs_used(database, account.id) == 1000
    fresh = await load_agent(database, agent.id)
    assert fresh.next_run_at is not None and fresh.next_run_at > utcnow()
