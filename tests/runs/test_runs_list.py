"""An agent's run list costs the same with a long history as with a short one:
its statements walk indexes (never a scan of the agent's runs) and its total
stops counting at a cap."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.runs.models import Run, RunStatus
from botskis.runs.service import RUNS_TOTAL_CAP
from tests.databases import on_postgres
from tests.runs.factories import create_agent
from tests.users.factories import sign_up

RUNS: sa.Table = Run.__table__  # type: ignore[assignment]


async def _history(database: Database, agent_id: Any, owner_id: Any, count: int) -> None:
    start = utcnow() - timedelta(days=30)
    rows = [
        {
            "id": uuid.uuid4(),
            "agent_id": agent_id,
            "owner_id": owner_id,
            "template_slug": "zapier-alternative",
            "trigger": "manual",
            "status": RunStatus.FAILED if n % 10 == 0 else RunStatus.SUCCEEDED,
            "input": {},
            "workflow": {"steps": []},
            "attempts": 1,
            "auto_healed": False,
            "queued_at": start + timedelta(seconds=n),
            "created_at": start + timedelta(seconds=n),
            "updated_at": start + timedelta(seconds=n),
        }
        for n in range(count)
    ]
    async with database.transaction() as session:
        await session.execute(sa.insert(RUNS), rows)


async def test_run_list_total_stops_counting_at_the_cap(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await sign_up(client)
    agent = await create_agent(app.state.database, account.id)
    await _history(app.state.database, agent.id, agent.owner_id, RUNS_TOTAL_CAP + 5)
    listed = await client.get(
        f"/api/v1/agents/{agent.id}/runs", params={"limit": 3}, headers=account.headers
    )
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["total"] == RUNS_TOTAL_CAP
    created = [item["created_at"] for item in body["items"]]
    assert len(created) == 3 and created == sorted(created, reverse=True)
    failed = await client.get(
        f"/api/v1/agents/{agent.id}/runs", params={"status": "failed"}, headers=account.headers
    )
    assert failed.json()["total"] == (RUNS_TOTAL_CAP + 5 + 9) // 10
    # The last page, past the cap, shows its runs and still reports the cap.
    last = await client.get(
        f"/api/v1/agents/{agent.id}/runs",
        params={"limit": 10, "offset": RUNS_TOTAL_CAP},
        headers=account.headers,
    )
    assert (len(last.json()["items"]), last.json()["total"]) == (5, RUNS_TOTAL_CAP)


async def test_total_and_pages_agree_at_every_page_boundary(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A page that is not full gives its total without a count; a full page, or
    one past the end, counts. Both must say 7, and the pages must tile the runs."""
    account = await sign_up(client)
    agent = await create_agent(app.state.database, account.id)
    await _history(app.state.database, agent.id, agent.owner_id, 7)
    url = f"/api/v1/agents/{agent.id}/runs"
    seen: list[str] = []
    for limit, offset, shown in [
        (3, 0, 3),
        (3, 3, 3),
        (3, 6, 1),
        (3, 7, 0),
        (7, 0, 7),
        (10, 0, 7),
        (6, 0, 6),
        (5, 100, 0),
    ]:
        page = await client.get(
            url, params={"limit": limit, "offset": offset}, headers=account.headers
        )
        assert page.status_code == 200, page.text
        body = page.json()
        assert (len(body["items"]), body["total"]) == (shown, 7), (limit, offset, body)
        if limit == 3:
            seen += [item["id"] for item in body["items"]]
    everything = (await client.get(url, params={"limit": 7}, headers=account.headers)).json()
    assert seen == [item["id"] for item in everything["items"]]
    quiet = await create_agent(app.state.database, account.id)
    empty = await client.get(f"/api/v1/agents/{quiet.id}/runs", headers=account.headers)
    assert (empty.json()["items"], empty.json()["total"]) == ([], 0)


def _node_types(node: dict[str, Any]) -> set[str]:
    found = {node["Node Type"]}
    for child in node.get("Plans", []):
        found |= _node_types(child)
    return found


@pytest.mark.skipif(not on_postgres(), reason="the plans under test are PostgreSQL's")
async def test_run_list_statements_walk_indexes_on_postgres(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Each statement the endpoint sends about runs, explained with its own
    parameters after VACUUM ANALYZE (default planner settings) over 20,000 runs
    of the agent among 200,000 (one in 500 failed): no sequential scan, no sort."""
    database: Database = app.state.database
    account = await sign_up(client)
    agent = await create_agent(database, account.id)
    others = [await create_agent(database, account.id) for _ in range(9)]
    insert = sa.text(
        """
        INSERT INTO runs (id, agent_id, owner_id, template_slug, trigger, status, input,
                          workflow, attempts, auto_healed, queued_at, created_at, updated_at)
        SELECT gen_random_uuid(), :agent, :owner, 'zapier-alternative', 'manual',
               CASE WHEN n % 500 = 0 THEN 'failed' ELSE 'succeeded' END, '{}',
               '{"steps": []}', 1, false, now() - n * interval '1 second',
               now() - n * interval '1 second', now()
        FROM generate_series(1, 20000) AS n
        """
    )
    async with database.engine.begin() as connection:
        for each in (agent, *others):
            await connection.execute(insert, {"agent": each.id, "owner": each.owner_id})
    async with database.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(sa.text("VACUUM ANALYZE runs"))
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "runs.agent_id = " in statement:
            sent.append((statement, parameters))

    sa.event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        for params in ({}, {"status": "failed"}):
            listed = await client.get(
                f"/api/v1/agents/{agent.id}/runs", params=params, headers=account.headers
            )
            assert listed.status_code == 200, listed.text
    finally:
        sa.event.remove(database.engine.sync_engine, "before_cursor_execute", record)
    assert len(sent) == 4
    async with database.engine.connect() as connection:
        for statement, parameters in sent:
            result = await connection.exec_driver_sql(
                f"EXPLAIN (FORMAT JSON) {statement}", parameters
            )
            plan = result.scalar_one()[0]["Plan"]
            assert not _node_types(plan) & {"Seq Scan", "Sort"}, (statement, plan)
