"""metrics_update: on request, pushed when numbers change, coalesced per user."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from botskis.analytics.rollups import add_finished_runs, finished_run
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.realtime.events import Event
from botskis.realtime.hub import Hub
from botskis.runs.models import Run
from tests.realtime.support import Publisher, receive_until, send, sign_up_live, socket
from tests.users.factories import sign_up


@pytest.mark.e2e
async def test_metrics_on_request_and_pushed_when_agents_and_runs_change(
    server: str, publisher: Publisher
) -> None:
    account = sign_up_live(server)
    async with socket(server, account) as ws:
        await send(ws, type="request_metrics")
        first = await receive_until(ws, "metrics_update")
        assert first["data"]["agents"]["total"] == 0
        assert first["data"]["runs_today"]["total"] == 0
        assert first["data"]["success_rate"] is None

        agent_id = await publisher.agent(account.id, status="active")
        pushed = await receive_until(ws, "metrics_update")
        assert pushed["data"]["agents"] == {
            "total": 1,
            "by_status": {"active": 1, "paused": 0, "failing": 0},
        }

        async with publisher.database.transaction() as session:
            # Finished as the run writer finishes runs: the row and its rollups together.
            finished = []
            for status in ("succeeded", "succeeded", "failed"):
                run = Run(
                    agent_id=uuid.UUID(agent_id),
                    owner_id=uuid.UUID(account.id),
                    template_slug="test",
                    trigger="manual",
                    status=status,
                    workflow={"steps": []},
                    finished_at=utcnow(),
                    duration_ms=5,
                )
                session.add(run)
                finished.append(run)
            await session.flush()
            await add_finished_runs(
                session, [finished_run(run) for run in finished], price_per_million_tokens=0
            )
        await publisher.emit(
            account.id, "run_update", agent_id=agent_id, run_id="r", status="failed"
        )
        while True:
            update = await receive_until(ws, "metrics_update")
            if update["data"]["runs_today"]["total"] == 3:
                break
        assert update["data"]["runs_today"]["by_status"]["succeeded"] == 2
        assert update["data"]["success_rate"] == pytest.approx(2 / 3, abs=1e-4)


async def test_bursts_are_coalesced_and_unchanged_numbers_not_pushed(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await sign_up(client)
    user_id = uuid.UUID(account.id)
    calls: list[int] = []

    async def constant_metrics(database: Database, user: uuid.UUID) -> dict[str, Any]:
        calls.append(1)
        return {"agents": 1}

    hub = Hub(app.state.database, max_per_user=5, queue_limit=1000, metrics_reader=constant_metrics)
    conn = hub.new_connection(user_id)
    await hub.connect(conn)
    burst = [
        Event(user_id=user_id, type="agent_update", fields={"data": {}}, seq=seq)
        for seq in range(1, 51)
    ]
    for event in burst:
        await hub.deliver([event])
    task = hub.channels[user_id].metrics_task
    assert task is not None
    await task
    # Fifty changes inside one interval: one computation now, at most one after it.
    assert 1 <= len(calls) <= 2
    queued = [json.loads(conn.queue.get_nowait()[0]) for _ in range(conn.queue.qsize())]
    assert [m["type"] for m in queued].count("metrics_update") == 1
    assert [m["seq"] for m in queued if m["type"] == "agent_update"] == list(range(1, 51))
    hub.disconnect(conn)
    await asyncio.sleep(0)
