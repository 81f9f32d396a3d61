"""The cost of the whole edge: authenticated GET /api/v1/users/me vs a raw ASGI app.

Both servers run under the same uvicorn configuration (one worker, uvloop,
httptools, no access log of uvicorn's own, no server header) in the same run, and
are driven by the same keep-alive load generator. The botskis server runs its
full middleware stack (request id, access log at LOG_LEVEL, security headers, the
per-IP and per-user rate limits, body guard) and the real token check; only the
limits are set too high to trigger.

A third server is printed for reference, not as a target: a bare FastAPI app whose
only work is the JWT check (a `Depends` that decodes the bearer token with PyJWT),
the floor the issue compares the edge with ("about 0.11").

Usage: .venv/bin/python -m bench.http [--rounds 5] [--seconds 3] [--connections 32]
       [--log-level INFO]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, FastAPI, Header

from bench.server_process import bench_server, free_port

RAW_BODY = json.dumps(
    {
        "id": "0b6f5f36-5d6e-4a55-9a43-1d2c3f1e0a11",
        "email": "bench@example.com",
        "full_name": "Bench",
        "company": None,
        "is_active": True,
        "is_superuser": False,
        "plan": "starter",
        "created_at": "2026-11-26T12:00:00Z",
    }
).encode()


async def raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The floor: an ASGI app that answers every request with a fixed JSON body."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(RAW_BODY)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": RAW_BODY})


BENCH_SECRET = "bench-secret-key-0123456789abcdef0123456789"


def _jwt_subject(authorization: Annotated[str, Header()]) -> str:
    token = authorization.removeprefix("Bearer ")
    claims = jwt.decode(token, BENCH_SECRET, algorithms=["HS256"])
    return str(claims["sub"])


jwt_only_app = FastAPI()


@jwt_only_app.get("/me")
async def jwt_only_me(subject: Annotated[str, Depends(_jwt_subject)]) -> dict[str, Any]:
    """The reference floor: FastAPI with nothing but a JWT check."""
    return {**json.loads(RAW_BODY), "id": subject}


@contextmanager
def raw_server(app: str = "bench.http:raw_app") -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--no-proxy-headers",
            "--no-server-header",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


class _Connection(asyncio.Protocol):
    """One keep-alive connection sending the same request as soon as the last
    response is complete, recording each latency."""

    def __init__(self, request: bytes, stop_at: float, latencies: list[float]) -> None:
        self.request = request
        self.stop_at = stop_at
        self.latencies = latencies
        self.buffer = b""
        self.sent_at = 0.0
        self.failures = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.sent_at = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end == -1:
            return
        head = self.buffer[:end].lower()
        start = head.find(b"content-length:")
        stop = head.find(b"\r\n", start)
        length = int(head[start + 15 : stop if stop != -1 else len(head)])
        if len(self.buffer) < end + 4 + length:
            return
        if self.buffer[9:12] != b"200":
            self.failures += 1
        self.buffer = self.buffer[end + 4 + length :]
        self.latencies.append(time.perf_counter() - self.sent_at)
        if time.perf_counter() < self.stop_at:
            self._send()
        else:
            assert self.transport is not None
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def load(
    base: str, path: str, headers: dict[str, str], seconds: float, connections: int
) -> tuple[float, float, int]:
    host, port = base.removeprefix("http://").split(":")
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    loop = asyncio.get_running_loop()

    async def phase(duration: float) -> tuple[list[float], float, int]:
        latencies: list[float] = []
        stop_at = time.perf_counter() + duration
        protocols = []
        started = time.perf_counter()
        for _ in range(connections):
            _, protocol = await loop.create_connection(
                lambda: _Connection(request, stop_at, latencies), host, int(port)
            )
            protocols.append(protocol)
        await asyncio.gather(*(p.done for p in protocols))
        elapsed = time.perf_counter() - started
        return latencies, elapsed, sum(p.failures for p in protocols)

    await phase(1.0)  # warm-up: caches, JIT-less but code paths and pools are warm
    latencies, elapsed, failures = await phase(seconds)
    latencies.sort()
    p99 = latencies[int(0.99 * (len(latencies) - 1))] * 1000
    return len(latencies) / elapsed, p99, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3, help="per round and server")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    env = {"LOG_LEVEL": args.log_level, "WORKER_EMBEDDED": "false", "SECRET_KEY": BENCH_SECRET}
    raws: list[tuple[float, float, int]] = []
    apis: list[tuple[float, float, int]] = []
    floors: list[tuple[float, float, int]] = []
    with (
        bench_server(env) as api_base,
        raw_server() as raw_base,
        raw_server("bench.http:jwt_only_app") as floor_base,
    ):
        account = {
            "email": "bench@example.com",
            "password": "bench-password-123",
            "full_name": "Bench",
        }
        httpx.post(f"{api_base}/api/v1/users", json=account).raise_for_status()
        credentials = {k: account[k] for k in ("email", "password")}
        login = httpx.post(f"{api_base}/api/v1/auth/login", json=credentials)
        login.raise_for_status()
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        # Rounds alternate between the two servers, so a slow spell of a shared or
        # virtual machine lands on both sides instead of skewing one of them.
        for _ in range(args.rounds):
            raws.append(asyncio.run(load(raw_base, "/", auth, args.seconds, args.connections)))
            apis.append(
                asyncio.run(
                    load(api_base, "/api/v1/users/me", auth, args.seconds, args.connections)
                )
            )
            floors.append(
                asyncio.run(load(floor_base, "/me", auth, args.seconds, args.connections))
            )
    ratios = sorted(api[0] / raw[0] for raw, api in zip(raws, apis, strict=True))
    floor_ratios = sorted(f[0] / raw[0] for raw, f in zip(raws, floors, strict=True))
    print(
        f"connections={args.connections} rounds={args.rounds} x {args.seconds}s per server "
        f"LOG_LEVEL={args.log_level}"
    )
    for name, runs in (
        ("raw ASGI app:", raws),
        ("GET /api/v1/users/me:", apis),
        ("FastAPI + JWT only:", floors),
    ):
        rps = statistics.median(r[0] for r in runs)
        p99 = statistics.median(r[1] for r in runs)
        failures = sum(r[2] for r in runs)
        print(f"{name:24s}{rps:9.0f} req/s  p99 {p99:7.2f} ms  non-200: {failures}  (medians)")
    print("ratio per round:        " + " ".join(f"{r:.3f}" for r in ratios))
    print(f"ratio botskis/raw:       {statistics.median(ratios):9.3f}  (median; target >= 0.10)")
    print(
        f"ratio JWT-only/raw:      {statistics.median(floor_ratios):9.3f}  "
        "(median; the reference floor)"
    )


if __name__ == "__main__":
    main()
