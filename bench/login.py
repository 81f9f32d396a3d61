"""Login storm vs the bcrypt ceiling, with a liveness probe watching the event loop.

Measures, in one run:
* the bcrypt limit: two threads verifying a cost-12 hash as fast as they can;
* logins/s: a saturating stream of POST /api/v1/auth/login against a real
  `botskis serve` (one process, BCRYPT_ROUNDS=12);
* the p50/p99 of GET /health probed every 20 ms during the storm — it stays
  fast only if hashing really runs off the event loop.

Usage: .venv/bin/python -m bench.login [--seconds 10] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time

import httpx
from pwdlib import PasswordHash
from pwdlib.hashers.bcrypt import BcryptHasher

from bench.server_process import bench_server

PASSWORD = "bench-password-123"


def bcrypt_limit(seconds: float, threads: int = 2, rounds: int = 12) -> float:
    hasher = PasswordHash((BcryptHasher(rounds=rounds),))
    hashed = hasher.hash(PASSWORD)
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def work(index: int) -> None:
        while time.monotonic() < stop:
            hasher.verify(PASSWORD, hashed)
            counts[index] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.monotonic() - started)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def storm(base: str, seconds: float, concurrency: int) -> tuple[float, list[float]]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        email = "bench@example.com"
        await http.post(
            "/api/v1/users", json={"email": email, "password": PASSWORD, "full_name": "Bench"}
        )
        logins = 0
        probes: list[float] = []
        stop = time.monotonic() + seconds

        async def login_loop() -> None:
            nonlocal logins
            while time.monotonic() < stop:
                response = await http.post(
                    "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
                )
                response.raise_for_status()
                logins += 1

        async def probe_loop() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=5) as probe:
                while time.monotonic() < stop:
                    started = time.perf_counter()
                    (await probe.get("/health")).raise_for_status()
                    probes.append((time.perf_counter() - started) * 1000)
                    await asyncio.sleep(0.02)

        started = time.monotonic()
        await asyncio.gather(probe_loop(), *(login_loop() for _ in range(concurrency)))
        return logins / (time.monotonic() - started), probes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    limit = bcrypt_limit(min(args.seconds, 5))
    with bench_server({"BCRYPT_ROUNDS": "12"}) as base:
        rate, probes = asyncio.run(storm(base, args.seconds, args.concurrency))
    print(f"bcrypt limit (2 threads, cost 12): {limit:8.2f} verifies/s")
    print(f"logins/s through the API:          {rate:8.2f}")
    print(f"ratio logins/limit:                {rate / limit:8.2f}  (target >= 0.85)")
    print(
        f"/health probe during storm: n={len(probes)} p50={statistics.median(probes):.2f} ms "
        f"p99={percentile(probes, 0.99):.2f} ms  (target p99 < 20 ms)"
    )


if __name__ == "__main__":
    main()
