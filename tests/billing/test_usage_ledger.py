"""The usage ledger counts every run started (manual, retry, webhook, schedule,
probe) in the transaction that queues it; deleting agents or runs never lowers it,
and the limit admits exactly the runs that remain, however many arrive at once."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.execution.healing import queue_due_probes
from botskis.execution.scheduler import fire_due_schedules
from botskis.runs.models import AgentHealing, Run
from tests.agents.factories import deploy
from tests.billing.factories import runs_used, set_runs_used
from tests.conftest import make_settings
from tests.databases import on_postgres
from tests.runs.factories import create_agent
from tests.users.factories import sign_up


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # No embedded worker: queued runs stay queued, so each test sees only its own
    # doing. No Redis: nothing here crosses processes.
    return make_settings(database_url, tmp_path / "logs", worker_embedded=False, redis_url=None)


async def _usage(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    response = await client.get("/api/v1/users/me/usage", headers=headers)
    assert response.status_code == 200, response.text
    runs: int = response.json()["runs_this_month"]
    return runs


async def test_deleting_the_agent_and_its_runs_does_not_lower_the_count(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account)
    for _ in range(3):
        started = await client.post(f"/api/v1/agents/{agent['id']}/run", headers=account.headers)
        assert started.status_code == 202, started.text
    assert await _usage(client, account.headers) == 3
    deleted = await client.delete(f"/api/v1/agents/{agent['id']}", headers=account.headers)
    assert deleted.status_code == 204
    assert await _usage(client, account.headers) == 3
    again = await deploy(client, account)
    await client.post(f"/api/v1/agents/{again['id']}/run", headers=account.headers)
    assert await _usage(client, account.headers) == 4


async def test_an_idempotent_repeat_is_counted_once(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account)
    headers = {**account.headers, "Idempotency-Key": "k-1"}
    first = await client.post(f"/api/v1/agents/{agent['id']}/run", headers=headers)
    second = await client.post(f"/api/v1/agents/{agent['id']}/run", headers=headers)
    assert first.json()["run_id"] == second.json()["run_id"]
    assert await _usage(client, account.headers) == 1


async def test_a_retry_is_counted(app: FastAPI, client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account)
    started = await client.post(f"/api/v1/agents/{agent['id']}/run", headers=account.headers)
    run_id = started.json()["run_id"]
    async with app.state.database.transaction() as session:
        await session.execute(
            sa.update(Run).where(Run.id == uuid.UUID(run_id)).values(status="failed")
        )
    retried = await client.post(f"/api/v1/runs/{run_id}/retry", headers=account.headers)
    assert retried.status_code == 202, retried.text
    assert await _usage(client, account.headers) == 2


async def test_a_webhook_delivery_is_counted_and_refused_at_the_limit(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await sign_up(client)
    token = secrets.token_urlsafe(24)
    await create_agent(
        app.state.database, account.id, trigger={"type": "webhook"}, webhook_token=token
    )
    accepted = await client.post(f"/api/v1/hooks/{token}", json={"n": 1})
    assert accepted.status_code == 202, accepted.text
    assert await _usage(client, account.headers) == 1
    await set_runs_used(app.state.database, account.id, 1000)
    refused = await client.post(f"/api/v1/hooks/{token}", json={"n": 2})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert await _usage(client, account.headers) == 1000


async def test_a_scheduled_run_is_counted(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await sign_up(client)
    database: Database = app.state.database
    await create_agent(
        database,
        account.id,
        trigger={"type": "schedule", "interval_seconds": 3600},
        next_run_at=utcnow() - timedelta(seconds=1),
    )
    assert await fire_due_schedules(database, settings) == 1
    assert await runs_used(database, account.id) == 1


async def test_a_probe_is_counted_even_at_the_limit(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await sign_up(client)
    database: Database = app.state.database
    agent = await create_agent(database, account.id, status="failing")
    async with database.transaction() as session:
        session.add(
            AgentHealing(
                agent_id=agent.id, probe_at=utcnow() - timedelta(seconds=1), cooldown_seconds=60
            )
        )
    await set_runs_used(database, account.id, 1000)
    assert await queue_due_probes(database) == 1
    assert await runs_used(database, account.id) == 1001


async def test_a_refused_run_is_not_counted(app: FastAPI, client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account)
    await set_runs_used(app.state.database, account.id, 1000)
    refused = await client.post(f"/api/v1/agents/{agent['id']}/run", headers=account.headers)
    assert refused.status_code == 403
    assert refused.json()["limit"] == 1000
    assert await _usage(client, account.headers) == 1000
    async with app.state.database.transaction() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(Run)) == 0


@pytest.mark.skipif(not on_postgres(), reason="concurrent writers are PostgreSQL's")
async def test_twenty_concurrent_starts_at_the_limit_admit_exactly_the_remaining(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account)
    await set_runs_used(app.state.database, account.id, 995)
    url = f"/api/v1/agents/{agent['id']}/run"
    answers = await asyncio.gather(*(client.post(url, headers=account.headers) for _ in range(20)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [202] * 5 + [403] * 15
    assert await _usage(client, account.headers) == 1000
    async with app.state.database.transaction() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(Run)) == 5
