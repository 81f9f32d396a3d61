"""Claiming queued runs: concurrent claims keep every limit exact without a
global lock, and the claim's statements read only the rows they need (an index
in the claim's order, no scan or sort of the backlog)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.dialects import postgresql, sqlite

from botskis.agents.models import Agent
from botskis.config import Settings
from botskis.database.connection import Database
from botskis.queue.claims import claim_runs, claim_scan, queued_candidates, running_counts
from botskis.runs.models import Run, RunStatus
from tests.conftest import make_settings
from tests.databases import on_postgres
from tests.runs.factories import THREE_STEPS, create_agent, queue_run
from tests.users.factories import sign_up

AGENT_LIMIT = 2
USER_CAP = 3
CLAIMERS = 6


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # No embedded worker: the test is the only claimer.
    return make_settings(
        database_url,
        tmp_path / "logs",
        worker_embedded=False,
        user_max_concurrent_runs=USER_CAP,
    )


async def _running(database: Database) -> list[Any]:
    async with database.transaction() as session:
        rows = await session.execute(
            sa.select(Run.agent_id, Run.owner_id).where(Run.status == RunStatus.RUNNING)
        )
        return list(rows.all())


async def test_concurrent_claims_keep_agent_and_user_limits_exact(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    """Six claimers race for runs of two owners with three agents each (two runs
    at once per agent, three per owner): never more than a limit allows, and
    exactly as many as the limits allow, round after round."""
    database: Database = app.state.database
    owners = [await sign_up(client) for _ in range(2)]
    agents = [
        await create_agent(database, owner.id, max_concurrent_runs=AGENT_LIMIT)
        for owner in owners
        for _ in range(3)
    ]
    for agent in agents:
        for _ in range(4):
            await queue_run(database, agent, THREE_STEPS, input={"n": 1})
    for _round in range(3):
        claims = await asyncio.gather(
            *(claim_runs(database, settings, f"claimer-{n}", 2) for n in range(CLAIMERS))
        )
        claimed = [claimed.run.id for batch in claims for claimed in batch]
        assert len(claimed) == len(set(claimed))
        running = await _running(database)
        per_agent = Counter(agent_id for agent_id, _ in running)
        per_owner = Counter(owner_id for _, owner_id in running)
        assert max(per_agent.values()) <= AGENT_LIMIT
        assert sorted(per_owner.values()) == [USER_CAP, USER_CAP]
        # Every limit is full: one more claim finds nothing it may start.
        assert await claim_runs(database, settings, "claimer-late", 10) == []
        async with database.transaction() as session:
            await session.execute(
                sa.update(Run)
                .where(Run.status == RunStatus.RUNNING)
                .values(status=RunStatus.SUCCEEDED)
            )


async def test_a_claim_passes_over_runs_of_an_agent_at_its_limit(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    database: Database = app.state.database
    owner = await sign_up(client)
    busy = await create_agent(database, owner.id)
    idle = await create_agent(database, owner.id)
    first = await queue_run(database, busy, THREE_STEPS)
    await queue_run(database, busy, THREE_STEPS)
    waiting = await queue_run(database, idle, THREE_STEPS)
    claimed = await claim_runs(database, settings, "claimer", 5)
    assert [c.run.id for c in claimed] == [first, waiting]
    assert [c.agent.id for c in claimed] == [busy.id, idle.id]


def _plan_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [node]
    for child in node.get("Plans", []):
        nodes.extend(_plan_nodes(child))
    return nodes


async def _seed_backlog(database: Database, agent: Agent, queued: int, finished: int) -> None:
    """Rows straight from generate_series: a backlog in seconds, statistics fresh."""
    insert = sa.text(
        """
        INSERT INTO runs (id, agent_id, owner_id, template_slug, trigger, status, input,
                          workflow, attempts, auto_healed, queued_at, created_at, updated_at)
        SELECT gen_random_uuid(), :agent, :owner, 'zapier-alternative', 'manual', :status,
               '{}', '{"steps": []}', 0, false,
               now() - n * interval '1 millisecond', now(), now()
        FROM generate_series(1, :count) AS n
        """
    )
    async with database.engine.begin() as connection:
        for status, count in (("queued", queued), ("succeeded", finished), ("running", 20)):
            await connection.execute(
                insert,
                {"agent": agent.id, "owner": agent.owner_id, "status": status, "count": count},
            )
    async with database.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(sa.text("ANALYZE runs"))


@pytest.mark.skipif(not on_postgres(), reason="the plan under test is PostgreSQL's")
async def test_claim_statements_read_the_backlog_through_indexes_on_postgres(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """With 20,000 queued and 20,000 finished runs (planner statistics fresh, its
    settings the defaults), the candidate query walks `ix_runs_queue` in order
    and neither claim statement scans or sorts the table."""
    database: Database = app.state.database
    owner = await sign_up(client)
    agent = await create_agent(database, owner.id)
    await _seed_backlog(database, agent, queued=20_000, finished=20_000)
    for statement in (queued_candidates(claim_scan(16)), running_counts([agent.owner_id])):
        sql = statement.compile(
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
        )
        async with database.engine.connect() as connection:
            plan = (await connection.execute(sa.text(f"EXPLAIN (FORMAT JSON) {sql}"))).scalar_one()
        nodes = _plan_nodes(plan[0]["Plan"])
        kinds = {node["Node Type"] for node in nodes}
        assert not kinds & {"Seq Scan", "Sort", "Incremental Sort"}, plan
    candidates = queued_candidates(claim_scan(16)).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    async with database.engine.connect() as connection:
        plan = (
            await connection.execute(sa.text(f"EXPLAIN (FORMAT JSON) {candidates}"))
        ).scalar_one()
    assert "ix_runs_queue" in {node.get("Index Name") for node in _plan_nodes(plan[0]["Plan"])}


@pytest.mark.skipif(on_postgres(), reason="the plan under test is SQLite's")
async def test_claim_candidates_are_read_through_the_queue_index_on_sqlite(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    database: Database = app.state.database
    owner = await sign_up(client)
    agent = await create_agent(database, owner.id)
    for _ in range(3):
        await queue_run(database, agent, THREE_STEPS)
    sql = queued_candidates(claim_scan(16)).compile(
        dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}
    )
    async with database.engine.connect() as connection:
        plan = " | ".join(
            str(row[-1]) for row in await connection.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}"))
        )
    assert "ix_runs_queue" in plan and "TEMP B-TREE" not in plan, plan


def test_limit_keys_of_an_agent_and_an_owner_with_one_id_differ() -> None:
    from botskis.queue.claims import limit_key

    same = uuid.uuid4()
    assert limit_key(b"agent", same) != limit_key(b"owner", same)
