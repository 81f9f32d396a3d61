"""A worker killed with -9 in the middle of many runs on PostgreSQL: another
worker finishes every one of them; none is lost, and in each run at most the
step that was in flight at the kill is executed twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager

from botskis.app import create_app
from botskis.database.connection import Database
from botskis.database.models import Base
from tests.conftest import make_settings
from tests.execution.test_engine_durability import _kill_hard, worker_process
from tests.fakes.threaded_http import Reply
from tests.fakes.vendor_server import FakeVendorServer
from tests.private_postgres import PrivatePostgres
from tests.runs.factories import create_agent, http_workflow, queue_run
from tests.runs.helpers import wait_for_run
from tests.users.factories import sign_up

pytestmark = pytest.mark.chaos

RUNS = 12


@pytest.fixture
async def database(postgres: PrivatePostgres, tmp_path: Path) -> AsyncIterator[Database]:
    engine = sa.create_engine(postgres.url)
    Base.metadata.create_all(engine)
    engine.dispose()
    settings = make_settings(postgres.url, tmp_path / "logs", worker_embedded=False, redis_url=None)
    app = create_app(settings)
    async with LifespanManager(app):
        yield app.state.database


async def test_every_run_finishes_after_its_worker_is_killed_mid_run(
    postgres: PrivatePostgres,
    database: Database,
    fake_vendor: FakeVendorServer,
    tmp_path: Path,
) -> None:
    # An account made through the API, so its row is exactly what signup writes.
    transport = httpx.ASGITransport(app=create_app(make_settings(postgres.url, tmp_path / "l2")))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        account = await sign_up(client)
    run_ids = []
    for index in range(RUNS):
        fake_vendor.respond(f"/r{index}/slow", Reply(200, delay=1.0))
        agent = await create_agent(database, account.id)
        workflow = http_workflow(
            fake_vendor.url, f"/r{index}/first", f"/r{index}/slow", f"/r{index}/last"
        )
        run_ids.append(await queue_run(database, agent, workflow))
    with worker_process(postgres.url, tmp_path, "doomed") as doomed:
        await asyncio.to_thread(
            fake_vendor.wait_for_requests, 4, where=lambda r: r.path.endswith("/slow"), timeout=60
        )
        _kill_hard(doomed)
    with worker_process(postgres.url, tmp_path, "rescuer"):
        runs = [await wait_for_run(database, run_id, timeout=90) for run_id in run_ids]
    assert [run.status for run in runs] == ["succeeded"] * RUNS
    assert max(run.attempts for run in runs) <= 2
    assert any(run.attempts == 2 for run in runs)
    for index in range(RUNS):
        calls = [
            len(fake_vendor.requests_to(f"/r{index}/{step}")) for step in ("first", "slow", "last")
        ]
        # Every step ran; at most one of them (the one in flight at the kill) twice.
        assert min(calls) >= 1 and sum(calls) <= 4, (index, calls)
