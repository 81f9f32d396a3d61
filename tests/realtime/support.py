"""Real-time test kit: a private Redis, `botskis serve` processes, a WebSocket
client, and a publisher that commits events from the test process exactly like
a worker on another machine does (its own Database, attached to the Redis bus)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import redis
from websockets.asyncio.client import ClientConnection, connect

from botskis.agents.models import Agent
from botskis.database.connection import Database
from botskis.notifications.service import create_notification
from botskis.realtime.bus import RedisBus
from botskis.realtime.events import emit
from botskis.realtime.sink import attach
from tests.conftest import make_settings
from tests.live_server import BOTSKIS, free_port, run_cli
from tests.users.factories import DEFAULT_PASSWORD, Account

RECEIVE_TIMEOUT = 15.0
# Generous: the CI machine may be busy; this bounds a hang, it measures nothing.
STARTUP_TIMEOUT = 120.0


@contextmanager
def redis_server(port: int | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A private, non-persistent redis-server (tests may stop it; never the shared one)."""
    port = port or free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--bind",
            "127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=10)


def sign_up_live(base_url: str) -> Account:
    email = f"rt-{uuid.uuid4().hex[:10]}@example.com"
    with httpx.Client(base_url=base_url, timeout=10) as http:
        created = http.post(
            "/api/v1/users",
            json={"email": email, "password": DEFAULT_PASSWORD, "full_name": "Live"},
        )
        assert created.status_code == 201, created.text
        login = http.post("/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})
        assert login.status_code == 200, login.text
    return Account(
        id=created.json()["id"],
        email=email,
        password=DEFAULT_PASSWORD,
        token=login.json()["access_token"],
    )


def ws_url(base_url: str, user_id: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return base_url.replace("http://", "ws://") + f"/ws/{user_id}" + (f"?{query}" if query else "")


@asynccontextmanager
async def socket(base_url: str, account: Account, **kwargs: Any) -> AsyncIterator[ClientConnection]:
    """An authenticated socket whose `connected` message has been read."""
    async with connect(ws_url(base_url, account.id, token=account.token), **kwargs) as ws:
        hello = await receive(ws)
        assert hello["type"] == "connected", hello
        yield ws


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT))
    return message


async def receive_until(ws: ClientConnection, type: str) -> dict[str, Any]:
    while True:
        message = await receive(ws)
        if message["type"] == type:
            return message


async def send(ws: ClientConnection, **message: Any) -> None:
    await ws.send(json.dumps(message))


class Publisher:
    """Commits events from this process and publishes them on the Redis bus."""

    def __init__(self, database_url: str, redis_url: str, channel: str, log_dir: Path) -> None:
        settings = make_settings(database_url, log_dir, redis_url=redis_url, events_channel=channel)
        self.database = Database(settings)
        self.bus = RedisBus(redis_url, channel)

    async def __aenter__(self) -> Publisher:
        await self.bus.start()
        attach(self.database, self.bus)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.bus.stop()
        await self.database.dispose()

    async def notify(self, user_id: str, title: str, message: str = "body") -> str:
        async with self.database.transaction() as session:
            notification = await create_notification(
                session, uuid.UUID(user_id), level="info", title=title, message=message
            )
            return str(notification.id)

    async def emit(
        self, user_id: str, type: str, agent_id: str | None = None, **fields: Any
    ) -> None:
        async with self.database.transaction() as session:
            emit(
                session,
                uuid.UUID(user_id),
                type,
                agent_id=uuid.UUID(agent_id) if agent_id else None,
                **fields,
            )

    async def emit_many(self, user_id: str, count: int, type: str = "system_update") -> None:
        async with self.database.transaction() as session:
            for index in range(count):
                emit(session, uuid.UUID(user_id), type, data={"index": index})

    async def agent(self, owner_id: str, status: str = "active") -> str:
        async with self.database.transaction() as session:
            agent = Agent(
                owner_id=uuid.UUID(owner_id), template_slug="test", name="Agent", status=status
            )
            session.add(agent)
            await session.flush()
            emit(
                session,
                agent.owner_id,
                "agent_update",
                agent_id=agent.id,
                data={"status": status, "name": agent.name},
            )
            return str(agent.id)


@contextmanager
def serve_process(
    env: dict[str, str], *, migrate: bool = True
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like tests.live_server.live_server, but hands out the process so a test can stop it
    (and skips migrating a database another server already migrated)."""
    if migrate:
        migrated = run_cli(["migrate"], env)
        assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    log = open(Path(env["LOG_DIR"]).parent / f"server-{port}.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [*BOTSKIS, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            assert process.poll() is None, f"server exited; see {log.name}"
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not become healthy"
            time.sleep(0.1)
        yield base_url, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
