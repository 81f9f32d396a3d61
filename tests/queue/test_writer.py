"""Group commit of run progress: runs finishing together share one transaction,
yet each keeps its own outcome: a run this worker lost writes nothing, a row the
database refuses fails only its own run, and an agent's outcomes count in order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from botskis.agents.models import Agent
from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.execution.engine import ClaimedRun, RunExecution
from botskis.execution.outbound import create_client
from botskis.queue.claims import claim_runs, reclaim_expired
from botskis.queue.worker import RunWorker
from botskis.queue.writer import LeaseLost, RunWrite, RunWriter
from botskis.realtime.models import LoggedEvent
from botskis.runs.models import Run, RunStep, Worker
from tests.conftest import make_settings
from tests.databases import on_postgres
from tests.fakes.threaded_http import Reply
from tests.fakes.vendor_server import FakeVendorServer
from tests.runs.factories import (
    THREE_STEPS,
    create_agent,
    http_workflow,
    load_agent,
    load_run,
    load_steps,
    queue_run,
)
from tests.runs.helpers import wait_for_run
from tests.users.factories import sign_up

WORKER_ID = "writer-test-worker"
FAILING: dict[str, Any] = {
    "steps": [{"id": "broken", "kind": "transform", "params": {"values": {"x": "{{ 1 // 0 }}"}}}]
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # No embedded worker: the test claims and executes the runs itself.
    return make_settings(
        database_url,
        tmp_path / "logs",
        worker_embedded=False,
        agent_failure_threshold=2,
        http_allowlist="127.0.0.1",
    )


async def _claim(database: Database, settings: Settings, count: int) -> list[ClaimedRun]:
    claimed = await claim_runs(database, settings, WORKER_ID, count)
    assert len(claimed) == count
    return claimed


async def _execute(
    database: Database, settings: Settings, claimed: list[ClaimedRun]
) -> list[BaseException | None]:
    """Execute the claimed runs concurrently, as a worker does."""
    writer = RunWriter(database, settings, WORKER_ID)
    writer.start()
    http = create_client(settings)
    try:
        results = await asyncio.gather(
            *(RunExecution(database, settings, writer, run, http).execute() for run in claimed),
            return_exceptions=True,
        )
    finally:
        await writer.stop(grace=5)
        await http.aclose()
    return list(results)


@asynccontextmanager
async def _row_locked(database: Database, run_id: uuid.UUID, seconds: float) -> AsyncIterator[None]:
    """Another connection holds a write lock on the run's row for `seconds` (on
    SQLite, the database's writer lock): the writer's transaction that touches
    it waits that long."""
    locked = asyncio.Event()

    async def hold() -> None:
        async with database.engine.connect() as connection:
            await connection.execute(
                sa.update(Run).where(Run.id == run_id).values(lease_expires_at=Run.lease_expires_at)
            )
            locked.set()
            await asyncio.sleep(seconds)
            await connection.rollback()

    holder = asyncio.create_task(hold())
    await locked.wait()
    try:
        yield
    finally:
        await holder


async def _agent(app: FastAPI, client: httpx.AsyncClient, **columns: Any) -> Agent:
    account = await sign_up(client)
    return await create_agent(app.state.database, account.id, **columns)


async def _two_claimed_runs(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> tuple[Agent, uuid.UUID, uuid.UUID, list[ClaimedRun]]:
    """An agent allowed two runs at once, with two THREE_STEPS runs claimed."""
    agent = await _agent(app, client, max_concurrent_runs=2)
    database: Database = app.state.database
    first = await queue_run(database, agent, THREE_STEPS, input={"n": 1})
    second = await queue_run(database, agent, THREE_STEPS, input={"n": 2})
    return agent, first, second, await _claim(database, settings, 2)


async def test_runs_finishing_together_share_one_transaction(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    database: Database = app.state.database
    agent = await _agent(app, client, max_concurrent_runs=6)
    run_ids = [await queue_run(database, agent, THREE_STEPS, input={"n": n}) for n in range(6)]
    claimed = await _claim(database, settings, 6)
    commits: list[int] = []
    listener = lambda _connection: commits.append(1)  # noqa: E731
    event.listen(database.engine.sync_engine, "commit", listener)
    try:
        assert await _execute(database, settings, claimed) == [None] * 6
    finally:
        event.remove(database.engine.sync_engine, "commit", listener)
    assert len(commits) < 6
    for n, run_id in enumerate(run_ids):
        run = await load_run(database, run_id)
        assert run.status == "succeeded" and run.worker_id is None and run.duration_ms is not None
        steps = await load_steps(database, run_id)
        assert [s.output for s in steps] == [{"n": 2 * n}, {"passed": True}, {"text": f"n={2 * n}"}]
    fresh = await load_agent(database, agent.id)
    assert (fresh.total_runs, fresh.successful_runs, fresh.consecutive_failures) == (6, 6, 0)
    async with database.transaction() as session:
        rows = await session.execute(sa.select(LoggedEvent.fields).order_by(LoggedEvent.seq))
        statuses: dict[str, list[str]] = {}
        for (fields,) in rows:
            step = fields.get("step")
            statuses.setdefault(fields["run_id"], []).append(
                f"step {step['id']}" if step else fields["status"]
            )
    for run_id in run_ids:
        assert statuses[str(run_id)] == [
            "queued",
            "running",
            "step double",
            "step gate",
            "step label",
            "succeeded",
        ]


async def test_a_run_this_worker_no_longer_holds_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    database: Database = app.state.database
    agent, kept, lost, claimed = await _two_claimed_runs(app, client, settings)
    async with database.transaction() as session:
        await session.execute(
            sa.update(Run)
            .where(Run.id == lost)
            .values(status="cancelled", worker_id=None, finished_at=utcnow())
        )
    assert await _execute(database, settings, claimed) == [None, None]
    assert (await load_run(database, kept)).status == "succeeded"
    assert (await load_run(database, lost)).status == "cancelled"
    assert await load_steps(database, lost) == []
    assert (await load_agent(database, agent.id)).total_runs == 1


async def test_an_older_attempt_of_a_run_this_worker_claimed_again_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    """Under load a worker's own lease can expire: its heartbeat's reclaim puts
    the run back in the queue, the same worker claims it again, and the first
    execution is still going. Both reach the same steps; only the newer attempt
    writes them, so `uq_run_steps_run_step` is never hit."""
    database: Database = app.state.database
    agent = await _agent(app, client)
    run_id = await queue_run(database, agent, THREE_STEPS, input={"n": 1})
    (older,) = await _claim(database, settings, 1)
    async with database.transaction() as session:
        await session.execute(
            sa.update(Run)
            .where(Run.id == run_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert await reclaim_expired(database, settings) == 1
    (newer,) = await _claim(database, settings, 1)
    assert (older.run.attempts, newer.run.attempts) == (1, 2)

    def checkpoint(claimed: ClaimedRun) -> RunWrite:
        record = {
            "id": uuid.uuid4(),
            "run_id": run_id,
            "step_id": "double",
            "position": 0,
            "kind": "transform",
            "status": "succeeded",
            "output": {"n": 2},
        }
        return RunWrite(claimed.run, [record])

    writer = RunWriter(database, settings, WORKER_ID)
    writer.start()
    try:
        # The older attempt checkpoints the step the newer one, claimed before
        # that checkpoint, is about to write again.
        with pytest.raises(LeaseLost):
            await writer.write(checkpoint(older))
        await writer.write(checkpoint(newer))
    finally:
        await writer.stop(grace=5)
    (record,) = await load_steps(database, run_id)
    assert record.step_id == "double"
    newer.checkpoints[record.step_id] = record
    assert await _execute(database, settings, [newer]) == [None]
    run = await load_run(database, run_id)
    assert run.status == "succeeded" and run.attempts == 2
    assert [s.step_id for s in await load_steps(database, run_id)] == ["double", "gate", "label"]


async def test_a_row_the_database_refuses_fails_only_its_own_run(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    database: Database = app.state.database
    _, healthy, poisoned, claimed = await _two_claimed_runs(app, client, settings)
    # A record of the same step already exists: the poisoned run's insert breaks
    # the (run_id, step_id) unique constraint, and with it the shared batch.
    async with database.transaction() as session:
        session.add(
            RunStep(
                run_id=poisoned, step_id="double", position=0, kind="transform", status="failed"
            )
        )
    results = await _execute(database, settings, claimed)
    by_run = {c.run.id: result for c, result in zip(claimed, results, strict=True)}
    assert by_run[healthy] is None
    assert isinstance(by_run[poisoned], IntegrityError)
    assert (await load_run(database, healthy)).status == "succeeded"
    # Still running under this worker: its lease expires and another attempt resumes it.
    left = await load_run(database, poisoned)
    assert left.status == "running" and left.worker_id == WORKER_ID
    assert [s.step_id for s in await load_steps(database, poisoned)] == ["double"]


async def test_outcomes_of_one_agent_in_one_batch_count_in_order(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    """Threshold 2: the failure makes the agent failing, the success after it in
    the same batch heals it; counted together, the failure would be lost."""
    database: Database = app.state.database
    agent = await _agent(app, client, max_concurrent_runs=2, consecutive_failures=1)
    failed = await queue_run(database, agent, FAILING)
    succeeded = await queue_run(database, agent, THREE_STEPS, input={"n": 1})
    claimed = await _claim(database, settings, 2)
    assert [c.run.id for c in claimed] == [failed, succeeded]
    assert await _execute(database, settings, claimed) == [None, None]
    assert (await load_run(database, failed)).error_kind == "render"
    fresh = await load_agent(database, agent.id)
    assert fresh.status == "active" and fresh.consecutive_failures == 0
    assert (fresh.total_runs, fresh.successful_runs, fresh.failed_runs) == (2, 1, 1)
    assert fresh.last_error is not None and "render" in fresh.last_error.lower()
    async with database.transaction() as session:
        kinds = list(
            await session.scalars(
                sa.select(LoggedEvent.fields["data"]["status"].as_string())
                .where(LoggedEvent.type == "agent_update")
                .order_by(LoggedEvent.seq)
            )
        )
    assert kinds == ["failing", "active"]


async def _finished_statuses(database: Database, run_id: uuid.UUID) -> list[str]:
    async with database.transaction() as session:
        fields = await session.scalars(
            sa.select(LoggedEvent.fields)
            .where(LoggedEvent.type == "run_update")
            .order_by(LoggedEvent.seq)
        )
        return [
            f["status"]
            for f in fields
            if f["run_id"] == str(run_id) and f["status"] in ("succeeded", "failed")
        ]


async def test_a_deadline_passing_while_the_finish_waits_does_not_finish_the_run_twice(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, fake_vendor: FakeVendorServer
) -> None:
    """The run's step fails before its 1 s deadline; its finish then waits in the
    writer behind another run's batch until after the deadline. It must finish
    once, as the step's failure, not a second time as `timeout`."""
    database: Database = app.state.database
    account = await sign_up(client)
    slow = await create_agent(database, account.id, timeout_seconds=1)
    other = await create_agent(database, account.id)
    fake_vendor.respond("/refuse", Reply(400, delay=0.3))
    waiting = await queue_run(database, slow, http_workflow(fake_vendor.url, "/refuse"))
    busy = await queue_run(database, other, THREE_STEPS, input={"n": 1})
    claimed = await _claim(database, settings, 2)
    async with _row_locked(database, busy, seconds=1.6):
        assert await _execute(database, settings, claimed) == [None, None]
    run = await load_run(database, waiting)
    assert run.status == "failed" and run.error_step == "call_0" and run.error_kind != "timeout"
    assert await _finished_statuses(database, waiting) == ["failed"]
    agent = await load_agent(database, slow.id)
    assert (agent.total_runs, agent.failed_runs, agent.consecutive_failures) == (1, 1, 1)


async def test_stopping_the_writer_commits_what_is_queued_and_in_flight(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    database: Database = app.state.database
    _, first, second, claimed = await _two_claimed_runs(app, client, settings)
    writer = RunWriter(database, settings, WORKER_ID)
    writer.start()
    http = create_client(settings)
    try:
        async with _row_locked(database, first, seconds=0.5):
            executions = [
                asyncio.create_task(RunExecution(database, settings, writer, run, http).execute())
                for run in claimed
            ]
            await asyncio.sleep(0.1)
            # Both finishes are waiting on the locked row when the worker stops.
            await writer.stop(grace=10)
        assert await asyncio.gather(*executions) == [None, None]
    finally:
        await http.aclose()
    for run_id in (first, second):
        assert (await load_run(database, run_id)).status == "succeeded"


@pytest.mark.skipif(not on_postgres(), reason="row locks: PostgreSQL")
async def test_the_heartbeat_skips_a_run_row_that_a_commit_in_flight_holds(
    app: FastAPI,
    client: httpx.AsyncClient,
    database_url: str,
    tmp_path: Path,
    fake_vendor: FakeVendorServer,
) -> None:
    """The writer locks its batch's run rows; a heartbeat waiting on one of them
    (and holding others) is how the two deadlocked. It extends the other leases
    and beats on instead."""
    database: Database = app.state.database
    fake_vendor.respond("/slow", Reply(200, delay=2.5))
    agent = await _agent(app, client)
    run_id = await queue_run(database, agent, http_workflow(fake_vendor.url, "/slow"))
    beating = make_settings(
        database_url,
        tmp_path / "worker-logs",
        http_allowlist="127.0.0.1",
        worker_heartbeat_seconds=0.1,
    )
    worker = RunWorker(database, beating)
    await worker.start()
    try:
        await wait_for_run(database, run_id, statuses=("running",))
        async with _row_locked(database, run_id, seconds=2.0):
            before = await _last_heartbeat(database, worker.id)
            deadline = asyncio.get_running_loop().time() + 1.5
            while await _last_heartbeat(database, worker.id) == before:
                assert asyncio.get_running_loop().time() < deadline, "the heartbeat is blocked"
                await asyncio.sleep(0.05)
    finally:
        await worker.stop()


async def _last_heartbeat(database: Database, worker_id: str) -> object:
    async with database.transaction() as session:
        return await session.scalar(sa.select(Worker.last_heartbeat).where(Worker.id == worker_id))
