"""Queue throughput: `botskis worker` processes against a reference no-op queue,
on the same PostgreSQL database, in the same run.

* reference: a table of jobs and N processes, each with C connections, each
  looping "claim one job (`UPDATE ... WHERE id = (SELECT ... ORDER BY id LIMIT 1
  FOR UPDATE SKIP LOCKED)`, one transaction), finish it (one transaction)".
* ours: N `botskis worker` processes (WORKER_CONCURRENCY=C) draining queued
  runs spread over 50 agents of 50 owners, with one of two workflows: `pure`
  (transform, filter, transform: no side effects) or `http` (one http POST to a
  local server that answers after 50 ms: I/O-bound).
* backlog: the drain is timed over the first `--runs` runs of a queue that
  holds `--backlog` runs in all (the rest are queued behind them), so a claim
  that grew with the backlog would show as a lower rate.

Usage:
  .venv/bin/python -m bench.queue --postgres URL [--runs 1000] [--backlog 1000 100000]
      [--workers 1 2] [--workflow pure http] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from bench.runs import THREE_STEPS, _migrate, postgres_database

AGENTS = 50
SECRET = "bench-secret-key-0123456789abcdef01234567"


class _SlowSink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(0.05)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def slow_sink() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowSink)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def _workflow(kind: str, sink_url: str) -> dict[str, Any]:
    if kind == "pure":
        return THREE_STEPS
    return {
        "steps": [
            {"id": "call", "kind": "http", "params": {"method": "POST", "url": f"{sink_url}/x"}}
        ]
    }


def _libpq(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False)


def _seed(url: str, backlog: int, workflow: dict[str, Any]) -> None:
    """50 owners with one agent each (no per-agent or per-owner limit binds) and
    `backlog` queued runs, oldest first in round-robin over the agents."""
    import json

    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("DELETE FROM runs")
        conn.execute("DELETE FROM agents")
        conn.execute("DELETE FROM users")
        conn.execute(
            "INSERT INTO users (id, email, hashed_password, full_name, is_active, is_superuser,"
            " plan, token_version, created_at, updated_at)"
            " SELECT gen_random_uuid(), 'bench' || n || '@example.com', 'x', 'Bench', true,"
            " false, 'enterprise', 0, now(), now() FROM generate_series(1, %s) AS n",
            (AGENTS,),
        )
        conn.execute(
            "INSERT INTO agents (id, owner_id, template_slug, name, config, trigger, status,"
            " max_concurrent_runs, timeout_seconds, total_runs, successful_runs, failed_runs,"
            " consecutive_failures, created_at, updated_at)"
            " SELECT gen_random_uuid(), id, 'bench', 'bench', '{}', '{\"type\": \"manual\"}',"
            " 'active', 1000, 900, 0, 0, 0, 0, now(), now() FROM users"
        )
        conn.execute(
            "WITH a AS (SELECT id, owner_id, row_number() OVER (ORDER BY id) - 1 AS k"
            " FROM agents)"
            " INSERT INTO runs (id, agent_id, owner_id, template_slug, trigger, status, input,"
            " workflow, attempts, auto_healed, queued_at, created_at, updated_at)"
            " SELECT gen_random_uuid(), a.id, a.owner_id, 'bench', 'manual', 'queued',"
            " json_build_object('n', n), %s::json, 0, false,"
            " now() - interval '1 hour' + n * interval '1 microsecond', now(), now()"
            " FROM generate_series(0, %s - 1) AS n JOIN a ON a.k = n %% %s",
            (json.dumps(workflow), backlog, AGENTS),
        )
        conn.execute("VACUUM ANALYZE runs")


def _ours(url: str, runs: int, backlog: int, workers: int, concurrency: int, wf: Any) -> float:
    """Runs/s over the first `runs` runs of a `backlog`-run queue."""
    _seed(url, backlog, wf)
    with tempfile.TemporaryDirectory(prefix="botskis-bench-") as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "LOG_DIR": str(Path(tmp) / "logs"),
            "LOG_LEVEL": "WARNING",
            "WORKER_CONCURRENCY": str(concurrency),
            "USER_MAX_CONCURRENT_RUNS": "1000",
            "HTTP_ALLOWLIST": "127.0.0.1",
        }
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "botskis.cli", "worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        try:
            with psycopg.connect(_libpq(url), autocommit=True) as conn:
                started, first = None, 0
                while True:
                    done = conn.execute(
                        "SELECT count(*) FROM runs WHERE status IN ('succeeded', 'failed')"
                    ).fetchone()
                    finished = done[0] if done else 0
                    if started is None and finished > 0:
                        # Timed from the first finished run: start-up is not the queue.
                        started, first = time.perf_counter(), finished
                    if finished >= runs:
                        break
                    time.sleep(0.01)
                elapsed = time.perf_counter() - (started or 0)
                failed = conn.execute("SELECT count(*) FROM runs WHERE status = 'failed'")
                row = failed.fetchone()
                assert row is not None and row[0] == 0, "runs failed"
            return (finished - first) / elapsed
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)


def _reference_process(url: str, concurrency: int, stop_at: float, counts: Any) -> None:
    async def loop() -> int:
        done = 0
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            while time.perf_counter() < stop_at:
                async with conn.transaction():
                    cur = await conn.execute(
                        "UPDATE ref_jobs SET status = 'running' WHERE id = (SELECT id FROM"
                        " ref_jobs WHERE status = 'queued' ORDER BY id LIMIT 1"
                        " FOR UPDATE SKIP LOCKED) RETURNING id"
                    )
                    row = await cur.fetchone()
                if row is None:
                    break
                async with conn.transaction():
                    await conn.execute(
                        "UPDATE ref_jobs SET status = 'done' WHERE id = %s", (row[0],)
                    )
                done += 1
        return done

    async def main() -> int:
        return sum(await asyncio.gather(*(loop() for _ in range(concurrency))))

    counts.put(asyncio.run(main()))


def _reference(url: str, backlog: int, workers: int, concurrency: int, seconds: float) -> float:
    libpq = _libpq(url)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS ref_jobs")
        conn.execute("CREATE TABLE ref_jobs (id bigserial PRIMARY KEY, status text NOT NULL)")
        conn.execute("CREATE INDEX ref_jobs_queued ON ref_jobs (id) WHERE status = 'queued'")
        conn.execute(
            "INSERT INTO ref_jobs (status) SELECT 'queued' FROM generate_series(1, %s)",
            (backlog,),
        )
        conn.execute("VACUUM ANALYZE ref_jobs")
    counts: Any = multiprocessing.Queue()
    stop_at = time.perf_counter() + seconds
    procs = [
        multiprocessing.Process(
            target=_reference_process, args=(libpq, concurrency, stop_at, counts)
        )
        for _ in range(workers)
    ]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    total = sum(counts.get() for _ in procs)
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join()
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--backlog", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--workflow", nargs="+", default=["pure", "http"])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--reference-seconds", type=float, default=5.0)
    args = parser.parse_args()
    with postgres_database(args.postgres) as url, slow_sink() as sink_url:
        _migrate(url)
        ref: dict[int, float] = {}
        for workers in args.workers:
            ref[workers] = _reference(
                url, max(args.backlog), workers, args.concurrency, args.reference_seconds
            )
            print(
                f"reference SKIP LOCKED queue, {workers} process(es) x {args.concurrency}"
                f" connections: {ref[workers]:.0f} jobs/s"
            )
        for kind in args.workflow:
            workflow = _workflow(kind, sink_url)
            for backlog in args.backlog:
                rates: dict[int, float] = {}
                for workers in args.workers:
                    rates[workers] = _ours(
                        url, args.runs, backlog, workers, args.concurrency, workflow
                    )
                    print(
                        f"botskis worker, {kind} workflow, backlog {backlog}, {workers} worker(s)"
                        f" x {args.concurrency}: {rates[workers]:.0f} runs/s"
                        f" ({rates[workers] / ref[workers]:.2f} of the reference)"
                    )
                if 1 in rates and 2 in rates and 1 in ref and 2 in ref:
                    gain, ref_gain = rates[2] / rates[1], ref[2] / ref[1]
                    print(
                        f"  second worker: x{gain:.2f}, reference x{ref_gain:.2f}"
                        f" (ratio {gain / ref_gain:.2f})"
                    )


if __name__ == "__main__":
    main()
