"""Deleting an agent or an account while a worker finishes one of its runs.

The worker locks the run row, then updates the agent's counters; a deletion must
take its locks in that order too, or PostgreSQL breaks the cycle by failing one
side (the deletion answered 500)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.agents.models import Agent
from botskis.runs.models import Run
from tests.agents.factories import deploy
from tests.databases import on_postgres
from tests.users.factories import sign_up

pytestmark = pytest.mark.skipif(not on_postgres(), reason="row locks: PostgreSQL")


@pytest.mark.parametrize("deleted", ["agent", "account"])
async def test_a_deletion_waits_for_a_worker_finishing_a_run_instead_of_deadlocking(
    app: FastAPI, client: httpx.AsyncClient, deleted: str
) -> None:
    account = await sign_up(client)
    agent_id = uuid.UUID((await deploy(client, account))["id"])
    async with app.state.database.transaction() as session:
        run = Run(
            agent_id=agent_id,
            owner_id=uuid.UUID(account.id),
            template_slug="report-generator",
            trigger="manual",
            status="running",
            workflow={"steps": []},
        )
        session.add(run)
    url = f"/api/v1/agents/{agent_id}" if deleted == "agent" else "/api/v1/users/me"
    async with app.state.database.engine.connect() as worker:
        # The worker's finish, in its order: the run row, then the agent row.
        await worker.execute(
            sa.update(Run).where(Run.id == run.id).values(lease_expires_at=sa.func.now())
        )
        deletion = asyncio.create_task(
            client.request(
                "DELETE", url, headers=account.headers, json={"password": account.password}
            )
        )
        await asyncio.sleep(0.5)  # the deletion is now waiting on a lock
        await worker.execute(
            sa.update(Agent).where(Agent.id == agent_id).values(total_runs=Agent.total_runs + 1)
        )
        await worker.commit()
    assert (await deletion).status_code == 204
