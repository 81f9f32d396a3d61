"""Mixed load from many concurrent users, against real server processes on loopback.

Each user logs in once (accounts are created before the clock starts, five users
to an account, so the starter plan's five agents suffice), deploys an agent, then
until the time is up: lists its agents, starts a run, polls the run until it is
final, and every tenth round deletes its agent and deploys a new one. A user
waits `--think` seconds between requests, as a person at a dashboard does. The
agent is the no-LLM `zapier-alternative` template posting to a local sink.

Setups:
  sqlite    one `botskis serve` as ./run.sh starts it (SQLite, embedded worker,
            BCRYPT_ROUNDS=12, LOG_LEVEL=INFO), rate limits raised (every user is
            127.0.0.1 here)
  postgres  2 API processes (`serve --workers 2`) on PostgreSQL + Redis and a
            separate `botskis worker`; the bench creates and drops its own
            database on --postgres

Bounded: --users (default 100) for --seconds (default 30), loopback only.

Usage:
  .venv/bin/python -m bench.load sqlite [--users 100] [--seconds 30] [--think 1.0]
  .venv/bin/python -m bench.load postgres --postgres URL --redis URL [...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.runs import postgres_database, sink
from bench.server_process import bench_server

PASSWORD = "bench-password-123"
USERS_PER_ACCOUNT = 5
RAMP_SECONDS = 20.0
FINAL = {"succeeded", "failed", "cancelled"}


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    runs_final: int = 0
    runs_started: int = 0


class User:
    def __init__(
        self, client: httpx.AsyncClient, email: str, results: Results, sink_url: str, think: float
    ) -> None:
        self.client = client
        self.email = email
        self.results = results
        self.sink_url = sink_url
        self.think = think
        self.headers: dict[str, str] = {}
        self.agent_id: str | None = None

    async def call(
        self, kind: str, method: str, url: str, **kwargs: object
    ) -> httpx.Response | None:
        start = time.perf_counter()
        try:
            response = await self.client.request(method, url, headers=self.headers, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError as exc:
            self.results.transport_errors[type(exc).__name__] += 1
            return None
        self.results.latencies[kind].append(time.perf_counter() - start)
        self.results.statuses[response.status_code] += 1
        return response

    async def pause(self) -> None:
        await asyncio.sleep(self.think)

    async def deploy(self) -> None:
        body = {
            "template_id": "zapier-alternative",
            "config": {"target_url": f"{self.sink_url}/hook"},
        }
        response = await self.call("deploy", "POST", "/api/v1/agents/deploy", json=body)
        self.agent_id = (
            response.json()["id"] if response is not None and response.status_code == 201 else None
        )

    async def session(self, deadline: float, arrival: float) -> None:
        await asyncio.sleep(arrival)
        login = await self.call(
            "login", "POST", "/api/v1/auth/login", json={"email": self.email, "password": PASSWORD}
        )
        if login is None or login.status_code != 200:
            return
        self.headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        await self.pause()
        await self.deploy()
        rounds = 0
        while time.monotonic() < deadline:
            rounds += 1
            await self.pause()
            await self.call("list", "GET", "/api/v1/agents")
            if self.agent_id is None:
                await self.pause()
                await self.deploy()
                continue
            await self.pause()
            started = await self.call("run", "POST", f"/api/v1/agents/{self.agent_id}/run")
            if started is not None and started.status_code == 202:
                self.results.runs_started += 1
                await self.poll(started.json()["run_id"], deadline)
            if rounds % 10 == 0:
                await self.pause()
                await self.call("delete", "DELETE", f"/api/v1/agents/{self.agent_id}")
                await self.pause()
                await self.deploy()

    async def poll(self, run_id: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            await self.pause()
            response = await self.call("poll", "GET", f"/api/v1/runs/{run_id}")
            if (
                response is not None
                and response.status_code == 200
                and response.json()["status"] in FINAL
            ):
                self.results.runs_final += 1
                return


async def _accounts(base: str, count: int) -> list[str]:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        emails = [f"load-{uuid.uuid4().hex[:10]}@example.com" for _ in range(count)]

        async def create(email: str) -> None:
            body = {"email": email, "password": PASSWORD, "full_name": "Load"}
            created = await client.post("/api/v1/users", json=body)
            assert created.status_code == 201, created.text

        for start in range(0, count, 8):
            await asyncio.gather(*(create(e) for e in emails[start : start + 8]))
        return emails


async def _load(
    bases: list[str], sink_url: str, users: int, seconds: float, think: float
) -> Results:
    emails = await _accounts(bases[0], -(-users // USERS_PER_ACCOUNT))
    results = Results()
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    clients = [httpx.AsyncClient(base_url=base, timeout=60, limits=limits) for base in bases]
    try:
        deadline = time.monotonic() + RAMP_SECONDS + seconds
        crowd = [
            User(
                clients[i % len(clients)], emails[i // USERS_PER_ACCOUNT], results, sink_url, think
            )
            for i in range(users)
        ]
        started = time.monotonic()
        await asyncio.gather(
            *(user.session(deadline, RAMP_SECONDS * i / users) for i, user in enumerate(crowd))
        )
        results.latencies["_elapsed"] = [time.monotonic() - started]
    finally:
        for client in clients:
            await client.aclose()
    return results


def _ms(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.0f}"


def report(label: str, results: Results) -> None:
    elapsed = results.latencies.pop("_elapsed")[0]
    every = [v for values in results.latencies.values() for v in values]
    mix = [v for kind, values in results.latencies.items() if kind != "login" for v in values]
    errors_5xx = sum(n for status, n in results.statuses.items() if status >= 500)
    print(f"== {label}")
    print(
        f"requests {len(every)} in {elapsed:.1f} s ({len(every) / elapsed:.0f}/s); "
        f"5xx {errors_5xx}; transport errors {sum(results.transport_errors.values())} "
        f"{dict(results.transport_errors) or ''}; statuses {dict(sorted(results.statuses.items()))}"
    )
    print(f"runs started {results.runs_started}, seen final {results.runs_final}")
    print(f"{'kind':8} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for kind in ["all", "mix", *sorted(results.latencies)]:
        values = every if kind == "all" else mix if kind == "mix" else results.latencies[kind]
        top = f"{max(values) * 1000:.0f}" if values else "-"
        print(f"{kind:8} {len(values):>6} {_ms(values, 0.5):>8} {_ms(values, 0.99):>8} {top:>8}")
    if every:
        print(f"mean {statistics.mean(every) * 1000:.0f} ms")


BASE_ENV = {
    "HTTP_ALLOWLIST": "127.0.0.1",
    "BCRYPT_ROUNDS": "12",
    "LOG_LEVEL": "INFO",
}


@contextmanager
def worker_process(env: dict[str, str]) -> Iterator[None]:
    full = {**os.environ, **env}
    log = open(Path(env["LOG_DIR"]) / "worker.out", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "botskis.cli", "worker"], env=full, stdout=log, stderr=log
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Mixed load against real server processes.")
    parser.add_argument("setup", choices=["sqlite", "postgres"])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--think", type=float, default=1.0, help="seconds between a user's requests"
    )
    parser.add_argument("--postgres", help="PostgreSQL server URL (postgres setup)")
    parser.add_argument("--redis", help="Redis URL (postgres setup)")
    parser.add_argument("--log-dir", help="keep the servers' logs here")
    parser.add_argument(
        "--ramp", type=float, default=20.0, help="seconds over which the users arrive and log in"
    )
    parser.add_argument("--bcrypt-rounds", default="12", help="BCRYPT_ROUNDS of the servers")
    args = parser.parse_args()
    if args.log_dir:
        BASE_ENV["LOG_DIR"] = args.log_dir
    BASE_ENV["BCRYPT_ROUNDS"] = args.bcrypt_rounds
    global RAMP_SECONDS
    RAMP_SECONDS = args.ramp
    assert 1 <= args.users <= 500 and 1 <= args.seconds <= 900, "stay bounded"
    with sink() as sink_url:
        if args.setup == "sqlite":
            with bench_server(BASE_ENV) as base:
                results = asyncio.run(_load([base], sink_url, args.users, args.seconds, args.think))
            report(f"embedded SQLite, {args.users} users, think {args.think} s", results)
            return
        assert args.postgres and args.redis, "postgres needs --postgres and --redis"
        with postgres_database(args.postgres) as url:
            env = {
                **BASE_ENV,
                "DATABASE_URL": url,
                "REDIS_URL": args.redis,
                "WORKER_EMBEDDED": "false",
                "RATE_LIMIT_PREFIX": f"load-{uuid.uuid4().hex[:8]}",
                "EVENTS_CHANNEL": f"load-{uuid.uuid4().hex[:8]}",
            }
            with bench_server(env, args=("--workers", "2")) as base:
                worker_env = {
                    **env,
                    "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
                    "LOG_DIR": BASE_ENV.get("LOG_DIR") or tempfile.mkdtemp(prefix="botskis-load-"),
                }
                with worker_process(worker_env):
                    results = asyncio.run(
                        _load([base], sink_url, args.users, args.seconds, args.think)
                    )
        report(f"PostgreSQL + Redis, 2 API processes + 1 worker, {args.users} users", results)


if __name__ == "__main__":
    main()
