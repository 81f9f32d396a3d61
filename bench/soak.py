"""Soak: the mixed load of bench/load.py for minutes on one embedded `botskis serve`
(SQLite, embedded worker), the server's resident memory sampled every 10 s. A
server that leaks grows for as long as the load lasts; a healthy one plateaus once
its caches and pools are warm.

Bounded: --users (default 20) for --minutes (default 10), loopback only.

Usage:
  .venv/bin/python -m bench.soak [--minutes 10] [--users 20] [--think 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.load import BASE_ENV, USERS_PER_ACCOUNT, Results, User, _accounts, report
from bench.runs import sink
from bench.server_process import bench_server

SAMPLE_SECONDS = 10.0


def server_pid(port: int) -> int:
    """The `botskis serve` process listening on `port` (bench_server hides it)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in args and b"--port" in args and str(port).encode() in args:
            return int(cmdline.parent.name)
    raise LookupError(f"no server on port {port}")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError("no VmRSS")


def enterprise_plan(database: Path) -> None:
    """Ten minutes of runs outlast the starter plan's monthly quota (1,000 runs
    an account), after which starts are refused with 403 and the soak would
    stop writing runs."""
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE users SET plan = 'enterprise'")


async def _soak(
    base: str, database: Path, sink_url: str, users: int, seconds: float, think: float
) -> tuple[Results, list[tuple[float, float]]]:
    pid = server_pid(int(base.rsplit(":", 1)[1]))
    emails = await _accounts(base, -(-users // USERS_PER_ACCOUNT))
    enterprise_plan(database)
    results = Results()
    samples: list[tuple[float, float]] = []
    start = time.monotonic()
    deadline = start + seconds

    async def sample() -> None:
        while time.monotonic() < deadline:
            samples.append((time.monotonic() - start, rss_mib(pid)))
            await asyncio.sleep(SAMPLE_SECONDS)

    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        crowd = [
            User(client, emails[i // USERS_PER_ACCOUNT], results, sink_url, think)
            for i in range(users)
        ]
        sampler = asyncio.create_task(sample())
        await asyncio.gather(
            *(user.session(deadline, 5.0 * i / users) for i, user in enumerate(crowd))
        )
        await sampler
    results.latencies["_elapsed"] = [time.monotonic() - start]
    return results, samples


def main() -> None:
    parser = argparse.ArgumentParser(description="Mixed load for minutes, RSS every 10 s.")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--think", type=float, default=0.5)
    args = parser.parse_args()
    assert 0.5 <= args.minutes <= 30 and 1 <= args.users <= 200, "stay bounded"
    with (
        tempfile.TemporaryDirectory(prefix="botskis-soak-") as tmp,
        sink() as sink_url,
        bench_server({**BASE_ENV, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/soak.db"}) as base,
    ):
        results, samples = asyncio.run(
            _soak(base, Path(tmp) / "soak.db", sink_url, args.users, args.minutes * 60, args.think)
        )
    report(f"soak: embedded SQLite, {args.users} users, {args.minutes} min", results)
    print("t (s)  RSS (MiB)")
    for elapsed, rss in samples:
        print(f"{elapsed:5.0f}  {rss:8.1f}")
    third = max(1, len(samples) // 3)
    middle = statistics.mean(r for _, r in samples[third : 2 * third] or samples)
    last = statistics.mean(r for _, r in samples[-third:])
    print(
        f"RSS mean, middle third {middle:.1f} MiB, last third {last:.1f} MiB "
        f"({(last - middle) / middle * 100:+.1f}%); peak {max(r for _, r in samples):.1f} MiB"
    )


if __name__ == "__main__":
    main()
