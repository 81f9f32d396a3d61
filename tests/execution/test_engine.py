"""The run engine inside the app's embedded worker: retries, checkpoints,
timeouts, concurrency limits, cancellation and lease recovery."""

from __future__ import annotations

import asyncio
import uuid
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
from botskis.execution.engine import backoff_delay
from botskis.execution.workflow import RetryPolicy
from botskis.realtime.models import LoggedEvent
from botskis.runs.models import Run, RunStep
from tests.conftest import make_settings
from tests.fakes.threaded_http import Reply
from tests.fakes.vendor_server import FakeVendorServer
from tests.runs.conftest import FAST_WORKER
from tests.runs.factories import (
    THREE_STEPS,
    create_agent,
    http_workflow,
    load_agent,
    load_steps,
    queue_run,
)
from tests.runs.helpers import wait_for_run
from tests.users.factories import sign_up


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "logs", **FAST_WORKER)


async def _agent(app: FastAPI, client: httpx.AsyncClient, **columns: object) -> Agent:
    account = await sign_up(client)
    return await create_agent(app.state.database, account.id, **columns)


async def test_three_step_run_succeeds_with_outputs_passed_between_steps(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    agent = await _agent(app, client)
    database: Database = app.state.database
    run_id = await queue_run(database, agent, THREE_STEPS, input={"n": 21})
    run = await wait_for_run(database, run_id)
    assert run.status == "succeeded" and not run.auto_healed
    steps = await load_steps(database, run_id)
    assert [s.output for s in steps] == [{"n": 42}, {"passed": True}, {"text": "n=42"}]
    fresh = await load_agent(database, agent.id)
    assert fresh.total_runs == 1 and fresh.successful_runs == 1 and fresh.last_run_at


async def test_filter_ends_the_run_early_as_succeeded_with_the_reason(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    agent = await _agent(app, client)
    database: Database = app.state.database
    run = await wait_for_run(
        database, await queue_run(database, agent, THREE_STEPS, input={"n": -1})
    )
    assert run.status == "succeeded" and run.stopped_reason == "negative"
    assert [(s.step_id, s.status) for s in await load_steps(database, run.id)] == [
        ("double", "succeeded"),
        ("gate", "stopped"),
    ]


async def test_transient_failure_is_retried_and_the_run_marked_auto_healed(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/flaky", Reply(503), Reply(429, headers={"Retry-After": "0"}), Reply(200))
    agent = await _agent(app, client)
    database: Database = app.state.database
    run = await wait_for_run(
        database, await queue_run(database, agent, http_workflow(fake_vendor.url, "/flaky"))
    )
    assert run.status == "succeeded" and run.auto_healed
    (step,) = await load_steps(database, run.id)
    assert step.attempts == 3
    assert len(fake_vendor.requests_to("/flaky")) == 3


async def test_transient_failures_past_the_attempt_limit_fail_the_run(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/down", Reply(503))
    agent = await _agent(app, client)
    database: Database = app.state.database
    workflow = http_workflow(fake_vendor.url, "/down", max_attempts=2)
    run = await wait_for_run(database, await queue_run(database, agent, workflow))
    assert run.status == "failed" and run.error_kind == "upstream_error"
    assert run.error_step == "call_0" and not run.auto_healed
    assert len(fake_vendor.requests_to("/down")) == 2


async def test_permanent_failure_fails_at_once_without_retrying(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/auth", Reply(401))
    agent = await _agent(app, client)
    database: Database = app.state.database
    workflow = http_workflow(fake_vendor.url, "/auth", "/never")
    run = await wait_for_run(database, await queue_run(database, agent, workflow))
    assert run.status == "failed" and run.error_kind == "auth"
    assert "credential" in (run.error_message or "")
    assert len(fake_vendor.requests_to("/auth")) == 1
    assert fake_vendor.requests_to("/never") == []
    fresh = await load_agent(database, agent.id)
    assert fresh.failed_runs == 1 and fresh.consecutive_failures == 1
    assert fresh.last_error and fresh.last_error.startswith("auth:")


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    policy = RetryPolicy(max_attempts=5, backoff_seconds=1.0, max_backoff_seconds=30.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 30.0)]:
        delay = backoff_delay(policy, attempt, None)
        assert ceiling / 2 <= delay <= ceiling
    assert backoff_delay(policy, 1, 12.0) == 12.0
    assert backoff_delay(policy, 1, 500.0) == 30.0


async def test_run_resumes_after_its_last_checkpoint_without_repeating_steps(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    """What a crashed worker leaves: a running run with an expired lease and the
    first step checkpointed. A live worker reclaims it and runs only the rest."""
    agent = await _agent(app, client)
    database: Database = app.state.database
    workflow = http_workflow(fake_vendor.url, "/first", "/second")
    now = utcnow()
    run_id = uuid.uuid4()
    async with database.transaction() as session:
        session.add(
            Run(
                id=run_id,
                agent_id=agent.id,
                owner_id=agent.owner_id,
                template_slug=agent.template_slug,
                trigger="manual",
                status="running",
                input={},
                workflow=workflow,
                attempts=1,
                worker_id="a-worker-that-died",
                lease_expires_at=now - timedelta(seconds=5),
                started_at=now - timedelta(seconds=10),
            )
        )
        await session.flush()
        session.add(
            RunStep(
                run_id=run_id,
                step_id="call_0",
                position=0,
                kind="http",
                status="succeeded",
                output={"status": 200},
            )
        )
    run = await wait_for_run(database, run_id)
    assert run.status == "succeeded" and run.attempts == 2
    assert fake_vendor.requests_to("/first") == []
    assert len(fake_vendor.requests_to("/second")) == 1


async def test_run_past_its_timeout_fails_with_kind_timeout(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/slow", Reply(200, delay=5))
    agent = await _agent(app, client, timeout_seconds=1)
    database: Database = app.state.database
    workflow = http_workflow(fake_vendor.url, "/slow", "/after")
    run = await wait_for_run(database, await queue_run(database, agent, workflow))
    assert run.status == "failed" and run.error_kind == "timeout"
    assert "1 s" in (run.error_message or "")
    assert fake_vendor.requests_to("/after") == []


async def test_stuck_run_past_its_timeout_is_failed_not_requeued(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    agent = await _agent(app, client, timeout_seconds=60)
    database: Database = app.state.database
    run_id = uuid.uuid4()
    async with database.transaction() as session:
        session.add(
            Run(
                id=run_id,
                agent_id=agent.id,
                owner_id=agent.owner_id,
                template_slug=agent.template_slug,
                trigger="manual",
                status="running",
                input={},
                workflow=THREE_STEPS,
                attempts=1,
                worker_id="gone",
                lease_expires_at=utcnow() - timedelta(seconds=1),
                started_at=utcnow() - timedelta(minutes=5),
            )
        )
    run = await wait_for_run(database, run_id)
    assert run.status == "failed" and run.error_kind == "timeout"


async def test_one_run_at_a_time_per_agent_by_default(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/slow", Reply(200, delay=0.5))
    agent = await _agent(app, client)
    database: Database = app.state.database
    workflow = http_workflow(fake_vendor.url, "/slow")
    first = await queue_run(database, agent, workflow)
    second = await queue_run(database, agent, workflow)
    await asyncio.to_thread(fake_vendor.wait_for_requests, 1)
    assert (await wait_for_run(database, second, ("queued",))).status == "queued"
    assert (await wait_for_run(database, first)).status == "succeeded"
    assert (await wait_for_run(database, second)).status == "succeeded"
    assert len(fake_vendor.requests_to("/slow")) == 2


async def test_agent_limit_above_one_runs_in_parallel(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/slow", Reply(200, delay=1.0))
    agent = await _agent(app, client, max_concurrent_runs=2)
    database: Database = app.state.database
    workflow = http_workflow(fake_vendor.url, "/slow")
    runs = [await queue_run(database, agent, workflow) for _ in range(2)]
    await asyncio.to_thread(fake_vendor.wait_for_requests, 2)
    for run_id in runs:
        assert (await wait_for_run(database, run_id)).status == "succeeded"


async def test_user_cap_limits_runs_across_agents(
    database_url: str, tmp_path: Path, fake_vendor: FakeVendorServer
) -> None:
    from asgi_lifespan import LifespanManager

    from botskis.app import create_app

    capped = make_settings(
        database_url, tmp_path / "logs", **FAST_WORKER, user_max_concurrent_runs=1
    )
    fake_vendor.respond("/slow", Reply(200, delay=0.5))
    app = create_app(capped)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            account = await sign_up(client)
        database: Database = app.state.database
        agents = [await create_agent(database, account.id) for _ in range(2)]
        workflow = http_workflow(fake_vendor.url, "/slow")
        first = await queue_run(database, agents[0], workflow)
        second = await queue_run(database, agents[1], workflow)
        await asyncio.to_thread(fake_vendor.wait_for_requests, 1)
        assert (await wait_for_run(database, second, ("queued",))).status == "queued"
        assert (await wait_for_run(database, first)).status == "succeeded"
        assert (await wait_for_run(database, second)).status == "succeeded"


async def test_cancelling_a_running_run_stops_it_before_the_next_step(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/slow", Reply(200, delay=0.5))
    account = await sign_up(client)
    database: Database = app.state.database
    agent = await create_agent(database, account.id)
    run_id = await queue_run(database, agent, http_workflow(fake_vendor.url, "/slow", "/next"))
    await asyncio.to_thread(fake_vendor.wait_for_requests, 1)
    cancelled = await client.post(f"/api/v1/runs/{run_id}/cancel", headers=account.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    await asyncio.sleep(1.0)
    run = await wait_for_run(database, run_id)
    assert run.status == "cancelled"
    assert fake_vendor.requests_to("/next") == []
    assert await load_steps(database, run_id) == []


async def test_invalid_workflow_snapshot_fails_the_run_clearly(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    agent = await _agent(app, client)
    database: Database = app.state.database
    run_id = await queue_run(database, agent, {"steps": []})
    run = await wait_for_run(database, run_id)
    assert run.status == "failed" and run.error_kind == "invalid_workflow"


async def test_run_updates_are_published_for_queued_running_each_step_and_finished(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    agent = await _agent(app, client)
    database: Database = app.state.database
    run_id = await queue_run(database, agent, THREE_STEPS, input={"n": 1})
    await wait_for_run(database, run_id)
    async with database.transaction() as session:
        events = list(
            await session.scalars(
                sa.select(LoggedEvent)
                .where(LoggedEvent.user_id == agent.owner_id, LoggedEvent.type == "run_update")
                .order_by(LoggedEvent.seq)
            )
        )
    assert all(e.agent_id == agent.id and e.fields["run_id"] == str(run_id) for e in events)
    seen = [(e.fields["status"], (e.fields.get("step") or {}).get("id")) for e in events]
    assert seen == [
        ("queued", None),
        ("running", None),
        ("running", "double"),
        ("running", "gate"),
        ("running", "label"),
        ("succeeded", None),
    ]
