"""Durable execution with real `botskis worker` processes: a run survives
kill -9 of its worker without repeating finished steps, a dead worker's runs
are recovered by another, and two workers share one queue on PostgreSQL with
every run executed exactly once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from botskis.config import Settings
from botskis.database.connection import Database
from tests.conftest import make_settings
from tests.databases import on_postgres
from tests.fakes.threaded_http import Reply
from tests.fakes.vendor_server import FakeVendorServer
from tests.live_server import BOTSKIS, server_env
from tests.runs.factories import create_agent, http_workflow, queue_run
from tests.runs.helpers import wait_for_run
from tests.users.factories import sign_up

LEASE_SECONDS = "1.5"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # The test process only queues runs; the worker processes execute them.
    return make_settings(database_url, tmp_path / "logs", worker_embedded=False)


@contextmanager
def worker_process(
    database_url: str, tmp_path: Path, name: str, *extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    env = server_env(
        database_url,
        tmp_path / f"{name}-logs",
        HTTP_ALLOWLIST="127.0.0.1",
        WORKER_HEARTBEAT_SECONDS="0.2",
        WORKER_LEASE_SECONDS=LEASE_SECONDS,
        WORKER_POLL_SECONDS="0.2",
    )
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen([*BOTSKIS, "worker", *extra], env=env, stdout=log, stderr=log)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def _kill_hard(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


async def test_run_survives_kill_9_mid_step_without_repeating_finished_steps(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake_vendor: FakeVendorServer,
    database_url: str,
    tmp_path: Path,
) -> None:
    fake_vendor.respond("/slow", Reply(200, delay=30), Reply(200))
    account = await sign_up(client)
    database: Database = app.state.database
    agent = await create_agent(database, account.id)
    workflow = http_workflow(fake_vendor.url, "/first", "/slow", "/third")
    run_id = await queue_run(database, agent, workflow)
    with worker_process(database_url, tmp_path, "doomed") as doomed:
        await asyncio.to_thread(
            fake_vendor.wait_for_requests, 1, where=lambda r: r.path == "/slow", timeout=60
        )
        _kill_hard(doomed)
    assert (await wait_for_run(database, run_id, ("running",))).status == "running"
    with worker_process(database_url, tmp_path, "restarted"):
        run = await wait_for_run(database, run_id, timeout=60)
    assert run.status == "succeeded", (run.error_kind, run.error_message)
    assert run.attempts == 2
    assert len(fake_vendor.requests_to("/first")) == 1
    # The step in flight at the kill is executed again; finished ones are not.
    assert len(fake_vendor.requests_to("/slow")) == 2
    assert len(fake_vendor.requests_to("/third")) == 1


async def test_runs_of_a_worker_that_never_returns_are_recovered_by_another(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake_vendor: FakeVendorServer,
    database_url: str,
    tmp_path: Path,
) -> None:
    fake_vendor.respond("/slow", Reply(200, delay=30), Reply(200))
    account = await sign_up(client)
    database: Database = app.state.database
    agent = await create_agent(database, account.id)
    run_id = await queue_run(database, agent, http_workflow(fake_vendor.url, "/slow", "/after"))
    with worker_process(database_url, tmp_path, "lost") as lost:
        await asyncio.to_thread(
            fake_vendor.wait_for_requests, 1, where=lambda r: r.path == "/slow", timeout=60
        )
        with worker_process(database_url, tmp_path, "survivor"):
            _kill_hard(lost)
            run = await wait_for_run(database, run_id, timeout=60)
    assert run.status == "succeeded" and run.attempts == 2
    assert len(fake_vendor.requests_to("/after")) == 1


@pytest.mark.skipif(not on_postgres(), reason="several worker processes need PostgreSQL")
async def test_two_workers_share_the_queue_and_run_everything_exactly_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake_vendor: FakeVendorServer,
    database_url: str,
    tmp_path: Path,
) -> None:
    fake_vendor.respond("/count", Reply(200, delay=0.05))
    account = await sign_up(client)
    database: Database = app.state.database
    agents = [await create_agent(database, account.id) for _ in range(5)]
    workflow = {
        "steps": [
            {
                "id": "count",
                "kind": "http",
                "params": {
                    "method": "POST",
                    "url": f"{fake_vendor.url}/count",
                    "json": {"tag": "{{ input.tag }}"},
                },
            }
        ]
    }
    with (
        worker_process(database_url, tmp_path, "one", "--concurrency", "2"),
        worker_process(database_url, tmp_path, "two", "--concurrency", "2"),
    ):
        runs = [
            await queue_run(database, agents[n % 5], workflow, input={"tag": n}) for n in range(40)
        ]
        finished = [await wait_for_run(database, run_id, timeout=120) for run_id in runs]
    assert all(r.status == "succeeded" and r.attempts == 1 for r in finished)
    tags = sorted(int(r.json["tag"]) for r in fake_vendor.requests_to("/count"))
    assert tags == list(range(40))
    logs = [(tmp_path / f"{name}.log").read_text() for name in ("one", "two")]
    assert all("run finished" in log for log in logs), "both workers took runs"
