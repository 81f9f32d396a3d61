"""Run latency and queue throughput, against real processes.

(i) latency: POST /api/v1/agents/{id}/run -> the run is `succeeded`, seen as
    its final `run_update` on the user's WebSocket; one run at a time, against one
    `botskis serve` with its embedded worker. The agent is the no-LLM
    `zapier-alternative` template: filter, filter, transform, an http POST to a
    local sink, and a skipped notify (4 executed steps, 5 step records).
(ii) throughput: N runs of a 3-step no-LLM workflow (transform, filter,
    transform) committed to the queue at once, spread over 50 agents, executed
    by 1 or 2 `botskis worker` processes; runs/s from the commit to the last
    one finished. PostgreSQL only (SQLite has a single writer).

Usage:
  .venv/bin/python -m bench.runs latency [--runs 200] [--postgres URL]
  .venv/bin/python -m bench.runs throughput --postgres URL [--runs 1000] [--workers 1 2]

URL is a PostgreSQL server URL (postgresql+psycopg://user@host:port/db); the
bench creates and drops its own database there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.server_process import bench_server

THREE_STEPS: dict[str, Any] = {
    "steps": [
        {"id": "double", "kind": "transform", "params": {"values": {"n": "{{ input.n * 2 }}"}}},
        {
            "id": "gate",
            "kind": "filter",
            "params": {"condition": "{{ steps.double.output.n >= 0 }}"},
        },
        {
            "id": "label",
            "kind": "transform",
            "params": {"values": {"t": "{{ steps.double.output.n }}"}},
        },
    ]
}


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def sink() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    base = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"botskis_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _sync(url: str) -> str:
    return url.replace("+aiosqlite", "")


async def _account(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": "bench-password-123", "full_name": "Bench"}
    created = await client.post("/api/v1/users", json=body)
    assert created.status_code == 201
    login = await client.post(
        "/api/v1/auth/login", json={"email": email, "password": body["password"]}
    )
    return created.json()["id"], {"Authorization": f"Bearer {login.json()['access_token']}"}


async def _finished(socket: ClientConnection, run_id: str) -> str:
    """The run's final status, from its run_update events on the socket."""
    while True:
        message = json.loads(await socket.recv())
        if (
            message.get("type") == "run_update"
            and message.get("run_id") == run_id
            and message.get("status") in ("succeeded", "failed", "cancelled")
            and "step" not in message
        ):
            return str(message["status"])


async def _latency(base: str, sink_url: str, runs: int) -> list[float]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        user_id, headers = await _account(client)
        config = {"target_url": f"{sink_url}/hook"}
        deployed = await client.post(
            "/api/v1/agents/deploy",
            headers=headers,
            json={
                "template_id": "zapier-alternative",
                "config": config,
                "trigger": {"type": "manual"},
            },
        )
        assert deployed.status_code == 201, deployed.text
        agent_id = deployed.json()["id"]
        token = headers["Authorization"].removeprefix("Bearer ")
        ws_url = base.replace("http://", "ws://") + f"/ws/{user_id}"
        # The dashboard's way of seeing a run finish: its run_update on the socket,
        # sent after the commit. Polling instead would load the same process.
        async with connect(ws_url, subprotocols=[Subprotocol("bearer"), Subprotocol(token)]) as ws:
            await ws.send(json.dumps({"type": "subscribe_agent", "agent_id": agent_id}))
            timings = []
            for index in range(runs + 5):
                started = time.perf_counter()
                response = await client.post(
                    f"/api/v1/agents/{agent_id}/run", headers=headers, json={"input": {"i": index}}
                )
                assert response.status_code == 202, response.text
                status = await asyncio.wait_for(_finished(ws, response.json()["run_id"]), 30)
                assert status == "succeeded", status
                if index >= 5:  # the first runs warm caches and connections
                    timings.append((time.perf_counter() - started) * 1000)
        return timings


def _report_latency(label: str, timings: list[float]) -> None:
    ordered = sorted(timings)
    p50 = statistics.median(ordered)
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
    print(
        f"{label}: {len(ordered)} runs, POST /run -> succeeded p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )


def latency(runs: int, postgres: str | None) -> None:
    env = {
        "WORKER_EMBEDDED": "true",
        "HTTP_ALLOWLIST": "127.0.0.1",
        "USER_MAX_CONCURRENT_RUNS": "100",
    }
    with sink() as sink_url:
        with bench_server(env) as base:
            _report_latency("embedded SQLite", asyncio.run(_latency(base, sink_url, runs)))
        if postgres:
            with (
                postgres_database(postgres) as url,
                bench_server({**env, "DATABASE_URL": url}) as base,
            ):
                _report_latency("PostgreSQL", asyncio.run(_latency(base, sink_url, runs)))


def _migrate(url: str) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-secret-key-0123456789abcdef01234567",
    }
    subprocess.run(
        [sys.executable, "-m", "botskis.cli", "migrate"], env=env, check=True, capture_output=True
    )


def _queue(engine: sa.Engine, runs: int, agents: int = 50) -> None:
    """A user with `agents` agents and `runs` queued runs, committed at once."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        # One user per agent: each user's events are numbered under a row lock of
        # their own (the replay log), so one user is one serial stream.
        user_ids = [uuid.uuid4() for _ in range(agents)]
        for user_id in user_ids:
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, email, hashed_password, full_name, is_active,"
                    " is_superuser, plan, token_version, created_at, updated_at) VALUES (:id,"
                    " :email, 'x', 'Bench', true, false, 'enterprise', 0, now(), now())"
                ),
                {"id": user_id, "email": f"{user_id.hex}@example.com"},
            )
        agent_ids = [uuid.uuid4() for _ in range(agents)]
        metadata = sa.MetaData()
        agents_table = sa.Table("agents", metadata, autoload_with=conn)
        runs_table = sa.Table("runs", metadata, autoload_with=conn)
        conn.execute(
            agents_table.insert(),
            [
                {
                    "id": agent_id,
                    "owner_id": user_ids[n],
                    "template_slug": "bench",
                    "name": f"bench {n}",
                    "config": {},
                    "trigger": {"type": "manual"},
                    "status": "active",
                    "max_concurrent_runs": 1,
                    "timeout_seconds": 900,
                    "total_runs": 0,
                    "successful_runs": 0,
                    "failed_runs": 0,
                    "consecutive_failures": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for n, agent_id in enumerate(agent_ids)
            ],
        )
        conn.execute(
            runs_table.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "agent_id": agent_ids[n % agents],
                    "owner_id": user_ids[n % agents],
                    "template_slug": "bench",
                    "trigger": "manual",
                    "status": "queued",
                    "input": {"n": n},
                    "workflow": THREE_STEPS,
                    "attempts": 0,
                    "auto_healed": False,
                    "queued_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(runs)
            ],
        )
        conn.execute(sa.text("NOTIFY botskis_runs"))


def _throughput(url: str, runs: int, workers: int) -> float:
    with tempfile.TemporaryDirectory(prefix="botskis-bench-") as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": "bench-secret-key-0123456789abcdef01234567",
            "LOG_DIR": str(Path(tmp) / "logs"),
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            "WORKER_CONCURRENCY": "32",
            "USER_MAX_CONCURRENT_RUNS": "1000",
        }
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "botskis.cli", "worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(os.environ["BENCH_WORKER_LOG"], "a")  # noqa: SIM115
                if os.environ.get("BENCH_WORKER_LOG")
                else subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        engine = sa.create_engine(url)
        try:
            deadline = time.monotonic() + 30
            while True:
                with engine.connect() as conn:
                    alive = conn.scalar(sa.text("SELECT count(*) FROM workers"))
                if alive == workers:
                    break
                assert time.monotonic() < deadline, "workers did not start"
                time.sleep(0.1)
            started = time.perf_counter()
            _queue(engine, runs)
            while True:
                with engine.connect() as conn:
                    left = conn.scalar(
                        sa.text("SELECT count(*) FROM runs WHERE status IN ('queued', 'running')")
                    )
                if not left:
                    break
                time.sleep(0.01)
            elapsed = time.perf_counter() - started
            with engine.connect() as conn:
                ok = conn.scalar(sa.text("SELECT count(*) FROM runs WHERE status = 'succeeded'"))
            assert ok == runs, f"only {ok} of {runs} runs succeeded"
            with engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM runs"))
            return runs / elapsed
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=20)
            engine.dispose()


def throughput(postgres: str, runs: int, worker_counts: list[int]) -> None:
    with postgres_database(postgres) as url:
        _migrate(url)
        for workers in worker_counts:
            rate = _throughput(url, runs, workers)
            print(f"PostgreSQL, {workers} worker(s): {runs} runs at {rate:.0f} runs/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lat = sub.add_parser("latency")
    lat.add_argument("--runs", type=int, default=200)
    lat.add_argument("--postgres", default=None)
    thr = sub.add_parser("throughput")
    thr.add_argument("--runs", type=int, default=1000)
    thr.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    thr.add_argument("--postgres", required=True)
    args = parser.parse_args()
    if args.command == "latency":
        latency(args.runs, args.postgres)
    else:
        throughput(args.postgres, args.runs, args.workers)


if __name__ == "__main__":
    main()
