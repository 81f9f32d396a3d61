"""Analytics, health, error and list endpoints at 1 k, 100 k and 1 M runs.

Seeds runs over 100 agents (10 accounts of 10) on PostgreSQL with COPY, spread
over the last 30 days (85 % succeeded, 12 % failed with one of five error
fingerprints, 3 % cancelled), and their rollups, summed by the same function the
run writer uses (`analytics.rollups.rollup_deltas`). At each size it reports
p50/p99 of every endpoint, over sequential keep-alive requests to one `botskis
serve` (no worker, so retention does not prune the seeded history), and the
EXPLAIN of every statement those endpoints run, captured from the services
themselves, flagging any sequential scan.

Usage:
  .venv/bin/python -m bench.analytics [--postgres URL] [--sizes 1000 100000 1000000]
                                      [--requests 200]

URL is a PostgreSQL server URL; the bench creates and drops a database of its
own there (never `test`).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import event

from bench.runs import postgres_database
from bench.server_process import bench_server
from botskis.agents.models import Agent
from botskis.analytics import service as analytics
from botskis.analytics.models import (
    COUNTER_COLUMNS,
    AccountRollup,
    AgentRollup,
    ErrorRollup,
    Granularity,
)
from botskis.analytics.rollups import Deltas, FinishedRun, rollup_deltas
from botskis.config import Settings
from botskis.core.pagination import PageParams
from botskis.database.connection import Database
from botskis.monitoring import service as monitoring
from botskis.monitoring.fingerprints import error_fingerprint
from botskis.realtime.dashboard_metrics import dashboard_metrics
from botskis.runs import service as runs
from botskis.runs.models import RunStatus
from botskis.users.models import User

OWNERS = 10
AGENTS_PER_OWNER = 10
DAYS = 30
PRICE = 0.6
TEMPLATES = ("zapier-alternative", "report-generator", "lead-qualification-bot")
ERRORS = (
    ("http_error", "vendor answered 500 for order 1", "fetch"),
    ("http_error", "vendor answered 404 for order 1", "fetch"),
    ("timeout", "step timed out after 30 s", "fetch"),
    ("auth", "token 'x' was refused", "notify"),
    ("llm_schema", "the model's output failed its schema", "classify"),
)
RUN_COLUMNS = (
    "id",
    "agent_id",
    "owner_id",
    "template_slug",
    "trigger",
    "status",
    "input",
    "workflow",
    "attempts",
    "error_kind",
    "error_message",
    "error_step",
    "error_fingerprint",
    "auto_healed",
    "queued_at",
    "started_at",
    "finished_at",
    "duration_ms",
    "created_at",
    "updated_at",
)
SECRET = "bench-secret-key-0123456789abcdef0123456789"


def _seed_accounts(engine: sa.Engine, owner_id: uuid.UUID) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Nine more accounts, and 10 agents for each of the ten: (agent, owner) pairs."""
    owners = [owner_id] + [uuid.uuid4() for _ in range(OWNERS - 1)]
    pairs = []
    with engine.begin() as conn:
        for owner in owners[1:]:
            conn.execute(
                sa.insert(User.__table__),  # type: ignore[arg-type]
                {
                    "id": owner,
                    "email": f"bench-{owner.hex[:10]}@example.com",
                    "hashed_password": "x",
                    "full_name": "Bench",
                },
            )
        for owner in owners:
            for n in range(AGENTS_PER_OWNER):
                agent = uuid.uuid4()
                conn.execute(
                    sa.insert(Agent.__table__),  # type: ignore[arg-type]
                    {
                        "id": agent,
                        "owner_id": owner,
                        "template_slug": TEMPLATES[n % len(TEMPLATES)],
                        "name": f"agent {n}",
                        "config": {},
                        "trigger": {"type": "manual"},
                        "status": "active",
                    },
                )
                pairs.append((agent, owner))
    return pairs


def _check_run_columns(engine: sa.Engine) -> None:
    """COPY fills RUN_COLUMNS; any other required column would fail it later."""
    with engine.connect() as conn:
        required = conn.execute(
            sa.text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'runs'"
                " AND is_nullable = 'NO' AND column_default IS NULL"
            )
        ).scalars()
        missing = set(required) - set(RUN_COLUMNS)
    if missing:
        raise SystemExit(f"bench.analytics: runs has required columns it does not fill: {missing}")


def _runs(
    rng: random.Random, pairs: list[tuple[uuid.UUID, uuid.UUID]], count: int, now: datetime
) -> list[FinishedRun]:
    slugs = {
        agent: TEMPLATES[index % AGENTS_PER_OWNER % len(TEMPLATES)]
        for index, (agent, _) in enumerate(pairs)
    }
    out = []
    for _ in range(count):
        agent, owner = pairs[rng.randrange(len(pairs))]
        finished = now - timedelta(seconds=rng.uniform(0, DAYS * 86400))
        roll = rng.random()
        status = (
            RunStatus.SUCCEEDED
            if roll < 0.85
            else RunStatus.FAILED
            if roll < 0.97
            else RunStatus.CANCELLED
        )
        kind = message = step = fingerprint = None
        if status is RunStatus.FAILED:
            kind, message, step = ERRORS[rng.randrange(len(ERRORS))]
            fingerprint = error_fingerprint(kind, message, step, slugs[agent])
        out.append(
            FinishedRun(
                run_id=uuid.uuid4(),
                agent_id=agent,
                owner_id=owner,
                template_slug=slugs[agent],
                status=status,
                finished_at=finished,
                duration_ms=int(rng.lognormvariate(6.5, 1.2)),
                auto_healed=rng.random() < 0.05,
                error_fingerprint=fingerprint,
                error_kind=kind,
                error_message=message,
                error_step=step,
                tokens=rng.choice((0, 0, rng.randint(100, 4000))),
            )
        )
    return out


def _copy_runs(engine: sa.Engine, finished: list[FinishedRun]) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY runs ({', '.join(RUN_COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for run in finished:
                started = run.finished_at - timedelta(milliseconds=run.duration_ms or 0)
                copy.write_row(
                    (
                        run.run_id,
                        run.agent_id,
                        run.owner_id,
                        run.template_slug,
                        "manual",
                        run.status.value,
                        "{}",
                        '{"steps": []}',
                        1,
                        run.error_kind,
                        run.error_message,
                        run.error_step,
                        run.error_fingerprint,
                        run.auto_healed,
                        started,
                        started,
                        run.finished_at,
                        run.duration_ms,
                        started,
                        run.finished_at,
                    )
                )
        raw.commit()
    finally:
        raw.close()


def _merge(total: Deltas, more: Deltas) -> None:
    for mine, theirs in ((total.agents, more.agents), (total.accounts, more.accounts)):
        for key, values in theirs.items():
            row = mine.get(key)
            if row is None:
                mine[key] = dict(values)
                continue
            for name in COUNTER_COLUMNS:
                row[name] += values[name]
            row["duration_max_ms"] = max(row["duration_max_ms"], values["duration_max_ms"])
    for key, values in more.errors.items():
        row = total.errors.get(key)
        if row is None:
            total.errors[key] = dict(values)
            continue
        row["count"] += values["count"]
        row["first_seen"] = min(row["first_seen"], values["first_seen"])
        if values["last_seen"] >= row["last_seen"]:
            for name in ("last_seen", "sample_run_id", "sample_message"):
                row[name] = values[name]
    total.fingerprints.update(more.fingerprints)


def _copy_rollups(engine: sa.Engine, deltas: Deltas) -> None:
    """Replace the rollups with the history's totals."""
    tables: list[tuple[Any, tuple[str, ...], dict[Any, dict[str, Any]]]] = [
        (AgentRollup.__table__, ("agent_id", "granularity", "bucket"), deltas.agents),
        (AccountRollup.__table__, ("owner_id", "granularity", "bucket"), deltas.accounts),
        (
            ErrorRollup.__table__,
            ("agent_id", "granularity", "bucket", "fingerprint"),
            deltas.errors,
        ),
    ]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("TRUNCATE agent_rollups, account_rollups, error_rollups")
        for table, keys, rows in tables:
            columns = [c.name for c in table.columns]
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for key, values in rows.items():
                    row = {**dict(zip(keys, key, strict=True)), **values}
                    copy.write_row(tuple(row[c] for c in columns))
        for fingerprint, meta in deltas.fingerprints.items():
            cursor.execute(
                "INSERT INTO error_fingerprints (fingerprint, error_kind, message, step,"
                " template_slug) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (
                    fingerprint,
                    meta["error_kind"],
                    meta["message"],
                    meta["step"],
                    meta["template_slug"],
                ),
            )
        raw.commit()
        # What autovacuum reaches after a bulk load: statistics and a visibility
        # map, so index-only scans (the capped run count) skip the heap.
        raw.driver_connection.autocommit = True
        cursor.execute("VACUUM (ANALYZE)")
        raw.driver_connection.autocommit = False
    finally:
        raw.close()


def _percentiles(timings: list[float]) -> tuple[float, float]:
    ordered = sorted(timings)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return statistics.median(ordered), p99


def _http_endpoints(agent_id: uuid.UUID, now: datetime) -> list[tuple[str, str, dict[str, str]]]:
    day = timedelta(days=1)
    return [
        ("overview, 7 days by day", "/api/v1/analytics/overview", {}),
        (
            "overview, 30 days by day",
            "/api/v1/analytics/overview",
            {"from": (now - 30 * day).isoformat()},
        ),
        (
            "overview, 48 h by hour",
            "/api/v1/analytics/overview",
            {"from": (now - 2 * day).isoformat(), "granularity": "hour"},
        ),
        (
            "agent analytics, 30 days",
            f"/api/v1/agents/{agent_id}/analytics",
            {"from": (now - 30 * day).isoformat()},
        ),
        ("agent analytics, CSV", f"/api/v1/agents/{agent_id}/analytics", {"format": "csv"}),
        ("agent health", f"/api/v1/agents/{agent_id}/health", {}),
        ("error groups, all time", "/api/v1/monitoring/errors", {}),
        ("error groups, one agent", "/api/v1/monitoring/errors", {"agent_id": str(agent_id)}),
        ("agent's runs, first page", f"/api/v1/agents/{agent_id}/runs", {"limit": "50"}),
        (
            "agent's failed runs",
            f"/api/v1/agents/{agent_id}/runs",
            {"status": "failed", "limit": "50"},
        ),
        ("agents list", "/api/v1/agents", {}),
    ]


def _measure_http(
    client: httpx.Client, path: str, params: dict[str, str], requests: int
) -> list[float]:
    for _ in range(10):
        assert client.get(path, params=params).status_code == 200, path
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, params=params)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.text[:200])
    return timings


def _service_calls(
    database: Database, owner_id: uuid.UUID, agent_id: uuid.UUID, now: datetime
) -> list[tuple[str, Callable[[], Awaitable[Any]]]]:
    """What the measured endpoints run, called directly (to capture their SQL)."""

    async def in_session(work: Callable[[Any], Awaitable[Any]]) -> Any:
        async with database.transaction() as session:
            return await work(session)

    async def agent(session: Any) -> Agent:
        agent_row: Agent | None = await session.get(Agent, agent_id)
        assert agent_row is not None
        return agent_row

    week = analytics.checked_range(None, None, Granularity.DAY, now)
    month = analytics.checked_range(now - timedelta(days=30), None, Granularity.DAY, now)
    hours = analytics.checked_range(now - timedelta(days=2), None, Granularity.HOUR, now)
    page = PageParams(limit=50, offset=0)

    async def agent_analytics(session: Any) -> Any:
        return await analytics.agent_analytics(session, await agent(session), month)

    async def health(session: Any) -> Any:
        return await monitoring.agent_health(session, await agent(session))

    return [
        (
            "overview, 7 days by day",
            lambda: in_session(lambda s: analytics.overview(s, owner_id, week)),
        ),
        (
            "overview, 30 days by day",
            lambda: in_session(lambda s: analytics.overview(s, owner_id, month)),
        ),
        (
            "overview, 48 h by hour",
            lambda: in_session(lambda s: analytics.overview(s, owner_id, hours)),
        ),
        ("agent analytics, 30 days", lambda: in_session(agent_analytics)),
        ("agent health", lambda: in_session(health)),
        (
            "error groups, all time",
            lambda: in_session(lambda s: monitoring.error_groups(s, owner_id)),
        ),
        (
            "error groups, one agent",
            lambda: in_session(lambda s: monitoring.error_groups(s, owner_id, agent_id=agent_id)),
        ),
        (
            "agent's runs, first page",
            lambda: in_session(lambda s: runs.list_runs(s, owner_id, agent_id, page)),
        ),
        (
            "agent's failed runs",
            lambda: in_session(
                lambda s: runs.list_runs(s, owner_id, agent_id, page, status=RunStatus.FAILED)
            ),
        ),
        ("dashboard metrics (WebSocket)", lambda: dashboard_metrics(database, owner_id)),
    ]


async def _explain_and_time(
    url: str, owner_id: uuid.UUID, agent_id: uuid.UUID, requests: int
) -> tuple[dict[str, list[str]], dict[str, list[float]]]:
    """EXPLAIN of each statement the services run (sequential scans flagged), and
    in-process timings of the dashboard metrics, which has no HTTP endpoint."""
    settings = Settings(_env_file=None, database_url=url, secret_key=SECRET)  # type: ignore[call-arg]
    database = Database(settings)
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    now = datetime.now(UTC)
    plans: dict[str, list[str]] = {}
    timings: dict[str, list[float]] = {}
    try:
        for label, call in _service_calls(database, owner_id, agent_id, now):
            captured.clear()
            event.listen(database.engine.sync_engine, "before_cursor_execute", capture)
            try:
                await call()
            finally:
                event.remove(database.engine.sync_engine, "before_cursor_execute", capture)
            statements = list(captured)
            findings = []
            async with database.engine.connect() as conn:
                # First the planner's own choice; then with sequential scans
                # disabled, where a Seq Scan left means no index serves the read.
                for forced in (False, True):
                    if forced:
                        await conn.exec_driver_sql("SET enable_seqscan = off")
                    for statement, parameters in statements:
                        plan = (
                            await conn.exec_driver_sql("EXPLAIN " + statement, parameters)
                        ).scalars()
                        findings.extend(
                            ("no index: " if forced else "") + line.strip()
                            for line in "\n".join(plan).splitlines()
                            if "Seq Scan" in line
                        )
            plans[label] = findings or [f"index scans only ({len(statements)} statements)"]
            if label.startswith("dashboard"):
                for _ in range(10):
                    await call()
                timings[label] = []
                for _ in range(requests):
                    started = time.perf_counter()
                    await call()
                    timings[label].append((time.perf_counter() - started) * 1000)
    finally:
        await database.dispose()
    return plans, timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(17)
    with postgres_database(args.postgres) as url:
        env = {"DATABASE_URL": url, "WORKER_EMBEDDED": "false", "SECRET_KEY": SECRET}
        with bench_server(env) as base, httpx.Client(base_url=base, timeout=30) as client:
            email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
            body = {"email": email, "password": "bench-password-123", "full_name": "Bench"}
            owner_id = uuid.UUID(client.post("/api/v1/users", json=body).json()["id"])
            token = client.post(
                "/api/v1/auth/login", json={"email": email, "password": body["password"]}
            ).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            engine = sa.create_engine(url.replace("+psycopg", "+psycopg"))
            _check_run_columns(engine)
            pairs = _seed_accounts(engine, owner_id)
            agent_id = pairs[0][0]
            total = Deltas()
            seeded = 0
            results: dict[int, dict[str, tuple[float, float]]] = {}
            plans_by_size: dict[int, dict[str, list[str]]] = {}
            now = datetime.now(UTC)
            for size in args.sizes:
                started = time.perf_counter()
                while seeded < size:
                    chunk = _runs(rng, pairs, min(100_000, size - seeded), now)
                    _copy_runs(engine, chunk)
                    _merge(total, rollup_deltas(chunk, PRICE))
                    seeded += len(chunk)
                _copy_rollups(engine, total)
                print(
                    f"seeded {seeded:,} runs in {time.perf_counter() - started:.1f} s", flush=True
                )
                figures = {}
                for label, path, params in _http_endpoints(agent_id, datetime.now(UTC)):
                    figures[label] = _percentiles(
                        _measure_http(client, path, params, args.requests)
                    )
                plans, timings = asyncio.run(
                    _explain_and_time(url, owner_id, agent_id, args.requests)
                )
                figures.update({label: _percentiles(t) for label, t in timings.items()})
                results[size] = figures
                plans_by_size[size] = plans
                for label, (p50, p99) in figures.items():
                    print(f"  {label:32} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms", flush=True)
            engine.dispose()
    _report(args.sizes, results, plans_by_size)


def _report(
    sizes: list[int],
    results: dict[int, dict[str, tuple[float, float]]],
    plans: dict[int, dict[str, list[str]]],
) -> None:
    print("\n| endpoint | " + " | ".join(f"{s:,} runs p50 / p99 (ms)" for s in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for label in results[sizes[0]]:
        cells = [f"{results[s][label][0]:.1f} / {results[s][label][1]:.1f}" for s in sizes]
        print(f"| {label} | " + " | ".join(cells) + " |")
    first, last = sizes[0], sizes[-1]
    worst = max(results[last][k][1] / results[first][k][1] for k in results[first])
    slowest = max(p99 for _, p99 in results[last].values())
    print(f"\nworst p99 ratio {last:,} / {first:,} runs: {worst:.2f} (target <= 2)")
    print(f"slowest p99 at {last:,} runs: {slowest:.1f} ms (target < 50 ms)")
    print(f"\nEXPLAIN at {last:,} runs:")
    for label, findings in plans[last].items():
        for finding in findings:
            print(f"  {label:32} {finding}")
    unserved = sum(f.startswith("no index: ") for found in plans[last].values() for f in found)
    print(f"with enable_seqscan off, sequential scans left (reads no index serves): {unserved}")


if __name__ == "__main__":
    main()
