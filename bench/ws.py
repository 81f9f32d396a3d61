"""WebSocket fan-out: delivered messages/s, publish-to-receive latency, server RSS.

One `botskis serve` (SQLite, a private non-persistent redis-server for the bus)
and, in this process, a publisher that commits events exactly like a worker on
another machine does (its own Database attached to the Redis bus). Events carry
the wall-clock time of `emit`, so latency covers commit + replay log + Redis +
hub + socket.

Phase 1: CLIENTS sockets (spread over USERS accounts) while EVENTS_PER_SECOND
events are published round-robin over the accounts; every event reaches every
socket of its account. Phase 2: IDLE sockets that only connect; the server's
RSS growth divided by the socket count is the cost of an idle socket.

Usage: .venv/bin/python -m bench.ws [--clients 1000] [--users 1] [--rate 20]
       [--seconds 20] [--idle 5000] [--postgres postgresql://user@host:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from websockets.asyncio.client import ClientConnection, connect

from bench.server_process import free_port
from botskis.config import Settings
from botskis.database.connection import Database
from botskis.realtime.bus import RedisBus
from botskis.realtime.events import emit
from botskis.realtime.sink import attach

PASSWORD = "bench-password-123"


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def start_redis() -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        try:
            redis.Redis.from_url(url).ping()
            return url, process
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def start_server(env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
    cli = [sys.executable, "-m", "botskis.cli"]
    subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True)
    port = free_port()
    process = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return base, process
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def accounts(base: str, count: int) -> list[tuple[str, str]]:
    result = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for _ in range(count):
            email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
            created = await http.post(
                "/api/v1/users", json={"email": email, "password": PASSWORD, "full_name": "B"}
            )
            login = await http.post(
                "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
            )
            result.append((created.json()["id"], login.json()["access_token"]))
    return result


async def open_sockets(
    base: str, users: list[tuple[str, str]], count: int, parallel: int = 50
) -> list[ClientConnection]:
    ws_base = base.replace("http://", "ws://")
    gate = asyncio.Semaphore(parallel)

    async def one(index: int) -> ClientConnection:
        user_id, token = users[index % len(users)]
        async with gate:
            ws = await connect(
                f"{ws_base}/ws/{user_id}?token={token}",
                ping_interval=None,
                compression=None,
                open_timeout=60,
            )
            await ws.recv()  # connected
            return ws

    return list(await asyncio.gather(*(one(i) for i in range(count))))


class LeanSocket(asyncio.Protocol):
    """A minimal receiving WebSocket client for the fan-out phase.

    The `websockets` client costs about as much CPU per message as the server
    does, so 1,000 of them in this process took a whole core and the run
    measured the bench as much as the server. This one does the opening
    handshake, parses unmasked server frames, answers pings and sends a close;
    nothing else (server messages here are small unfragmented text frames)."""

    def __init__(self, on_text: Callable[[LeanSocket, bytes], None]) -> None:
        self.on_text = on_text
        self.buffer = bytearray()
        self.open = False
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self.transport: asyncio.Transport | None = None

    @classmethod
    async def connect(
        cls, host: str, port: int, path: str, on_text: Callable[[LeanSocket, bytes], None]
    ) -> LeanSocket:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(lambda: cls(on_text), host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        assert protocol.transport is not None
        protocol.transport.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await asyncio.wait_for(protocol.opened, 60)
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the handshake"))
        if not self.done.done():
            self.done.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.open:
            end = self.buffer.find(b"\r\n\r\n")
            if end == -1:
                return
            status = bytes(self.buffer[:12])
            del self.buffer[: end + 4]
            if status != b"HTTP/1.1 101":
                self.opened.set_exception(ConnectionError(f"handshake refused: {status!r}"))
                return
            self.open = True
            self.opened.set_result(None)
        self._read_frames()

    def _read_frames(self) -> None:
        buffer, position, size = self.buffer, 0, len(self.buffer)
        while size - position >= 2:
            length, header = buffer[position + 1] & 0x7F, 2
            if length == 126:
                if size - position < 4:
                    break
                length, header = int.from_bytes(buffer[position + 2 : position + 4], "big"), 4
            elif length == 127:
                if size - position < 10:
                    break
                length, header = int.from_bytes(buffer[position + 2 : position + 10], "big"), 10
            if size - position < header + length:
                break
            opcode = buffer[position] & 0x0F
            payload = bytes(buffer[position + header : position + header + length])
            position += header + length
            if opcode == 0x1:
                self.on_text(self, payload)
            elif opcode == 0x9:
                self._send(0xA, payload)
            elif opcode == 0x8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
        del buffer[:position]

    def _send(self, opcode: int, payload: bytes) -> None:
        """Client frames are masked (RFC 6455 5.3); payloads here are under 126 bytes."""
        if self.transport is None or self.transport.is_closing():
            return
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    async def close(self) -> None:
        self._send(0x8, (1000).to_bytes(2, "big"))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.done), 5)
        if self.transport is not None:
            self.transport.close()


async def fan_out(args: argparse.Namespace, base: str, pid: int, env: dict[str, str]) -> None:
    users = await accounts(base, args.users)
    baseline = rss_kb(pid)
    arrivals: list[tuple[float, bytes]] = []
    received = 0

    def on_text(_socket: LeanSocket, payload: bytes) -> None:
        # Only the arrival time is taken here; the JSON is read after the run.
        # Parsing 20,000 messages/s in the receiving loop added the bench's own lag
        # to the latency it measures.
        nonlocal received
        if SYSTEM_UPDATE in payload:
            arrivals.append((time.time(), payload))
            received += 1

    host, port = base.removeprefix("http://").split(":")
    gate = asyncio.Semaphore(50)

    async def one(index: int) -> LeanSocket:
        user_id, token = users[index % len(users)]
        async with gate:
            return await LeanSocket.connect(
                host, int(port), f"/ws/{user_id}?token={token}", on_text
            )

    sockets = list(await asyncio.gather(*(one(i) for i in range(args.clients))))
    await asyncio.sleep(1)  # every `connected` message read
    connected_rss = rss_kb(pid)
    settings = Settings(
        _env_file=None, database_url=env["DATABASE_URL"], redis_url=env["REDIS_URL"]
    )  # type: ignore[call-arg]
    database = Database(settings)
    bus = RedisBus(env["REDIS_URL"], settings.events_channel)
    await bus.start()
    attach(database, bus)
    published = failed = 0
    peak_rss = connected_rss
    server_cpu = cpu_seconds(pid)
    own_cpu = time.process_time()
    # The bench's own collector, walking hundreds of thousands of recorded arrivals,
    # paused the receiving loop for milliseconds at a time: off while measuring.
    gc.disable()
    started = time.monotonic()
    interval = 1 / args.rate
    while time.monotonic() - started < args.seconds:
        target = started + published * interval
        await asyncio.sleep(max(0.0, target - time.monotonic()))
        user_id = uuid.UUID(users[published % len(users)][0])
        try:
            async with database.transaction() as session:
                emit(session, user_id, "system_update", data={"t": time.time(), "n": published})
        except OperationalError:
            failed += 1  # SQLite busy past its timeout: counted, not retried
        published += 1
        if published % args.rate == 0:
            peak_rss = max(peak_rss, rss_kb(pid))
    published -= failed
    expected = published * args.clients // len(users)
    drain_deadline = time.monotonic() + 10
    while received < expected and time.monotonic() < drain_deadline:
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - started
    server_cpu = cpu_seconds(pid) - server_cpu
    own_cpu = time.process_time() - own_cpu
    gc.enable()
    latencies = [at - json.loads(payload)["data"]["t"] for at, payload in arrivals]
    await asyncio.gather(*(ws.close() for ws in sockets))
    closed_by_server = [ws.close_code for ws in sockets if ws.close_code not in (None, 1000)]
    await bus.stop()
    await database.dispose()
    ms = [v * 1000 for v in latencies]
    print(f"clients={args.clients} users={args.users} rate={args.rate}/s seconds={args.seconds}")
    print(
        f"events published: {published} ({failed} failed to commit); "
        f"messages delivered: {received}/{expected}"
    )
    print(f"delivered messages/s: {received / elapsed:,.0f}")
    print(
        f"CPU over {elapsed:.1f} s: server {server_cpu:.1f} s, clients+publisher {own_cpu:.1f} s; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"sockets closed by the server (code: count): {dict(collections.Counter(closed_by_server))}"
    )
    print(
        f"publish-to-receive: p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
        f"max {max(ms):.1f} ms"
    )
    print(
        f"server RSS: {baseline / 1024:.1f} MB before sockets, "
        f"{connected_rss / 1024:.1f} MB with {args.clients} sockets, "
        f"{peak_rss / 1024:.1f} MB peak under load"
    )


async def idle(args: argparse.Namespace, base: str, pid: int) -> None:
    users = await accounts(base, max(1, args.idle // 1000))
    await asyncio.sleep(1)
    baseline = rss_kb(pid)
    sockets = await open_sockets(base, users, args.idle, parallel=100)
    await asyncio.sleep(2)
    loaded = rss_kb(pid)
    print(
        f"idle sockets: {args.idle}; server RSS {baseline / 1024:.1f} MB -> {loaded / 1024:.1f} MB; "
        f"{(loaded - baseline) / args.idle:.1f} KB per idle socket"
    )
    await asyncio.gather(*(ws.close() for ws in sockets))


SYSTEM_UPDATE = b'"type":"system_update"'


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """uvloop when present, like the server: the bench's own loop is on the hot path."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--users", type=int, default=1)
    parser.add_argument("--rate", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument(
        "--postgres",
        default=None,
        help="PostgreSQL server URL; the bench creates and drops its own database there",
    )
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = max(args.clients, args.idle) + 1000
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, needed), hard))
    redis_url, redis_process = start_redis()
    admin = None
    with tempfile.TemporaryDirectory(prefix="botskis-ws-bench-") as tmp:
        database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        if args.postgres:
            base_url = make_url(args.postgres).set(drivername="postgresql+psycopg")
            name = f"botskis_bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            database_url = base_url.set(database=name).render_as_string(hide_password=False)
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
                "LOG_DIR": str(Path(tmp) / "logs"),
                "LOG_LEVEL": "WARNING",
                "BCRYPT_ROUNDS": "4",
                "WS_MAX_PER_USER": str(max(args.clients, 1000)),
                "RATE_LIMIT_DEFAULT": "1000000/minute",
                "RATE_LIMIT_LOGIN": "1000000/minute",
                "RATE_LIMIT_SIGNUP": "1000000/minute",
                "RATE_LIMIT_USER": "1000000/minute",
            }
        )
        try:
            base, server = start_server(env)
            try:
                run_loop(fan_out(args, base, server.pid, env))
            finally:
                server.terminate()
                server.wait(timeout=30)
            if args.idle:
                base, server = start_server(env)
                try:
                    run_loop(idle(args, base, server.pid))
                finally:
                    server.terminate()
                    server.wait(timeout=30)
        finally:
            redis_process.terminate()
            redis_process.wait(timeout=10)
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
