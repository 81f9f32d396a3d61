"""Healing: consecutive failures mark an agent failing, a probe run after a
cool-down brings it back, and the owner hears about both."""

from __future__ import annotations

import asyncio
import time
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
from botskis.notifications.models import Notification
from botskis.runs.models import AgentHealing, Run
from tests.conftest import make_settings
from tests.fakes.threaded_http import Reply
from tests.fakes.vendor_server import FakeVendorServer
from tests.runs.conftest import FAST_WORKER
from tests.runs.factories import create_agent, http_workflow, load_agent, queue_run
from tests.runs.helpers import wait_for_run
from tests.users.factories import sign_up


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        tmp_path / "logs",
        **FAST_WORKER,
        agent_failure_threshold=2,
        agent_probe_cooldown_seconds=1,
        agent_probe_max_cooldown_seconds=2,
    )


async def _notifications(database: Database, user_id: str) -> list[Notification]:
    async with database.transaction() as session:
        rows = await session.scalars(
            sa.select(Notification)
            .where(Notification.user_id == uuid.UUID(user_id))
            .order_by(Notification.created_at)
        )
        return list(rows)


async def _wait_for_agent_status(database: Database, agent_id: object, status: str) -> None:
    deadline = time.monotonic() + 20
    while (await load_agent(database, agent_id)).status != status:  # type: ignore[arg-type]
        assert time.monotonic() < deadline, f"agent never became {status}"
        await asyncio.sleep(0.05)


async def test_consecutive_failures_mark_the_agent_failing_and_a_probe_heals_it(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/target", Reply(400))
    account = await sign_up(client)
    database: Database = app.state.database
    agent = await create_agent(
        database,
        account.id,
        trigger={"type": "schedule", "interval_seconds": 3600},
        next_run_at=utcnow() + timedelta(hours=1),
    )
    workflow = http_workflow(fake_vendor.url, "/target")
    first = await wait_for_run(database, await queue_run(database, agent, workflow, input={"k": 1}))
    assert first.status == "failed"
    assert (await load_agent(database, agent.id)).status == "active"
    fake_vendor.respond("/target", Reply(400), Reply(400), Reply(200))
    await wait_for_run(database, await queue_run(database, agent, workflow, input={"k": 2}))
    failing = await load_agent(database, agent.id)
    assert failing.status == "failing" and failing.consecutive_failures == 2
    assert failing.status_reason and "2 consecutive runs failed" in failing.status_reason
    assert failing.next_run_at is None
    # The first probe (same input as the last failure) fails; the next one succeeds.
    await _wait_for_agent_status(database, agent.id, "active")
    healed = await load_agent(database, agent.id)
    assert healed.consecutive_failures == 0 and healed.status_reason is None
    assert healed.next_run_at is not None
    async with database.transaction() as session:
        probes = list(
            await session.scalars(
                sa.select(Run).where(Run.agent_id == agent.id, Run.trigger == "probe")
            )
        )
        assert await session.get(AgentHealing, agent.id) is None
    assert sorted(p.status for p in probes) == ["failed", "succeeded"]
    assert all(p.input == {"k": 2} for p in probes)
    failed, recovered = await _notifications(database, account.id)
    assert "is failing" in failed.title and "Its schedule is stopped." in failed.message
    assert "recovered" in recovered.title and "its schedule resumed" in recovered.message


async def test_a_failing_agent_keeps_failing_without_a_probe_success(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/target", Reply(400))
    account = await sign_up(client)
    database: Database = app.state.database
    agent = await create_agent(database, account.id)
    workflow = http_workflow(fake_vendor.url, "/target")
    for _ in range(2):
        await wait_for_run(database, await queue_run(database, agent, workflow))
    await asyncio.to_thread(
        fake_vendor.wait_for_requests, 4, where=lambda r: r.path == "/target", timeout=20
    )
    assert (await load_agent(database, agent.id)).status == "failing"
    async with database.transaction() as session:
        healing = await session.get(AgentHealing, agent.id)
        assert healing is not None
        # Doubled after each failed probe, never above the cap.
        assert healing.cooldown_seconds == 2


FORWARD_CONFIG = {
    "method": "POST",
    "headers": {},
    "include_fields": ["order"],
    "extra_fields": {},
    "required_fields": [],
    "match_field": "",
    "match_value": "",
    "notify_on_delivery": False,
}


async def test_a_failing_webhook_agent_keeps_accepting_deliveries_and_says_so(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/target", Reply(400))
    account = await sign_up(client)
    database: Database = app.state.database
    token = uuid.uuid4().hex
    agent = await create_agent(
        database,
        account.id,
        config={**FORWARD_CONFIG, "target_url": f"{fake_vendor.url}/target"},
        trigger={"type": "webhook"},
        webhook_token=token,
    )
    for order in (1, 2):
        delivered = await client.post(f"/api/v1/hooks/{token}", json={"order": order})
        assert delivered.status_code == 202, delivered.text
        await wait_for_run(database, uuid.UUID(delivered.json()["run_id"]))
    await _wait_for_agent_status(database, agent.id, "failing")
    (failing,) = await _notifications(database, account.id)
    assert "schedule" not in failing.message
    assert "Its webhook still accepts deliveries and runs each one" in failing.message
    # What the notification promises: the next delivery is accepted, runs, and heals it.
    fake_vendor.respond("/target", Reply(200))
    delivered = await client.post(f"/api/v1/hooks/{token}", json={"order": 3})
    assert delivered.status_code == 202, delivered.text
    run = await wait_for_run(database, uuid.UUID(delivered.json()["run_id"]))
    assert run.status == "succeeded"
    await _wait_for_agent_status(database, agent.id, "active")
    recovered = (await _notifications(database, account.id))[-1]
    assert "recovered" in recovered.title and "schedule" not in recovered.message


async def test_a_failing_manual_agent_still_runs_on_demand_and_says_so(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/target", Reply(400))
    account = await sign_up(client)
    database: Database = app.state.database
    agent = await create_agent(
        database, account.id, config={**FORWARD_CONFIG, "target_url": f"{fake_vendor.url}/target"}
    )
    for order in (1, 2):
        started = await client.post(
            f"/api/v1/agents/{agent.id}/run",
            json={"input": {"order": order}},
            headers=account.headers,
        )
        assert started.status_code == 202, started.text
        await wait_for_run(database, uuid.UUID(started.json()["run_id"]))
    await _wait_for_agent_status(database, agent.id, "failing")
    (failing,) = await _notifications(database, account.id)
    assert "It still runs when you start it." in failing.message
    assert "schedule" not in failing.message
    started = await client.post(
        f"/api/v1/agents/{agent.id}/run", json={"input": {"order": 3}}, headers=account.headers
    )
    assert started.status_code == 202, started.text
