from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.databases import throwaway_database
from tests.live_server import run_cli, server_env
from tests.realtime.support import Publisher, redis_server, serve_process


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A private redis-server: the restart test stops its own, never this or the shared one."""
    with redis_server() as (url, _process):
        yield url


@pytest.fixture(scope="session")
def live_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database for every real-time server process."""
    tmp = tmp_path_factory.mktemp("rt-db")
    with throwaway_database(tmp, "rt") as url:
        migrated = run_cli(["migrate"], server_env(url, tmp / "logs"))
        assert migrated.returncode == 0, migrated.stderr
        yield url


@pytest.fixture(scope="session")
def channel() -> str:
    return f"test-events-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def deployment_prefix() -> str:
    """One Redis key prefix for both API processes, as in one deployment: they share
    rate-limit counters, token-cache invalidations and the per-user socket count."""
    return f"rt-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def server_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rt-server") / "logs"


@pytest.fixture(scope="session")
def server(
    live_db: str, redis_url: str, channel: str, server_logs: Path, deployment_prefix: str
) -> Iterator[str]:
    """One `botskis serve` shared by the real-time tests (each uses its own accounts):
    a small send queue and 3 sockets per user."""
    env = server_env(
        live_db,
        server_logs,
        REDIS_URL=redis_url,
        EVENTS_CHANNEL=channel,
        RATE_LIMIT_PREFIX=deployment_prefix,
        WS_MAX_PER_USER="3",
        WS_SEND_QUEUE="16",
        HTTP_ALLOWLIST="127.0.0.1",
    )
    with serve_process(env, migrate=False) as (base, _process):
        yield base


@pytest.fixture(scope="session")
def second_server(
    live_db: str,
    redis_url: str,
    channel: str,
    tmp_path_factory: pytest.TempPathFactory,
    deployment_prefix: str,
) -> Iterator[str]:
    """Another API process on the same database and bus; it pings every second,
    so a peer that never answers is dropped quickly."""
    env = server_env(
        live_db,
        tmp_path_factory.mktemp("rt-second") / "logs",
        REDIS_URL=redis_url,
        EVENTS_CHANNEL=channel,
        RATE_LIMIT_PREFIX=deployment_prefix,
        WS_PING_INTERVAL="1",
        WS_PING_TIMEOUT="1",
    )
    with serve_process(env, migrate=False) as (base, _process):
        yield base


@pytest.fixture
async def publisher(
    live_db: str, redis_url: str, channel: str, tmp_path: Path
) -> AsyncIterator[Publisher]:
    async with Publisher(live_db, redis_url, channel, tmp_path / "logs") as worker:
        yield worker
