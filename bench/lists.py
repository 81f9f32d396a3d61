"""Authenticated list endpoints against a plain FastAPI + SQLAlchemy async app,
on the same PostgreSQL database, in the same run.

The reference app has one route, one query and `response_model` serialisation:
the same 20 runs `GET /api/v1/agents/{id}/runs` returns, through the same
Pydantic schema, with no authentication, middleware or count. Our endpoints run
in `botskis serve` (WORKER_EMBEDDED=false) with their whole stack. Rounds
alternate between the servers (the machine is shared); medians are reported,
and each endpoint's req/s as a ratio to the reference's.

`--history N` gives the listed agent N runs in all (the page shows 20 of them),
so running it at 10 and at 100,000 shows whether a page stays flat in history.

Usage:
  .venv/bin/python -m bench.lists --postgres URL [--history 20] [--rounds 3]
      [--seconds 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import psycopg
from fastapi import Depends, FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from bench.http import load, raw_server
from bench.queue import _libpq
from bench.runs import postgres_database
from bench.server_process import bench_server
from botskis.runs.models import Run
from botskis.runs.schemas import Run as RunOut

reference_app = FastAPI()
_sessions: async_sessionmaker[AsyncSession] | None = None


async def _session() -> AsyncIterator[AsyncSession]:
    global _sessions
    if _sessions is None:
        _sessions = async_sessionmaker(
            create_async_engine(os.environ["BENCH_DATABASE_URL"]), expire_on_commit=False
        )
    async with _sessions() as session:
        yield session


@reference_app.get("/runs", response_model=list[RunOut])
async def reference_runs(session: Annotated[AsyncSession, Depends(_session)]) -> Any:
    agent_id = uuid.UUID(os.environ["BENCH_AGENT_ID"])
    rows = await session.scalars(
        select(Run).where(Run.agent_id == agent_id).order_by(Run.created_at.desc()).limit(20)
    )
    return rows.all()


def _seed(url: str, base: str, history: int) -> tuple[dict[str, str], str]:
    """An enterprise account with 20 agents, 20 credentials, 20 notifications and
    `history` runs of its first agent."""
    account = {"email": "lists@example.com", "password": "bench-password-123", "full_name": "B"}
    created = httpx.post(f"{base}/api/v1/users", json=account, timeout=60)
    created.raise_for_status()
    user_id = created.json()["id"]
    login = httpx.post(
        f"{base}/api/v1/auth/login",
        json={"email": account["email"], "password": account["password"]},
        timeout=60,
    )
    login.raise_for_status()
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    for n in range(20):
        credential = {"kind": "openai", "name": f"key {n}", "secret": {"api_key": f"sk-{n:030d}"}}
        httpx.post(
            f"{base}/api/v1/credentials", json=credential, headers=headers
        ).raise_for_status()
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("UPDATE users SET plan = 'enterprise' WHERE id = %s", (user_id,))
        conn.execute(
            "INSERT INTO agents (id, owner_id, template_slug, name, config, trigger, status,"
            " max_concurrent_runs, timeout_seconds, total_runs, successful_runs, failed_runs,"
            " consecutive_failures, created_at, updated_at)"
            " SELECT gen_random_uuid(), %s, 'zapier-alternative', 'agent ' || n, '{}',"
            " '{\"type\": \"manual\"}', 'active', 1, 900, 0, 0, 0, 0,"
            " now() - n * interval '1 second', now() FROM generate_series(1, 20) AS n",
            (user_id,),
        )
        row = conn.execute(
            "SELECT id FROM agents WHERE owner_id = %s ORDER BY created_at DESC LIMIT 1",
            (user_id,),
        ).fetchone()
        assert row is not None
        agent_id = str(row[0])
        conn.execute(
            "INSERT INTO runs (id, agent_id, owner_id, template_slug, trigger, status, input,"
            " workflow, attempts, auto_healed, queued_at, created_at, updated_at, started_at,"
            " finished_at, duration_ms)"
            " SELECT gen_random_uuid(), %s, %s, 'zapier-alternative', 'manual', 'succeeded',"
            " json_build_object('n', n), '{\"steps\": []}', 1, false,"
            " now() - n * interval '1 second', now() - n * interval '1 second', now(),"
            " now() - n * interval '1 second', now() - n * interval '1 second', 12"
            " FROM generate_series(1, %s) AS n",
            (agent_id, user_id, history),
        )
        conn.execute(
            "INSERT INTO notifications (id, user_id, level, title, message, created_at)"
            " SELECT gen_random_uuid(), %s, 'info', 'note ' || n, 'message ' || n,"
            " now() - n * interval '1 second' FROM generate_series(1, 20) AS n",
            (user_id,),
        )
        conn.execute("VACUUM ANALYZE")
    return headers, agent_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--history", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with postgres_database(args.postgres) as url:
        env = {"DATABASE_URL": url, "WORKER_EMBEDDED": "false", "LOG_LEVEL": "WARNING"}
        with bench_server(env) as base:
            headers, agent_id = _seed(url, base, args.history)
            os.environ["BENCH_DATABASE_URL"] = url
            os.environ["BENCH_AGENT_ID"] = agent_id
            paths = {
                "agents": "/api/v1/agents?limit=20",
                "runs": f"/api/v1/agents/{agent_id}/runs?limit=20",
                "credentials": "/api/v1/credentials?limit=20",
                "notifications": "/api/v1/notifications?limit=20",
                "marketplace": "/api/v1/marketplace/templates?limit=20",
            }
            for path in paths.values():
                httpx.get(f"{base}{path}", headers=headers, timeout=60).raise_for_status()
            with raw_server("bench.lists:reference_app") as ref_base:
                httpx.get(f"{ref_base}/runs", timeout=60).raise_for_status()
                ref: list[float] = []
                ours: dict[str, list[float]] = {name: [] for name in paths}
                failures = 0
                for _ in range(args.rounds):
                    rps, _p99, bad = asyncio.run(
                        load(ref_base, "/runs", {}, args.seconds, args.connections)
                    )
                    ref.append(rps)
                    failures += bad
                    for name, path in paths.items():
                        rps, _p99, bad = asyncio.run(
                            load(base, path, headers, args.seconds, args.connections)
                        )
                        ours[name].append(rps)
                        failures += bad
    reference = statistics.median(ref)
    print(
        f"history {args.history} runs, {args.rounds} rounds x {args.seconds} s,"
        f" {args.connections} connections, non-200: {failures}"
    )
    print(f"{'reference (FastAPI + SQLAlchemy, 20 runs)':44s}{reference:8.0f} req/s")
    for name, rates in ours.items():
        rps = statistics.median(rates)
        print(
            f"{'GET ' + paths[name].split('?')[0]:44s}{rps:8.0f} req/s  ratio {rps / reference:.2f}"
        )


if __name__ == "__main__":
    main()
