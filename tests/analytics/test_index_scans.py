"""On PostgreSQL, every statement behind the analytics, health, error-group,
run-list and dashboard-metrics reads uses an index on the big tables.

Two checks on one seeded database (50 accounts, 300 agents, 72,000 hourly and
3,000 daily rollup rows, 30,000 runs, ANALYZEd): with the planner's own choice,
no statement scans a rollup table or `runs` sequentially (tiny tables such as
`error_fingerprints` may be, when that is cheaper); with `enable_seqscan` off, no
statement scans any table sequentially, so every read has an index to use."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy import event

from botskis.agents.models import Agent
from botskis.analytics import service as analytics
from botskis.analytics.models import COUNTER_COLUMNS, Granularity
from botskis.core.pagination import PageParams
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.monitoring import service as monitoring
from botskis.realtime.dashboard_metrics import dashboard_metrics
from botskis.runs import service as runs
from botskis.runs.models import RunStatus
from botskis.users.models import User
from tests.databases import on_postgres

pytestmark = pytest.mark.skipif(not on_postgres(), reason="EXPLAIN plans are PostgreSQL's")

OWNERS, AGENTS_PER_OWNER, HOURS = 50, 6, 240
BIG_TABLES = ("agent_rollups", "account_rollups", "error_rollups", "runs")


def _seed(conn: sa.Connection) -> tuple[uuid.UUID, uuid.UUID]:
    owners = [uuid.uuid4() for _ in range(OWNERS)]
    conn.execute(
        sa.insert(User.__table__),  # type: ignore[arg-type]
        [
            {"id": o, "email": f"{o.hex}@example.com", "hashed_password": "x", "full_name": "x"}
            for o in owners
        ],
    )
    conn.execute(
        sa.insert(Agent.__table__),  # type: ignore[arg-type]
        [
            {
                "id": uuid.uuid4(),
                "owner_id": owner,
                "template_slug": "zapier-alternative",
                "name": "a",
                "config": {},
                "trigger": {"type": "manual"},
                "status": "active",
            }
            for owner in owners
            for _ in range(AGENTS_PER_OWNER)
        ],
    )
    counters = ", ".join((*COUNTER_COLUMNS, "duration_max_ms"))
    values = ", ".join(["(random() * 10)::int"] * (len(COUNTER_COLUMNS) + 1))
    buckets = {
        "hour": f"date_trunc('hour', now()) - make_interval(hours => g) FROM generate_series(0, {HOURS - 1}) g",
        "day": f"date_trunc('day', now()) - make_interval(days => g) FROM generate_series(0, {HOURS // 24 - 1}) g",
    }
    for granularity, series in buckets.items():
        conn.execute(
            sa.text(
                f"INSERT INTO agent_rollups (agent_id, owner_id, granularity, bucket, {counters})"
                f" SELECT a.id, a.owner_id, '{granularity}', b.at, {values} FROM agents a"
                f" CROSS JOIN (SELECT {series}) AS b(at)"
            )
        )
        conn.execute(
            sa.text(
                f"INSERT INTO account_rollups (owner_id, granularity, bucket, {counters})"
                f" SELECT u.id, '{granularity}', b.at, {values} FROM users u"
                f" CROSS JOIN (SELECT {series}) AS b(at)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO error_rollups (agent_id, owner_id, granularity, bucket, fingerprint,"
                " count, first_seen, last_seen, sample_run_id, sample_message)"
                f" SELECT a.id, a.owner_id, '{granularity}', b.at, md5(f::text), 1, b.at, b.at,"
                " gen_random_uuid(), 'm' FROM agents a"
                f" CROSS JOIN (SELECT {series}) AS b(at) CROSS JOIN generate_series(1, 3) f"
            )
        )
    conn.execute(
        sa.text(
            "INSERT INTO error_fingerprints (fingerprint, error_kind, message, step, template_slug)"
            " SELECT md5(f::text), 'http_error', 'm', 's', 'zapier-alternative'"
            " FROM generate_series(1, 3) f"
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO runs (id, agent_id, owner_id, template_slug, trigger, status, input,"
            " workflow, attempts, auto_healed, queued_at, created_at, updated_at, finished_at)"
            " SELECT gen_random_uuid(), a.id, a.owner_id, a.template_slug, 'manual',"
            " (ARRAY['succeeded', 'failed', 'cancelled'])[1 + g % 3], '{}', '{}', 1, false,"
            " now() - make_interval(mins => g), now() - make_interval(mins => g),"
            " now() - make_interval(mins => g), now() - make_interval(mins => g)"
            " FROM agents a CROSS JOIN generate_series(1, 100) g"
        )
    )
    conn.execute(sa.text("ANALYZE"))
    owner, agent = conn.execute(sa.text("SELECT owner_id, id FROM agents LIMIT 1")).one()
    return owner, agent


def _calls(
    database: Database, owner_id: uuid.UUID, agent_id: uuid.UUID
) -> list[Callable[[], Awaitable[Any]]]:
    now = utcnow()
    week = analytics.checked_range(None, None, Granularity.DAY, now)
    hours = analytics.checked_range(now - timedelta(days=2), None, Granularity.HOUR, now)
    page = PageParams(limit=50, offset=0)

    def in_session(work: Callable[[Any], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
        async def call() -> Any:
            async with database.transaction() as session:
                return await work(session)

        return call

    async def agent_work(session: Any) -> Any:
        agent = await session.get(Agent, agent_id)
        await analytics.agent_analytics(session, agent, week)
        return await monitoring.agent_health(session, agent)

    return [
        in_session(lambda s: analytics.overview(s, owner_id, week)),
        in_session(lambda s: analytics.overview(s, owner_id, hours)),
        in_session(agent_work),
        in_session(lambda s: monitoring.error_groups(s, owner_id)),
        in_session(lambda s: monitoring.error_groups(s, owner_id, agent_id=agent_id)),
        in_session(lambda s: runs.list_runs(s, owner_id, agent_id, page)),
        in_session(lambda s: runs.list_runs(s, owner_id, agent_id, page, status=RunStatus.FAILED)),
        lambda: dashboard_metrics(database, owner_id),
    ]


async def test_analytics_reads_use_indexes(app: FastAPI) -> None:
    database: Database = app.state.database
    async with database.engine.begin() as conn:
        owner_id, agent_id = await conn.run_sync(_seed)
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(database.engine.sync_engine, "before_cursor_execute", capture)
    try:
        for call in _calls(database, owner_id, agent_id):
            await call()
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", capture)
    assert len(statements) >= 15
    assert any("agent_rollups" in s for s, _ in statements)
    async with database.engine.connect() as conn:
        for seqscan in ("on", "off"):
            await conn.exec_driver_sql(f"SET enable_seqscan = {seqscan}")
            for statement, parameters in statements:
                plan = "\n".join(
                    (await conn.exec_driver_sql("EXPLAIN " + statement, parameters)).scalars()
                )
                scanned = [line for line in plan.splitlines() if "Seq Scan on" in line]
                if seqscan == "on":
                    scanned = [s for s in scanned if any(f" {t} " in s + " " for t in BIG_TABLES)]
                assert scanned == [], f"{statement}\n{plan}"
